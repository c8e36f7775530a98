"""The rules of the state machine: verdicts gated by measurements, bounds, and budgets."""

from __future__ import annotations

from dataclasses import replace

import pytest

from sage_nb.agent.records import Hypothesis, Measurement, RunState
from sage_nb.agent.states import (
    ACCEPT_AGREEMENT,
    MIN_TESTS,
    Bounds,
    after_analysis,
    evidence_verdict,
    names_refuted_members,
    needs_design,
    over_budget,
    rests_on_accepted,
    settle,
    silent_member,
)


def m(expect: str, level: str, round_: int = 0) -> Measurement:
    verdict = "ok" if expect == level else ("partial" if level == "medium" else "miss")
    return Measurement("t", expect, ["t"], [1.0], 1.0, 0.5, level, verdict, "t", "t", round=round_)


def hyp(*tests: Measurement, rounds: int = 1) -> Hypothesis:
    return Hypothesis("H1", "claim", tests=list(tests), rounds=rounds)


def test_evidence_verdict_needs_enough_agreeing_tests_with_a_firing_one():
    assert evidence_verdict(hyp(m("high", "high"))) is None  # too few
    assert MIN_TESTS == 2
    assert evidence_verdict(hyp(m("high", "high"), m("low", "low"))) == "accept"
    assert evidence_verdict(hyp(m("low", "low"), m("low", "low"))) is None  # nothing shown to fire
    assert evidence_verdict(hyp(m("high", "low"), m("high", "low"))) == "refute"
    mixed = hyp(m("high", "high"), m("high", "high"), m("low", "low"), m("high", "low"))
    assert mixed.agreement == pytest.approx(0.75) and ACCEPT_AGREEMENT == 0.75
    assert evidence_verdict(mixed) == "accept"
    assert evidence_verdict(hyp(m("high", "high"), m("high", "low"), m("low", "low"))) is None  # 2/3: mixed


def test_accept_and_refute_only_when_the_measurements_allow():
    b = Bounds()
    h = hyp(m("high", "low"), m("high", "low"))
    assert settle(h, "accept", "looks right", "", b).startswith("keep testing (accept not supported")
    assert h.status == "open"
    assert settle(h, "refute", "no", "", b) == "refuted" and h.status == "refuted"

    h = hyp(m("high", "high"), m("low", "low"))
    assert settle(h, "refute", "", "", b).startswith("keep testing")  # tests agree: no refute
    assert settle(h, "accept", "", "", b) == "accepted"


def test_refine_resets_the_wording_and_is_bounded():
    b = Bounds(rounds_per_hypothesis=1, refinements_per_hypothesis=1)
    h = hyp(m("high", "low"), m("high", "high"), rounds=1)
    assert settle(h, "refine", "narrower", "fires on X after Y", b) == "refined"
    assert (h.claim, h.history, h.since, h.agreement) == ("fires on X after Y", ["claim"], 1, None)
    assert needs_design(RunState(0, hypotheses=[h]), b) == ["H1"]  # a refined claim gets fresh rounds
    h.tests += [m("high", "low", 1), m("high", "low", 1)]
    h.rounds = 2
    decision = settle(h, "refine", "again", "fires on Z", b)  # no refinement left, no round left
    assert decision.startswith("refuted (test rounds used up")
    assert h.claim == "fires on X after Y"


def test_a_claim_its_measurements_support_is_not_reworded():
    """What the 135M analyzer did to a computed claim whose four minimal-pair tests all came out as expected."""
    supported = hyp(m("high", "high"), m("low", "low"), m("high", "high"), m("low", "low"))
    decision = settle(supported, "refine", "", "32% of the peak activation is a digit", Bounds(rounds_per_hypothesis=1))
    assert decision.startswith("accepted (test rounds used up")
    assert (supported.claim, supported.refinements, supported.history) == ("claim", 0, [])
    again = hyp(m("high", "high"), m("low", "low"))
    assert settle(again, "refine", "", "fires on X after Y", Bounds()).startswith("keep testing (refine not supported")


def test_same_wording_or_empty_refinement_is_not_a_refinement():
    b = Bounds()
    h = hyp(m("high", "high"))
    assert settle(h, "refine", "", "claim", b).startswith("keep testing")
    assert settle(h, "refine", "", "  ", b).startswith("keep testing")
    assert settle(h, "refine", "", "refine", b).startswith("keep testing")  # a verdict word is not a claim
    assert settle(h, "refine", "", "keep_testing more", b).startswith("keep testing")
    assert settle(h, "refine", "", "Claim", b).startswith("keep testing")
    assert h.refinements == 0


def test_closing_by_measurements_when_rounds_run_out():
    b = Bounds(rounds_per_hypothesis=1)
    assert settle(hyp(m("high", "high"), m("low", "low")), None, "", "", b).startswith("accepted (test rounds")
    assert settle(hyp(m("high", "high")), "keep_testing", "", "", b).startswith("inconclusive")


