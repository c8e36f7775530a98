"""The learner checks of the tutorials' exercises (those that need no model)."""

from __future__ import annotations

from sage_nb.agent.records import Hypothesis, Measurement
from sage_nb.agent.states import Bounds
from sage_nb.exercises import check_decision, check_equal, outcome


def m(expect: str, level: str, round_: int = 0) -> Measurement:
    verdict = "ok" if expect == level else ("partial" if level == "medium" else "miss")
    return Measurement("t", expect, ["t"], [1.0], 1.0, 0.5, level, verdict, "t", "t", round=round_)


def test_outcome_drops_the_bracketed_explanation():
    assert outcome("keep testing (accept not supported by the measurements)") == "keep testing"
    assert outcome("refuted (test rounds used up; decided by the measurements)") == "refuted"
    assert outcome("accepted") == "accepted"


def test_check_decision_compares_outcomes_and_leaves_the_hypothesis_alone(capsys):
    h = Hypothesis("H1", "fires on digits", tests=[m("high", "low"), m("high", "low")], rounds=1)
    assert check_decision(h, "accept", "keep testing")  # unsupported accept, a round left (default bounds)
    assert "✓" in capsys.readouterr().out
    assert h.status == "open" and h.reason == ""
    assert not check_decision(h, "accept", "accepted")
    assert "✗" in capsys.readouterr().out
    assert check_decision(h, "accept", "refuted", Bounds(rounds_per_hypothesis=1))  # closed by measurements
    assert check_decision(h, "refute", "refuted")
    ok = Hypothesis("H2", "c", tests=[m("high", "high"), m("low", "low")], rounds=1)
    assert check_decision(ok, "accept", "accepted")
    assert check_decision(ok, "refine", "keep testing", reason="narrower", refined="fires on X after Y")  # supported
    mixed = Hypothesis("H3", "c", tests=[m("high", "high"), m("high", "low"), m("low", "low")], rounds=1)
    assert check_decision(mixed, "refine", "refined", reason="narrower", refined="fires on X after Y")


def test_check_equal_prints_the_expected_value_on_a_miss(capsys):
    assert not check_equal(1, 2, "answer")
    assert "expected 2" in capsys.readouterr().out
