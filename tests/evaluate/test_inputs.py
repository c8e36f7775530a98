"""The input metric on the planted digit feature with scripted positives and negatives."""

from __future__ import annotations

import pytest
from scripted import ScriptedLLM

from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup
from sage_nb.evaluate.inputs import InputScorer

DIGITS = [
    "The shop opened 12 new branches across the country.",
    "In 2024 the river flooded the lower town twice.",
    "Flight 451 was delayed by the storm last night.",
    "We waited 7 days for the letter to arrive.",
    "He counted 30 sheep before he fell asleep.",
]
UNRELATED = [
    "The cat slept all afternoon by the window.",
    "A quiet walk along the beach cleared her mind.",
    "See you on Monday at the usual place.",
    "Rain fell softly on the old tin roof.",
    "They painted the fence a pale shade of green.",
]
CANDIDATE = Candidate(2, "baseline", "Fires on digits in numbers.", ["digits"])


def lists_policy(positives: list[str], negatives: list[str], seen: list[str] | None = None):
    def policy(role, messages, request):
        assert role == "input"
        if seen is not None:
            seen.append(messages[-1]["content"])
        return {"positives": positives, "negatives": negatives}

    return policy


def mean_max(planted, feature: int, texts: list[str]) -> float:
    return sum(planted.measure(t, feature).max_act for t in texts) / len(texts)


def test_digit_positives_beat_unrelated_negatives(planted, digit):
    llm = ScriptedLLM(lists_policy(DIGITS, UNRELATED))
    score = InputScorer().score(CANDIDATE, EvalSetup(planted, llm, digit))
    pos, neg = mean_max(planted, digit.index, DIGITS), mean_max(planted, digit.index, UNRELATED)
    assert pos > neg == 0.0
    assert score.value == 1.0 and score.metric == "input" and score.explainer == "baseline"
    assert score.n == 10 and llm.calls == ["input"]
    d = score.details
    assert d["positive_mean"] == pytest.approx(pos, abs=1e-4) and d["negative_mean"] == pytest.approx(neg, abs=1e-4)
    scale = max(ex.max_act for ex in digit.top)
    assert d["gap"] == pytest.approx(pos - neg, abs=1e-4) and d["gap_fraction"] == pytest.approx((pos - neg) / scale)
    assert [row["text"] for row in d["positives"]] == DIGITS and [row["text"] for row in d["negatives"]] == UNRELATED


def test_swapped_lists_score_zero_and_ties_are_not_a_win(planted, digit):
    swapped = InputScorer().score(CANDIDATE, EvalSetup(planted, ScriptedLLM(lists_policy(UNRELATED, DIGITS)), digit))
    assert swapped.value == 0.0 and swapped.details["gap"] < 0
    tie = InputScorer(n=2).score(
        CANDIDATE, EvalSetup(planted, ScriptedLLM(lists_policy(UNRELATED[:2], UNRELATED[2:4])), digit)
    )
    assert tie.value == 0.0 and tie.details["gap"] == 0.0


def test_representation_switch_changes_what_the_llm_sees(planted, digit):
    seen: list[str] = []
    for representation in ("description", "labels"):
        setup = EvalSetup(
            planted, ScriptedLLM(lists_policy(DIGITS, UNRELATED, seen)), digit, representation=representation
        )
        InputScorer().score(CANDIDATE, setup)
    assert "'Fires on digits in numbers.'" in seen[0] and "'digits'" in seen[1]
    assert "Fires on" not in seen[1]


def test_duplicates_and_texts_in_both_lists_are_dropped(planted, digit):
    positives = [DIGITS[0], DIGITS[0].upper(), DIGITS[1], UNRELATED[0], DIGITS[2]]
    negatives = [UNRELATED[0], UNRELATED[1], "      ", UNRELATED[2], UNRELATED[3]]
    score = InputScorer().score(CANDIDATE, EvalSetup(planted, ScriptedLLM(lists_policy(positives, negatives)), digit))
    assert [r["text"] for r in score.details["positives"]] == DIGITS[:3]
    assert [r["text"] for r in score.details["negatives"]] == UNRELATED[1:4]
    assert "positives: dropped 1 duplicate text(s)" in score.notes
    assert "negatives: dropped 1 empty text(s)" in score.notes
    assert "dropped 1 text(s) given as both positive and negative" in score.notes
    assert score.n == 6 and score.value == 1.0


def test_copies_of_the_worked_example_are_dropped_from_both_lists(planted, digit):
    positives = [*DIGITS[:3], "The cat slept on the warm floor"]
    negatives = [*UNRELATED[:3], "We paid the bill and went home early!"]
    score = InputScorer(n=4).score(
        CANDIDATE, EvalSetup(planted, ScriptedLLM(lists_policy(positives, negatives)), digit)
    )
    assert [r["text"] for r in score.details["positives"]] == DIGITS[:3]
    assert [r["text"] for r in score.details["negatives"]] == UNRELATED[:3]
    assert {"positives: dropped 1 example-copying text(s)", "negatives: dropped 1 example-copying text(s)"} <= set(
        score.notes
    )


@pytest.mark.parametrize(
    "reply",
    ["{broken", {"positives": DIGITS, "negatives": UNRELATED[:2]}, {"positives": DIGITS}],
)
def test_malformed_replies_give_none_with_the_error(planted, digit, reply):
    llm = ScriptedLLM(lambda role, messages, request: reply)
    score = InputScorer().score(CANDIDATE, EvalSetup(planted, llm, digit))
    assert score.value is None and score.n == 0 and score.notes[0].startswith("LLM reply failed:")


def test_an_empty_side_gives_none(planted, digit):
    score = InputScorer(n=2).score(
        CANDIDATE, EvalSetup(planted, ScriptedLLM(lists_policy(DIGITS[:2], DIGITS[:2])), digit)
    )
    assert score.value is None and "no usable" in score.notes[-1]


def test_request_shape(planted, digit):
    requests = []

    def policy(role, messages, request):
        requests.append(request)
        return {"positives": DIGITS[:3], "negatives": UNRELATED[:3]}

    InputScorer(n=3).score(CANDIDATE, EvalSetup(planted, ScriptedLLM(policy), digit))
    assert requests[0].schema is prompts.input_schema(3) and requests[0].max_tokens == prompts.text_reply_tokens(6)
    assert "Write 3 positives and 3 negatives." in requests[0].messages[-1]["content"]
    with pytest.raises(ValueError):
        InputScorer(n=prompts.MAX_GEN_TEXTS + 1)
