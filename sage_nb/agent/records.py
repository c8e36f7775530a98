"""What a SAGE run records: hypotheses, their measured tests, every turn, and the final explanation.

All records are plain dataclasses that round-trip through JSON (:meth:`RunState.to_dict` /
:meth:`RunState.from_dict`); the checkpoint of a run is exactly its :class:`RunState`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

#: A hypothesis's status. ``open`` ones are still being tested; the others are final.
Status = Literal["open", "accepted", "refuted", "inconclusive"]
STATUSES: tuple[Status, ...] = get_args(Status)
#: A measured text's level, as a fraction of the feature's scale (thresholds in :mod:`sage_nb.evidence`).
Level = Literal["high", "medium", "low"]
#: What a test was expected to do, and how its measurement matched.
Expectation = Literal["high", "low"]
Verdict = Literal["ok", "partial", "miss"]
#: Where a measured text came from.
Source = Literal[
    "exemplar", "explainer", "designer", "random", "pairs", "substitutions", "context", "reviewer", "by hand"
]
#: The step of the loop a run is at, and the role that acts in a turn (one vocabulary: a phase is named for the work
#: done in it, a role for who does it).
Phase = Literal["exemplars", "explain", "design", "analyze", "review", "synthesize", "done"]
Role = Literal["exemplars", "explainer", "generalizer", "designer", "analyzer", "reviewer", "synthesis"]
#: The role that acts in each phase.
PHASE_ROLES: dict[str, Role] = {
    "exemplars": "exemplars",
    "explain": "explainer",
    "design": "designer",
    "analyze": "analyzer",
    "review": "reviewer",
    "synthesize": "synthesis",
}
#: The order in which hypotheses are reported: accepted first, refuted last.
STATUS_ORDER = {"accepted": 0, "open": 1, "inconclusive": 2, "refuted": 3}


@dataclass
class Measurement:
    """One text measured on the feature (by the code, never the LLM), judged against its expectation.

    ``level`` and ``verdict`` follow :mod:`sage_nb.evidence`: the level is 'high'/'medium'/'low' by the maximum as
    a fraction of the feature's scale; the verdict is 'ok', 'partial' or 'miss' (None without an expectation).
    """

    text: str
    expect: Expectation | None
    tokens: list[str]
    acts: list[float]
    max_act: float
    fraction: float
    level: Level
    verdict: Verdict | None
    peak_token: str | None
    snippet: str
    #: exemplar, explainer, designer, random (designer ablation), pairs (minimal pairs), reviewer or by hand
    source: Source = "designer"
    round: int = 0

    @property
    def agrees(self) -> bool | None:
        """Whether the measurement matched its expectation (a 'partial' counts as not matching)."""
        return None if self.verdict is None else self.verdict == "ok"


@dataclass
class Effect:
    """One causal test: the feature turned up on a prompt by the code (never the LLM), and what the model then says.

    ``expect`` lists words the hypothesis says the feature makes the model produce; the verdict is 'ok' when one
    of them is among the most promoted next tokens or appears in the steered continuation but not the clean one.
    """

    prompt: str
    expect: list[str]
    strength: float  # added along the feature's direction, in activation units
    kl: float  # KL(clean || steered) of the next-token distribution, nats
    promoted: list[str]
    suppressed: list[str]
    clean: str
    steered: str
    verdict: Verdict | None  # 'ok', 'miss', or None without expected words
    round: int = 0

    @property
    def agrees(self) -> bool | None:
        return None if self.verdict is None else self.verdict == "ok"


@dataclass
class Hypothesis:
    """A claim about the feature, its tests, and what the loop decided about it."""

    id: str  # H1, H2, ...
    claim: str
    angle: str = ""  # specific, alternative, negative control, other aspect
    tokens: list[str] = field(default_factory=list)  # the tokens or words the claim is about
    status: Status = "open"
    history: list[str] = field(default_factory=list)  # earlier wordings (refinements)
    tests: list[Measurement] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)  # causal tests (AgentConfig(causal=True))
    rounds: int = 0  # design rounds used
    refinements: int = 0
    reason: str = ""  # why the status was set (the analyzer's reason or the state machine's override)
    since: int = 0  # first design round of the current wording (earlier tests judged an older claim)
    #: The wording is computed from measurements (the evidence, then minimal pairs), never written by an LLM: its
    #: tokens are tested with minimal pairs, and a description rests on it only by naming them.
    computed: bool = False
    #: A class hypothesis (``AgentConfig(generalize=True)``): members of the class the exemplars never showed, and
    #: tokens outside it. While its wording is unrefined it is tested by putting them in the peaks' place.
    members: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    class_name: str = ""  # the class a class hypothesis names (e.g. 'degree adverbs')
    #: An accepted class whose breadth was tested: more of its members, as varied as the class allows, were put in
    #: the peaks' place (:meth:`~sage_nb.agent.loop.SageLoop._check_breadth`).
    breadth_checked: bool = False

    @property
    def substitutes(self) -> bool:
        """Whether this is a class hypothesis still tested by substitutions (its wording unrefined)."""
        return bool(self.members and self.outside) and not self.history

    @property
    def judged(self) -> list[Measurement]:
        return [t for t in self.tests if t.verdict is not None]

    @property
    def agreement(self) -> float | None:
        """Share of judged tests and causal tests (of the current wording) that matched their expectation."""
        judged = [t.agrees for t in self.current_tests] + [e.agrees for e in self.current_effects]
        return sum(bool(a) for a in judged) / len(judged) if judged else None

    @property
    def current_tests(self) -> list[Measurement]:
        """Judged tests of the current wording (tests from before a refinement judged the old claim)."""
        return [t for t in self.judged if t.round >= self.since]

    @property
    def current_effects(self) -> list[Effect]:
        """Judged causal tests of the current wording."""
        return [e for e in self.effects if e.verdict is not None and e.round >= self.since]

    @property
    def evidence_count(self) -> int:
        """Judged tests plus judged causal tests of the current wording."""
        return len(self.current_tests) + len(self.current_effects)


@dataclass
class Turn:
    """One step of the loop: a role's request and structured reply, what was measured, and the board after it."""

    index: int
    role: Role
    hypothesis: str | None  # the hypothesis id the turn was about, if any
    prompt: str  # the user message sent (the system prompt lives in prompts.py)
    reply: dict[str, Any] | None  # the validated reply, None when the call failed
    ok: bool = True
    error: str | None = None
    measurements: list[Measurement] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)  # causal tests run in this turn
    decision: str = ""  # what the state machine did with the reply
    board: dict[str, str] = field(default_factory=dict)  # hypothesis id -> status after this turn
    claims: dict[str, str] = field(default_factory=dict)  # hypothesis id -> claim after this turn
    tokens: int = 0
    seconds: float = 0.0


