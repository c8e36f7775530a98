"""Detection and fuzzing on a planted feature with scripted judges."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))
from scripted import ScriptedLLM  # noqa: E402

from sage_nb.data.records import Exemplar, FeatureData  # noqa: E402
from sage_nb.evaluate import prompts  # noqa: E402
from sage_nb.evaluate.base import Candidate, EvalSetup, Sample  # noqa: E402
from sage_nb.evaluate.detection import DetectionScorer, FuzzingScorer, active_tokens, fuzzing_items  # noqa: E402

ACTIVE = [
    "We met on Monday and again on Friday.",
    "The shop is closed on Sunday mornings.",
    "Every Tuesday we walk to the market.",
]
ZEROS = [
    "The cat slept on the warm kitchen floor.",
    "Prices rose by a few cents over the year.",
    "A dog barked at the mail carrier twice.",
    "Rain fell softly on the quiet old town.",
]
GOOD = Candidate(0, "test", "Fires on weekday names such as Monday and Friday.", ["weekday names"])
BAD = Candidate(0, "test", "Fires on animal nouns such as cat and dog.", ["animal nouns"])
WEEKDAY = re.compile(r"monday|tuesday|wednesday|thursday|friday|saturday|sunday", re.IGNORECASE)


def make_setup(planted, llm, active=ACTIVE, zeros=ZEROS, **kw: Any) -> EvalSetup:
    """An EvalSetup whose samples are ``active`` and ``zeros`` measured on the planted weekday feature."""
    feature = planted.feature("weekday").index
    samples = []
    for i, text in enumerate([*active, *zeros]):
        row = planted.measure(text, feature)
        samples.append(Sample(text, row.tokens, row.acts, "top" if row.max_act > 0 else "zero", i))
    top = Exemplar(99, [" Monday"], [8.0], 0)
    data = FeatureData(feature, 8.0, 0.01, [], [], [top])
    return EvalSetup(planted, llm, data, samples, **kw)


def prompt(messages) -> str:
    return next(m["content"] for m in messages if m["role"] == "user")


def parts(messages) -> tuple[str, str]:
    """(explanation, text) of a detection or fuzzing prompt."""
    user = prompt(messages)
    return re.search(r"Explanation: '(.*)'", user).group(1), re.search(r"Text: '(.*)'", user).group(1)


def detector(role, messages, request):
    """Says yes when the explanation is about weekdays and the text names one."""
    assert role == "detection"
    explanation, text = parts(messages)
    return {"answer": "yes" if WEEKDAY.search(explanation) and WEEKDAY.search(text) else "no"}


def fuzz_judge(role, messages, request):
    """Says yes when the explanation is about weekdays and every marked span is a weekday name."""
    assert role == "fuzzing"
    explanation, text = parts(messages)
    spans = re.findall(r"«(.*?)»", text)
    ok = bool(WEEKDAY.search(explanation)) and bool(spans) and all(WEEKDAY.fullmatch(s.strip()) for s in spans)
    return {"answer": "yes" if ok else "no"}


# -- detection ----------------------------------------------------------------------------------------------------
def test_oracle_detection_is_perfect(planted):
    llm = ScriptedLLM(detector)
    score = DetectionScorer().score(GOOD, make_setup(planted, llm))
    assert score.metric == "detection" and score.value == 1.0
    d = score.details
    assert (d["tpr"], d["tnr"], d["tp"], d["tn"], d["fp"], d["fn"]) == (1.0, 1.0, 3, 4, 0, 0)
    assert d["positives"] == 3 and d["negatives"] == 4 and score.n == 7 == len(llm.calls)
    assert [i["label"] for i in d["items"]] == [True] * 3 + [False] * 4


def test_wrong_explanation_and_yes_sayer(planted):
    wrong = DetectionScorer().score(BAD, make_setup(planted, ScriptedLLM(detector)))
    assert wrong.value == 0.5 and wrong.details["tpr"] == 0.0 and wrong.details["tnr"] == 1.0
    yes = DetectionScorer().score(GOOD, make_setup(planted, ScriptedLLM(lambda *a: {"answer": "yes"})))
    assert yes.value == 0.5 and yes.details["tpr"] == 1.0 and yes.details["tnr"] == 0.0

    def contrary(role, messages, request):
        return {"answer": "no" if detector(role, messages, request)["answer"] == "yes" else "yes"}

    assert DetectionScorer().score(GOOD, make_setup(planted, ScriptedLLM(contrary))).value == 0.0


def test_failed_calls_are_recorded_and_left_out(planted):
    def flaky(role, messages, request):
        return "no idea" if "cat" in prompt(messages) else detector(role, messages, request)

    score = DetectionScorer().score(GOOD, make_setup(planted, ScriptedLLM(flaky)))
    assert score.value == 1.0 and score.n == 6 and score.details["failed"] == 1
    failed = [i for i in score.details["items"] if i["answer"] is None]
    assert len(failed) == 1 and failed[0]["error"].startswith("not_json")
    assert any("1 of 7 calls failed" in n for n in score.notes)


def test_no_negatives_gives_no_value(planted):
    score = DetectionScorer().score(GOOD, make_setup(planted, ScriptedLLM(detector), zeros=[]))
    assert score.value is None and score.details["tpr"] == 1.0
    assert any("no answered negatives" in n for n in score.notes)


def test_the_prompt_shows_the_text_readably():
    user = prompts.detection_messages("weekday 'names'", 'He said "hi"\non Monday')[1]["content"]
    assert "Explanation: 'weekday ’names’'" in user
    assert "Text: 'He said ＂hi＂↵on Monday'" in user


# -- fuzzing ------------------------------------------------------------------------------------------------------
def test_fuzzing_marks_the_active_tokens_and_as_many_random_ones(planted):
    setup = make_setup(planted, None)
    items = fuzzing_items(setup.samples, seed=3, feature=setup.feature)
    positives = [(s, m) for s, m, label in items if label]
    negatives = [(s, m) for s, m, label in items if not label]
    assert len(positives) == len(negatives) == 3
    first, marked = positives[0]
    assert [first.tokens[i] for i in marked] == [" Monday", " Friday"]  # both at 8.0 = the sample max
    assert marked == active_tokens(first)
    tuesday, marked = positives[2]
    assert [tuesday.tokens[i] for i in marked] == [" Tuesday"]
    for (_, pos_marks), (neg, neg_marks) in zip(positives, negatives, strict=True):
        assert neg.band == "zero" and len(neg_marks) == len(pos_marks)
        assert len(set(neg_marks)) == len(neg_marks) and all(0 <= i < len(neg.tokens) for i in neg_marks)
    assert fuzzing_items(setup.samples, seed=3, feature=setup.feature) == items  # seeded
    shown = prompts.fuzzing_messages("x", first.tokens, positives[0][1])[1]["content"]
    assert "Text: 'We met on «Monday» and again on «Friday».'" in shown


def test_half_max_threshold():
    sample = Sample("abcd", ["a", "b", "c", "d"], [0.0, 4.0, 2.0, 1.9], "top", 0)
    assert active_tokens(sample) == [1, 2]
    assert active_tokens(Sample("ab", ["a", "b"], [0.0, 0.0], "zero", 1)) == []


def test_oracle_fuzzing_is_perfect_and_a_wrong_explanation_is_not(planted):
    llm = ScriptedLLM(fuzz_judge)
    score = FuzzingScorer().score(GOOD, make_setup(planted, llm))
    assert score.metric == "fuzzing" and score.value == 1.0 and score.n == 6 == len(llm.calls)
    assert all("marked" in item for item in score.details["items"])
    assert FuzzingScorer().score(BAD, make_setup(planted, ScriptedLLM(fuzz_judge))).value == 0.5


def test_fuzzing_without_zero_samples_gives_no_value(planted):
    score = FuzzingScorer().score(GOOD, make_setup(planted, ScriptedLLM(fuzz_judge), zeros=[]))
    assert score.value is None and any("no zero samples" in n for n in score.notes)


@pytest.mark.parametrize("scorer", [DetectionScorer(), FuzzingScorer()])
def test_no_samples_no_calls(planted, scorer):
    llm = ScriptedLLM(detector)
    setup = make_setup(planted, llm, active=[], zeros=[])
    score = scorer.score(GOOD, setup)
    assert score.value is None and score.n == 0 and not llm.calls
