"""Simulation scoring on planted features with scripted simulators (and one slow run of the local model)."""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))
from scripted import ScriptedLLM  # noqa: E402

from sage_nb.core.text import unvisible  # noqa: E402
from sage_nb.data.records import Exemplar, FeatureData  # noqa: E402
from sage_nb.evaluate import prompts  # noqa: E402
from sage_nb.evaluate.base import Candidate, EvalSetup, Sample, held_out_samples  # noqa: E402
from sage_nb.evaluate.simulation import (  # noqa: E402
    SimulationScorer,
    expected_values,
    number_spans,
    pearson,
    value_distribution,
)
from sage_nb.llm.base import LLMBackend, Reply, TokenLogprob  # noqa: E402

ACTIVE = [
    "We met on Monday and again on Friday.",
    "The shop is closed on Sunday mornings.",
    "Every tuesday we walk to the market.",
    "See you Sat at noon, or on Wednesday.",
]
ZEROS = ["The cat slept on the warm kitchen floor.", "Prices rose by a few cents over the year."]
GOOD = Candidate(0, "test", "Fires on weekday names such as Monday and Friday.", ["weekday names"])
BAD = Candidate(0, "test", "Fires on the word the.", ["the word the"])


def make_setup(planted, llm, name: str = "weekday", active=ACTIVE, zeros=ZEROS, **kw: Any) -> EvalSetup:
    """An EvalSetup whose samples are ``active`` and ``zeros`` measured on a planted feature."""
    feature = planted.feature(name).index
    samples = []
    for i, text in enumerate([*active, *zeros]):
        row = planted.measure(text, feature)
        samples.append(Sample(text, row.tokens, row.acts, "top" if row.max_act > 0 else "zero", i))
    top = max(samples, key=lambda s: s.max_act)
    peak = top.acts.index(top.max_act)
    data = FeatureData(feature, top.max_act, 0.01, [], [], [Exemplar(99, top.tokens, top.acts, peak)])
    return EvalSetup(planted, llm, data, samples, **kw)


_LINE = re.compile(r"^\d+ '(.*)'$", re.MULTILINE)


def prompt(messages) -> str:
    """The first user message (the question; later ones are repair turns)."""
    return next(m["content"] for m in messages if m["role"] == "user")


def listed_tokens(messages) -> list[str]:
    """The tokens of an all-at-once prompt, back as text."""
    return [unvisible(t).replace("’", "'") for t in _LINE.findall(prompt(messages))]


def explanation(messages) -> str:
    return re.search(r"Explanation: '(.*)'", prompt(messages)).group(1)


def oracle(planted, name: str = "weekday", scale: float = 8.0, invert: bool = False):
    """A simulator that knows the planted rule and applies it when the explanation names the feature."""
    feature = planted.feature(name)
    the = re.compile(r"^\s*[Tt]he$")

    def predict(tokens: list[str], text: str) -> list[int]:
        if feature.matches(text):
            values = [min(10, round(10 * a / scale)) for a in feature.activate(tokens)]
        else:
            values = [10 if the.match(t) else 0 for t in tokens]
        return [10 - v for v in values] if invert else values

    def policy(role, messages, request):
        assert role == "simulation"
        return {"activations": predict(listed_tokens(messages), explanation(messages))}

    return policy


# -- the rendering and the schema ---------------------------------------------------------------------------------
def test_prompt_numbers_every_token_and_schema_fixes_the_length():
    tokens = ["See", " you", " on", " Monday", ".\n"]
    user = prompts.simulation_messages("weekday names", tokens)[1]["content"]
    assert "0 'See'\n1 '␣you'\n2 '␣on'\n3 '␣Monday'\n4 '.↵'" in user
    schema = prompts.simulation_schema(5)
    assert schema.model_validate({"activations": [0, 0, 0, 10, 0]})
    for bad in ([0, 0, 0, 10], [0, 0, 0, 10, 0, 0], [0, 0, 0, 11, 0]):
        with pytest.raises(ValueError):
            schema.model_validate({"activations": bad})


# -- oracle, inverted and constant simulators -------------------------------------------------------------------
def test_oracle_simulator_correlates_near_one(planted):
    setup = make_setup(planted, ScriptedLLM(oracle(planted)))
    score = SimulationScorer().score(GOOD, setup)
    assert score.metric == "simulation" and score.explainer == "test"
    assert score.value is not None and score.value > 0.95
    assert score.n == sum(len(s.tokens) for s in setup.samples)
    assert score.details["method"] == "integers"  # the scripted backend gives no logprobs
    assert any("no logprobs" in n for n in score.notes)
    contexts = score.details["contexts"]
    assert len(contexts) == len(ACTIVE) + len(ZEROS) and score.details["calls"] == len(contexts)
    assert all(c["correlation"] > 0.95 for c in contexts if c["band"] != "zero")
    assert all(c["correlation"] is None for c in contexts if c["band"] == "zero")  # constant true activations
    assert score.details["mean_context_correlation"] > 0.95
    assert max(max(c["true"]) for c in contexts) == 10.0  # normalised by the feature's scale