def test_budget_keeps_a_call_for_the_synthesis():
    b = Bounds(llm_calls=10, tokens=1000)
    s = RunState(0, phase="design", llm_calls=8)
    assert over_budget(s, b, 1) is None
    assert "LLM call budget" in over_budget(s, b, 2)
    s.phase = "synthesize"
    assert over_budget(s, b, 2) is None
    s.tokens = 1000
    assert "token budget" in over_budget(s, b, 1)


def test_after_analysis_routes_to_design_review_or_synthesis():
    b = Bounds(rounds_per_hypothesis=2, review_rounds=1)
    s = RunState(0, hypotheses=[hyp(rounds=1)])
    assert after_analysis(s, b) == "design"
    s.hypotheses[0].rounds = 2
    assert after_analysis(s, b) == "review"
    s.review_rounds = 1
    assert after_analysis(s, b) == "synthesize"


def test_state_round_trips_through_json():
    import json

    s = RunState(3, hypotheses=[hyp(m("high", "high"), m("low", "low"))], notes=["x"])
    s.usage["designer"] = {"calls": 1, "prompt_tokens": 5, "completion_tokens": 2, "failed": 0}
    back = RunState.from_dict(json.loads(json.dumps(s.to_dict())))
    assert back == s


def test_a_description_rests_on_an_accepted_hypothesis_when_it_names_its_tokens_or_specific_words():
    claim = "Fires on 'Monday' (33% of the peak activation); the peak token is usually a capitalised word"
    h1 = Hypothesis("H1", claim, tokens=["Monday"], status="accepted")
    h2 = Hypothesis("H2", "fires on digits in dates", tokens=["2024"], status="refuted")
    assert rests_on_accepted("Fires on MONDAY and other days.", [h1, h2])  # a token, any case
    assert rests_on_accepted("capitalised weekday names", [h1, h2])  # a specific word of the claim
    assert not rests_on_accepted("The feature fires on tokens after the peak activation.", [h1, h2])  # generic words
    assert not rests_on_accepted("digits in dates such as 2024", [h1, h2])  # only the refuted claim's words
    assert rests_on_accepted("anything at all", [h2])  # nothing accepted: nothing to rest on
    caps = Hypothesis("H1", "Fires on 'AL' (20%), 'ED' (11%)", tokens=["AL", "ED"], status="accepted")
    assert not rests_on_accepted("The cast of characters is a xenolingua; AL100", [caps])  # 'al' inside words
    assert rests_on_accepted("Fires on AL in BOX DRAWINGS", [caps])


def test_a_class_with_a_silent_member_is_refuted_however_many_tests_agree():
    def sub(expect: str, level: str) -> Measurement:
        return replace(m(expect, level), source="substitutions")

    tests = [sub("high", "high"), sub("high", "high"), sub("high", "high"), sub("low", "low"), sub("high", "low")]
    klass = Hypothesis("H2", "Fires on weekday names", tests=tests, rounds=1, class_name="weekday names")
    assert klass.agreement == pytest.approx(0.8)  # enough to accept a hypothesis that is not a class ...
    assert evidence_verdict(replace(klass, class_name="")) == "accept"
    assert silent_member(klass) and evidence_verdict(klass) == "refute"  # ... but a member stayed silent
    medium = replace(klass, tests=[*tests[:4], sub("high", "medium")])
    assert not silent_member(medium) and evidence_verdict(medium) == "accept"  # it fired, if weakly
    designed = replace(klass, tests=[*tests[:4], m("high", "low"), m("high", "high")])
    assert not silent_member(designed)  # only a member in the peaks' place speaks for the class


def test_a_refuted_member_is_named_when_quoted_labelled_or_written_with_its_case_not_as_prose():
    """From the second quality set: 'the', 'in' (members of a refuted 'whole word' class) and 'peak' were read in
    the prose of a good synthesis ("in any text", "of the peak activation"), which was then thrown away."""
    refuted = Hypothesis("H2", "c", status="refuted", members=["the", "in", "peak", "January"], class_name="x")
    accepted = Hypothesis("H1", "Fires on 'r'", status="accepted", tokens=["r"])
    hyps = [accepted, refuted]
    prose = "Fires on 'r' (100% of the peak activation); it fires most in contexts like ': %r', not in the prose."
    assert names_refuted_members(prose, ["r tokens"], hyps) == []
    assert names_refuted_members("Fires on 'r', also on 'the' and 'in'.", [], hyps) == ["the", "in"]
    assert names_refuted_members("Fires on r tokens.", ["peak"], hyps) == ["peak"]  # a label names it
    assert names_refuted_members("Fires on r and on months like January.", [], hyps) == ["January"]
    assert names_refuted_members("Fires on r; see january.", [], hyps) == []  # not with its own case
    operator = Hypothesis("H3", "c", status="refuted", members=["==", "Januaryish"], class_name="y")
    said = "Fires on r, as in a==b, and in Januaryish."
    assert names_refuted_members(said, [], [accepted, operator]) == ["==", "Januaryish"]  # whole, not a word piece
    assert names_refuted_members("Fires on r in JanuaryishX.", [], [accepted, operator]) == []
