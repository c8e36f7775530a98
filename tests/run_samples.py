"""A hand-built five-turn SAGE run shared by the run view and stepper tests (no model, no LLM)."""

from __future__ import annotations

from sage_nb.agent.records import EvidenceItem, Explanation, Measurement, RunState, Turn

HOSTILE = "<script>alert(1)</script>"
CLAIMS = {"H1": "fires on ' cat' after 'The'", "H2": "fires on any animal noun"}


def measurement(text: str, acts: list[float], expect: str, level: str, verdict: str) -> Measurement:
    tokens = [("" if i == 0 else " ") + w for i, w in enumerate(text.split(" "))]
    peak = max(range(len(acts)), key=acts.__getitem__)
    return Measurement(
        text, expect, tokens, acts, max(acts), max(acts) / 4.0, level, verdict, tokens[peak], text, round=1
    )


def make_run() -> RunState:
    """Five turns: explainer proposes H1/H2, designer measures 3 texts, analyzer accepts H1, reviewer, synthesis."""
    tests = [
        measurement("The cat sat", [0.0, 3.2, 0.1], "high", "high", "ok"),
        measurement("A dog ran", [0.0, 0.8, 0.0], "high", "medium", "partial"),
        measurement("It rained today", [0.0, 0.0, 0.05], "high", "low", "miss"),
    ]
    both_open = {"H1": "open", "H2": "open"}
    closed = {"H1": "accepted", "H2": "inconclusive"}
    turns = [
        Turn(
            0,
            "explainer",
            None,
            "Exemplars: ...",
            {
                "hypotheses": [
                    {"claim": CLAIMS["H1"], "angle": "specific"},
                    {"claim": CLAIMS["H2"], "angle": "alternative"},
                ]
            },
            decision="added H1, H2",
            board=both_open,
            claims=CLAIMS,
            tokens=120,
            seconds=1.5,
        ),
        Turn(
            1,
            "designer",
            "H1",
            "Design tests for H1",
            {"tests": [{"text": m.text, "expect": m.expect} for m in tests]},
            measurements=tests,
            decision="measured 3 texts",
            board=both_open,
            claims=CLAIMS,
        ),
        Turn(
            2,
            "analyzer",
            "H1",
            "Judge H1",
            {"verdict": "accepted", "reason": "peaks on ' cat'"},
            decision="H1 accepted",
            board={"H1": "accepted", "H2": "open"},
            claims=CLAIMS,
        ),
        Turn(
            3,
            "reviewer",
            None,
            "Review the board",
            {"approve": True, "notes": "H2 untested"},
            decision="H2 closed as inconclusive",
            board=closed,
            claims=CLAIMS,
        ),
        Turn(
            4,
            "synthesis",
            None,
            "Write the explanation",
            {"description": "The token ' cat'.", "labels": ["cat"]},
            decision="done",
            board=closed,
            claims=CLAIMS,
        ),
    ]
    evidence = [
        EvidenceItem("The cat sat", 3.2, 0.8, "H1", "high", True),
        EvidenceItem("It rained today", 0.05, 0.01, "H2", "high", False),
    ]
    return RunState(
        feature=7,
        phase="done",
        turns=turns,
        scale=4.0,
        llm_calls=5,
        explanation=Explanation("The token ' cat' after 'The'.", ["cat", "animal"], evidence),
    )


def hostile_run() -> RunState:
    """The fixture with LLM- and corpus-controlled strings replaced by markup."""
    state = make_run()
    designer = state.turns[1]
    designer.measurements[0].tokens[1] = HOSTILE
    designer.measurements[1].source = HOSTILE
    designer.reply = {HOSTILE: [HOSTILE, {"x": HOSTILE}]}
    designer.prompt = HOSTILE
    designer.decision = HOSTILE
    designer.hypothesis = HOSTILE
    for turn in state.turns:
        turn.claims = {"H1": HOSTILE, HOSTILE: "x"}
        turn.board = {"H1": "open", HOSTILE: HOSTILE}
    state.explanation = Explanation(HOSTILE, [HOSTILE], [EvidenceItem(HOSTILE, 1.0, 0.25, HOSTILE, HOSTILE, True)])
    state.stop_reason = HOSTILE
    return state