def test_wrong_explanation_and_inverted_simulator_score_low(planted):
    wrong = SimulationScorer().score(BAD, make_setup(planted, ScriptedLLM(oracle(planted))))
    assert wrong.value is not None and wrong.value < 0.3
    inverted = SimulationScorer().score(GOOD, make_setup(planted, ScriptedLLM(oracle(planted, invert=True))))
    assert inverted.value is not None and inverted.value < -0.9


def test_constant_predictions_give_no_value_with_a_note(planted):
    def zeros(role, messages, request):
        return {"activations": [0] * len(listed_tokens(messages))}

    score = SimulationScorer().score(GOOD, make_setup(planted, ScriptedLLM(zeros)))
    assert score.value is None
    assert any("predictions are constant" in n for n in score.notes)


def test_wrong_length_reply_is_recorded_not_fatal(planted):
    good = oracle(planted)

    def short_on_sunday(role, messages, request):
        reply = good(role, messages, request)
        if "Sunday" in prompt(messages):
            reply["activations"] = reply["activations"][:-1]
        return reply

    llm = ScriptedLLM(short_on_sunday)
    score = SimulationScorer().score(GOOD, make_setup(planted, llm))
    assert score.details["failed"] == 1
    failed = [c for c in score.details["contexts"] if c["method"] == "failed"]
    assert len(failed) == 1 and failed[0]["errors"] and "invalid" in failed[0]["errors"][0]
    assert failed[0]["predicted_tokens"] == 0
    assert any("1 of 6 samples failed" in n for n in score.notes)
    assert score.value is not None and score.value > 0.95  # the other samples still count
    assert len(llm.calls) == 6 + 1  # one repair turn for the short reply


def test_logprobs_false_uses_integers_and_asks_for_none(planted):
    seen = []
    policy = oracle(planted)

    def recording(role, messages, request):
        seen.append(request.logprobs)
        return policy(role, messages, request)

    score = SimulationScorer(logprobs=False).score(GOOD, make_setup(planted, ScriptedLLM(recording)))
    assert set(seen) == {None}
    assert score.details["method"] == "integers" and any("not requested" in n for n in score.notes)


def test_held_out_samples_of_a_mined_feature(planted):
    from eval_samples import mined_feature_data

    index, data = mined_feature_data(planted, "digit")
    samples = held_out_samples(planted, index, data.index, active=6, zeros=3)
    setup = EvalSetup(planted, ScriptedLLM(oracle(planted, "digit", scale=data.top[0].max_act)), data, samples)
    score = SimulationScorer().score(Candidate(data.index, "test", "Fires on digits in numbers."), setup)
    assert any(s.band == "zero" for s in samples) and any(s.active for s in samples)
    assert score.value is not None and score.value > 0.9


# -- per-token mode -----------------------------------------------------------------------------------------------
def token_oracle(planted, name: str = "weekday", scale: float = 8.0):
    feature = planted.feature(name)

    def policy(role, messages, request):
        assert role == "simulation_token"
        text = re.search(r"Text: '(.*)'\n", prompt(messages)).group(1)
        before, rest = text.split("«", 1)
        marked, after = rest.split("»", 1)
        acts = feature.activate([before, marked, after]) if feature.matches(explanation(messages)) else [0, 0, 0]
        return {"activation": min(10, round(10 * acts[1] / scale))}

    return policy


def test_per_token_mode_one_call_per_token(planted):
    llm = ScriptedLLM(token_oracle(planted))
    setup = make_setup(planted, llm)
    score = SimulationScorer(mode="per_token").score(GOOD, setup)
    tokens = sum(len(s.tokens) for s in setup.samples)
    assert len(llm.calls) == tokens == score.details["calls"] == score.n
    assert score.details["mode"] == "per_token" and score.value is not None and score.value > 0.95


def test_per_token_mode_respects_max_calls(planted):
    llm = ScriptedLLM(token_oracle(planted))
    setup = make_setup(planted, llm)
    score = SimulationScorer(mode="per_token", max_calls=30).score(GOOD, setup)
    assert len(llm.calls) <= 30 and score.details["calls"] == len(llm.calls)
    bands = {c["band"] for c in score.details["contexts"]}
    assert bands == {"top", "zero"}  # activating and zero samples alternate
    assert any("skipped" in n for n in score.notes)