@dataclass
class EvidenceItem:
    """One line of the final evidence: a measured text and the hypothesis it supports (or contradicts)."""

    text: str
    max_act: float
    fraction: float
    hypothesis: str
    expect: str | None
    supports: bool


@dataclass
class Explanation:
    """The synthesis: a description, labels, and the measured evidence behind them."""

    description: str
    labels: list[str]
    evidence: list[EvidenceItem] = field(default_factory=list)
    source: str = "synthesis"  # 'synthesis' (LLM) or 'hypotheses' (the synthesis call failed: accepted claims)

    def evidence_text(self) -> str:
        lines = []
        for e in self.evidence:
            mark = "supports" if e.supports else "contradicts"
            lines.append(
                f"{e.hypothesis} {mark}: {e.text!r} -> max {e.max_act:.3g} ({e.fraction:.0%} of top; "
                f"expected {e.expect or '-'})"
            )
        return "\n".join(lines)


@dataclass
class RunState:
    """The whole state of one run on one feature: enough to resume it after a crash."""

    feature: int
    phase: Phase = "exemplars"
    hypotheses: list[Hypothesis] = field(default_factory=list)
    turns: list[Turn] = field(default_factory=list)
    review_rounds: int = 0
    llm_calls: int = 0
    tokens: int = 0
    failures: int = 0
    pending: list[str] = field(default_factory=list)  # hypothesis ids the next step works on
    suggested: list[dict[str, Any]] = field(default_factory=list)  # reviewer's tests waiting to be measured
    exemplar_text: str = ""
    evidence_text: str = ""
    scale: float = 0.0
    explanation: Explanation | None = None
    stop_reason: str | None = None
    started: float = 0.0
    finished: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase
    generation_s: float = 0.0  # time the LLM spent generating (the rest of the wall time is overhead)
    usage: dict[str, dict[str, int]] = field(default_factory=dict)  # role -> calls, prompt/completion tokens, failed
    notes: list[str] = field(default_factory=list)  # why testing ended early, etc.
    replayed: bool = False  # some LLM replies came from a recording (``replay:``), not from a model now

    @property
    def done(self) -> bool:
        return self.phase == "done"

    def hypothesis(self, hid: str) -> Hypothesis:
        for h in self.hypotheses:
            if h.id == hid:
                return h
        raise KeyError(f"no hypothesis {hid!r}; have {[h.id for h in self.hypotheses]}")

    def board(self) -> dict[str, str]:
        return {h.id: h.status for h in self.hypotheses}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunState:
        data = dict(data)
        hyps = []
        for raw in data.pop("hypotheses", []):
            raw = dict(raw)
            raw["tests"] = [Measurement(**m) for m in raw.get("tests", [])]
            raw["effects"] = [Effect(**e) for e in raw.get("effects", [])]
            hyps.append(Hypothesis(**raw))
        turns = []
        for raw in data.pop("turns", []):
            raw = dict(raw)
            raw["measurements"] = [Measurement(**m) for m in raw.get("measurements", [])]
            raw["effects"] = [Effect(**e) for e in raw.get("effects", [])]
            turns.append(Turn(**raw))
        expl = data.pop("explanation", None)
        if expl is not None:
            expl = dict(expl)
            expl["evidence"] = [EvidenceItem(**e) for e in expl.get("evidence", [])]
            expl = Explanation(**expl)
        return cls(hypotheses=hyps, turns=turns, explanation=expl, **data)