def test_no_samples_no_calls(planted):
    llm = ScriptedLLM(oracle(planted))
    setup = make_setup(planted, llm)
    setup.samples = []
    for mode in ("all_at_once", "per_token"):
        score = SimulationScorer(mode=mode).score(GOOD, setup)
        assert score.value is None and score.n == 0 and any("no held-out samples" in n for n in score.notes)
    assert not llm.calls


def test_bad_options_raise():
    with pytest.raises(ValueError):
        SimulationScorer(mode="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        SimulationScorer(max_calls=0)


# -- expected values from logprobs ----------------------------------------------------------------------------------
def lp(*pairs: tuple[str, float]) -> tuple[tuple[str, float], ...]:
    return tuple((t, math.log(p)) for t, p in pairs)


def token(text: str, p: float = 1.0, *alternatives: tuple[str, float]) -> TokenLogprob:
    return TokenLogprob(text, math.log(p), lp((text, p), *alternatives) if alternatives else ())


#: '{"activations": [0, 10, 3]}' as tokens: '1' '0' for ten (SmolLM2), ', 3' merges a separator and a digit.
REPLY = '{"activations": [0, 10, 3]}'
REPLY_LOGPROBS = [
    token('{"activations": ['),
    token("0", 0.5, ("5", 0.5)),  # -> 2.5
    token(", "),
    token("1", 0.8, ("2", 0.2)),  # '1' then '0' with 0.75: P(10)=0.6, P(1)=0.2, P(2)=0.2 -> 6.6
    token("0", 0.75, (",", 0.25)),
    token(", 3", 0.5, (", 4", 0.5), ("]", 0.1)),  # prefix ', ' kept; ']' is no number -> 3.5
    token("]}"),
]


def test_expected_values_on_hand_made_logprobs():
    assert number_spans(REPLY, "activations") == [(17, 18), (20, 22), (24, 25)]
    values, why = expected_values(REPLY, REPLY_LOGPROBS, "activations", [0, 10, 3])
    assert why is None
    assert values == pytest.approx([2.5, 6.6, 3.5])


def test_a_one_that_is_only_an_alternative_counts_as_one():
    logprobs = [token('{"activation": '), token("3", 0.6, ("1", 0.4)), token("}")]
    dist = value_distribution(logprobs, 1)
    assert dist == pytest.approx({3: 0.6, 1: 0.4})
    one = [token('{"activation": '), token("1", 0.5, ("3", 0.5)), token("}", 0.9, ("0", 0.1))]
    assert value_distribution(one, 1) == pytest.approx({1: 0.45, 10: 0.05, 3: 0.5})
    assert expected_values('{"activation": 1}', one, "activation", [1])[0] == pytest.approx([0.45 + 0.5 + 1.5])


def test_misaligned_logprobs_are_reported():
    values, why = expected_values(REPLY, REPLY_LOGPROBS[:-1], "activations", [0, 10, 3])
    assert values is None and "do not spell" in why
    values, why = expected_values(REPLY, REPLY_LOGPROBS, "activations", [0, 9, 3])
    assert values is None and "could not be found" in why


class LogprobLLM(LLMBackend):
    """A test backend that answers every call with a fixed reply and its logprobs."""

    name = "logprob-test"

    def __init__(self, text: str, logprobs: list[TokenLogprob] | None) -> None:
        super().__init__("logprob-test", max_workers=1)
        self.text, self.logprobs = text, logprobs
        self.requests = []

    def _turn(self, messages, request) -> Reply:
        self.requests.append(request)
        return Reply(text=self.text, finish_reason="stop", logprobs=self.logprobs)


def three_token_setup(planted, llm) -> EvalSetup:
    return make_setup(planted, llm, active=["On Monday."], zeros=[])  # tokens 'On', ' Monday', '.'


def test_scorer_uses_the_expected_values_when_the_backend_gives_logprobs(planted):
    llm = LogprobLLM(REPLY, REPLY_LOGPROBS)
    setup = three_token_setup(planted, llm)
    assert setup.samples[0].tokens == ["On", " Monday", "."]
    score = SimulationScorer().score(GOOD, setup)
    assert llm.requests[0].logprobs == prompts.SIM_TOP_LOGPROBS
    assert score.details["method"] == "logprobs" and not score.notes
    context = score.details["contexts"][0]
    assert context["predicted"] == pytest.approx([2.5, 6.6, 3.5])
    assert context["true"] == [0.0, 10.0, 0.0]
    assert score.value == pytest.approx(pearson([0.0, 10.0, 0.0], [2.5, 6.6, 3.5])[0])


def test_scorer_falls_back_to_integers_with_a_note(planted):
    for logprobs, note in ((None, "no logprobs"), (REPLY_LOGPROBS[:-1], "do not spell")):
        score = SimulationScorer().score(GOOD, three_token_setup(planted, LogprobLLM(REPLY, logprobs)))
        assert score.details["method"] == "integers"
        assert score.details["contexts"][0]["predicted"] == [0, 10, 3]
        assert any(note in n for n in score.notes)


# -- the local model ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_local_model_simulates_with_logprobs(planted):
    from sage_nb.llm import make_llm

    setup = make_setup(planted, make_llm("local"), active=ACTIVE[:2], zeros=ZEROS[:1])
    score = SimulationScorer().score(GOOD, setup)
    print(score.value, score.details["method"], score.notes, [c["predicted"] for c in score.details["contexts"]])
    assert score.details["failed"] == 0, score.details["contexts"]
    assert score.details["method"] == "logprobs", score.notes
    assert score.value is not None or any("undefined" in n for n in score.notes)
    for context in score.details["contexts"]:
        assert len(context["predicted"]) == context["n_tokens"]
        assert all(0 <= p <= 10 for p in context["predicted"])


# -- forced readings -------------------------------------------------------------------------------------------------
class ReadingLLM(LLMBackend):
    """A test backend that reads forced replies: '9' is likely after a weekday's line, '0' elsewhere."""

    name = "reading-test"
    reads_forced = True

    def __init__(self, readings: int | None = None) -> None:
        super().__init__("reading-test", max_workers=1)
        self.readings = readings
        self.requests = []

    def _turn(self, messages, request) -> Reply:
        self.requests.append(request)
        weekday = (("9", math.log(0.8)), ("0", math.log(0.2)))
        other = (("0", math.log(0.9)), ("x", math.log(0.05)), ("2", math.log(0.05)))
        out = [
            TokenLogprob("", 0.0, weekday if segment.rstrip("\t").endswith("Monday'") else other)
            for segment in request.forced[: self.readings]
        ]
        return Reply(text=f'{{"readings": {len(out)}}}', finish_reason="forced", logprobs=out)


def test_forced_mode_reads_one_number_after_each_token(planted):
    llm = ReadingLLM()
    score = SimulationScorer(mode="forced").score(GOOD, three_token_setup(planted, llm))
    request = llm.requests[0]
    assert request.forced == ("'On'\t", "0\n'␣Monday'\t", "0\n'.'\t")  # each token's slot; earlier slots hold 0
    assert request.messages[-1]["content"].startswith("Explanation: 'Fires on weekday names")
    context = score.details["contexts"][0]
    assert context["predicted"] == pytest.approx([0.1 / 0.95, 7.2, 0.1 / 0.95], abs=1e-4)  # "x" is no number
    assert score.details["mode"] == "forced" and score.details["method"] == "logprobs"
    assert score.value == pytest.approx(pearson([0.0, 10.0, 0.0], context["predicted"])[0])


def test_forced_mode_fills_the_earlier_slots_with_the_filler_named(planted):
    llm = ReadingLLM()
    scorer = SimulationScorer(mode="forced", filler="unknown")
    score = scorer.score(GOOD, three_token_setup(planted, llm))
    assert llm.requests[0].forced == ("'On'\t", "unknown\n'␣Monday'\t", "unknown\n'.'\t")
    assert score.details["filler"] == "unknown" and "filler='unknown'" in repr(scorer)
    with pytest.raises(ValueError, match="Unknown filler 'none'"):
        SimulationScorer(mode="forced", filler="none")  # type: ignore[arg-type]


def test_forced_mode_fails_a_sample_whose_readings_do_not_match_its_tokens(planted):
    score = SimulationScorer(mode="forced").score(GOOD, three_token_setup(planted, ReadingLLM(readings=2)))
    assert score.details["failed"] == 1 and score.value is None
    assert "2 readings for 3 tokens" in score.details["contexts"][0]["errors"][0]


def test_forced_mode_names_the_engine_when_the_backend_cannot_read(planted):
    from sage_nb.llm import LLMRequestError

    with pytest.raises(LLMRequestError, match="forced reading"):
        SimulationScorer(mode="forced").score(GOOD, three_token_setup(planted, LogprobLLM(REPLY, None)))


@pytest.mark.slow
def test_local_engine_reads_a_simulation_forced(planted):
    pytest.importorskip("llama_cpp")
    from sage_nb.llm import make_llm

    setup = make_setup(planted, make_llm("llamacpp:smollm2-135m"), active=ACTIVE[:2], zeros=ZEROS[:1])
    score = SimulationScorer(mode="forced").score(GOOD, setup)
    assert score.details["failed"] == 0 and score.details["method"] == "logprobs", score.notes
    for context in score.details["contexts"]:
        assert len(context["predicted"]) == context["n_tokens"]
        assert all(0 <= p <= 10 for p in context["predicted"])
