"""The states of a SAGE run, its bounds, and every rule that decides what happens next.

The loop (:mod:`sage_nb.agent.loop`) calls LLMs and measures texts; this module alone decides what their replies
mean. An analyzer's verdict is a proposal: :func:`settle` accepts a hypothesis only when its measured tests agree
with their expectations, refutes it only when they disagree, and ends testing when the bounds are used up. Nothing
an LLM writes (or a corpus text asks for) can move a hypothesis against its measurements, or keep the run going
past its bounds.

Phases: ``exemplars -> explain -> design -> analyze -> (design ...) -> review -> (analyze -> review ...) ->
synthesize -> done``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import get_args

from sage_nb.agent.records import Hypothesis, Phase, RunState
from sage_nb.core.text import names_token, quotes_token
from sage_nb.explainers.top_tokens import CLASS_PHRASES, CLASS_STEMS

PHASES: tuple[Phase, ...] = get_args(Phase)
VERDICTS = ("accept", "refute", "refine", "keep_testing")

#: A hypothesis can be accepted when at least this share of its judged tests matched their expectations ...
ACCEPT_AGREEMENT = 0.75
#: ... and refuted when at most this share did.
REFUTE_AGREEMENT = 0.5
#: Judged tests a hypothesis needs before any verdict other than 'keep_testing' counts.
MIN_TESTS = 2
#: Class hypotheses a run may open: the generalizer's class and, each time one is refuted, a narrower one.
MAX_CLASSES = 3
#: Generalizer calls one class may take: the first, a retry or a rename told why per problem, a members call.
CLASS_CALLS = 4


@dataclass
class Bounds:
    """Limits that guarantee every run ends (all counts per feature unless named otherwise)."""

    hypotheses: int = 4  # proposed at once by the explainer
    tests_per_turn: int = 4  # texts per designer turn
    rounds_per_hypothesis: int = 2  # designer turns per hypothesis (its test rounds)
    refinements_per_hypothesis: int = 1
    review_rounds: int = 1  # times the reviewer may ask for more tests
    llm_calls: int = 40
    tokens: int = 60_000
    retries: int = 1  # extra tries of a failed call (after the LLM layer's own repair turn)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def over_budget(state: RunState, bounds: Bounds, upcoming_calls: int = 1) -> str | None:
    """Why the next ``upcoming_calls`` calls would break the budget (keeping one call for the synthesis), or None."""
    reserve = 1 if state.phase != "synthesize" else 0
    if state.llm_calls + upcoming_calls + reserve > bounds.llm_calls:
        return f"LLM call budget ({bounds.llm_calls}) reached"
    if state.tokens >= bounds.tokens:
        return f"token budget ({bounds.tokens}) reached"
    return None


def silent_member(h: Hypothesis) -> bool:
    """Whether a member of class hypothesis ``h`` stayed low when it stood in the peaks' place: the feature does
    not fire on the whole class, so the class is broader than the feature (a narrower one may hold)."""
    return bool(h.class_name) and any(
        t.source == "substitutions" and t.expect == "high" and t.level == "low" for t in h.current_tests
    )


def evidence_verdict(h: Hypothesis) -> str | None:
    """What the measurements alone say: 'accept', 'refute', or None while they are too few or mixed. A class
    hypothesis with a :func:`silent_member` is refuted however many of its other tests agree."""
    agreement = h.agreement
    if agreement is None or h.evidence_count < MIN_TESTS:
        return None
    if silent_member(h):
        return "refute"
    fired = any(t.expect == "high" and t.agrees for t in h.current_tests)
    if agreement >= ACCEPT_AGREEMENT and (fired or any(e.agrees for e in h.current_effects)):
        return "accept"
    if agreement <= REFUTE_AGREEMENT:
        return "refute"
    return None


#: Words of a claim too common in claims to show that a description rests on that claim.
GENERIC_WORDS = frozenset(
    "fires feature features token tokens activation activations activated strongly usually their there which "
    "about other these those after before where words stays peak share members exemplars never showed".split()
)


#: A description rests on a computed hypothesis when it names at least this many of its tokens (or all, if fewer).
COMPUTED_TOKENS_NAMED = 2


def rests_on_accepted(text: str, hypotheses: Sequence[Hypothesis]) -> bool:
    """Whether ``text`` (a final description and its labels) names what an accepted hypothesis names: one of its
    tokens whole (:func:`~sage_nb.evidence.names_token`), or a word of five letters or more of its claim that is
    not :data:`GENERIC_WORDS`. A computed hypothesis (:attr:`Hypothesis.computed`) needs more, since its claim is
    a template around its tokens: :data:`COMPUTED_TOKENS_NAMED` of its tokens, or the token class its claim names.
    True when no hypothesis was accepted (there is nothing to rest on)."""
    accepted = [h for h in hypotheses if h.status == "accepted"]
    if not accepted:
        return True
    words = set(re.findall(r"\w+", text.casefold()))
    for h in accepted:
        if h.computed:
            countable = {t.strip().casefold() for t in h.tokens if len(t.strip()) >= 2}
            need = min(COMPUTED_TOKENS_NAMED, len(countable))
            named = sum(names_token(text, [t]) for t in countable)
            if (need and named >= need) or names_class(h.claim, words):
                return True
            continue
        if names_token(text, h.tokens):
            return True
        claim_words = {w for w in re.findall(r"\w+", h.claim.casefold()) if len(w) >= 5 and not w.isdigit()}
        if (claim_words - GENERIC_WORDS) & words:
            return True
    return False


def names_accepted_class(text: str, hypotheses: Sequence[Hypothesis]) -> bool:
    """Whether ``text`` names the class of every accepted class hypothesis (one word of four letters or more of its
    name, singular or plural): a class that its substitutions supported is the explanation's main claim, and a
    description that keeps only the seen tokens would drop it. True when no class hypothesis was accepted."""
    words = re.findall(r"\w+", text.casefold())
    for h in hypotheses:
        if h.status != "accepted" or not h.class_name or h.history:
            continue
        stems = [w.rstrip("s") for w in re.findall(r"\w+", h.class_name.casefold()) if len(w) >= 4]
        if stems and not any(word.rstrip("s") == stem for word in words for stem in stems):
            return False
    return True


def names_refuted_members(description: str, labels: Sequence[str], hypotheses: Sequence[Hypothesis]) -> list[str]:
    """The members of refuted class hypotheses that a final ``description`` and its ``labels`` name (two characters
    or more) although no accepted hypothesis names them: the substitutions measured that the feature does not fire
    on them. A member is named when it is quoted, is a label, or (unless it is a lower-case word, which reads as
    prose: 'the', 'in', 'peak') appears whole with its own case."""
    backed = {t.strip().casefold() for h in hypotheses if h.status == "accepted" for t in h.tokens}
    said = " ".join([description, *labels])
    named = {label.strip().casefold() for label in labels}
    out = []
    for h in hypotheses:
        if h.status != "refuted" or not h.members:
            continue
        for m in h.members:
            body = m.strip()
            if body.casefold() in backed or len(body) < 2:
                continue
            prose = body.isalpha() and body.islower()
            whole = not prose and names_token(said, [body], case_sensitive=True)
            if quotes_token(said, body) or body.casefold() in named or whole:
                out.append(m)
    return out


def names_class(claim: str, words: set[str]) -> bool:
    """Whether ``words`` (of a description) name a token class the computed ``claim`` names (e.g. "digits" for a
    claim whose peak token is usually a digit)."""
    stems = [stem for key, phrase in CLASS_PHRASES.items() if phrase in claim for stem in CLASS_STEMS[key]]
    return any(word.startswith(stem) for word in words for stem in stems)


def is_new_claim(text: str, old: str) -> bool:
    """Whether a refinement is a real new claim: several words, not a verdict name, not the old wording."""
    words = text.split()
    return len(words) >= 2 and text.strip().lower() != old.strip().lower() and words[0].lower() not in VERDICTS


def rounds_left(h: Hypothesis, bounds: Bounds) -> bool:
    """Whether ``h`` may get another design round (a refined wording starts with a fresh set of rounds)."""
    return h.rounds - h.since < bounds.rounds_per_hypothesis


def settle(h: Hypothesis, proposed: str | None, reason: str, refined: str, bounds: Bounds) -> str:
    """Apply an analyzer's proposed verdict (None when its call failed) to ``h``; return what was decided.

    The measurements gate the proposal: 'accept' needs :func:`evidence_verdict` to say accept, 'refute' needs
    enough tests that do not support the claim, 'refine' needs a new wording, a refinement left, and measurements
    that do not already support the claim (rewording a supported claim would throw its support away). Otherwise the
    hypothesis keeps testing while it has rounds left, and is then closed by its measurements alone.
    """
    measured = evidence_verdict(h)
    if proposed == "accept" and measured == "accept":
        h.status, h.reason = "accepted", reason or "tests matched their expectations"
        return "accepted"
    if proposed == "refute" and measured != "accept" and h.evidence_count >= MIN_TESTS:
        h.status, h.reason = "refuted", reason or "tests did not match their expectations"
        return "refuted"
    new_claim = " ".join(refined.split())
    can_refine = h.refinements < bounds.refinements_per_hypothesis and measured != "accept"
    if proposed == "refine" and is_new_claim(new_claim, h.claim) and can_refine:
        h.history.append(h.claim)
        h.claim, h.reason = new_claim, reason
        h.computed = False  # an LLM's wording from now on
        h.refinements += 1
        h.since = h.rounds  # tests from now on judge the new wording
        return "refined"
    if rounds_left(h, bounds):
        unsupported = proposed not in (None, "keep_testing")
        return "keep testing" + (f" ({proposed} not supported by the measurements)" if unsupported else "")
    return _close(h, measured)


def _close(h: Hypothesis, measured: str | None) -> str:
    """Close a hypothesis with no test rounds left by its measurements alone."""
    if measured == "accept":
        h.status = "accepted"
    elif measured == "refute":
        h.status = "refuted"
    else:
        h.status = "inconclusive"
    h.reason = "closed by its measurements after its last test round"
    return f"{h.status} (test rounds used up; decided by the measurements)"


def needs_design(state: RunState, bounds: Bounds) -> list[str]:
    """Open hypotheses that still have a test round left, in id order."""
    return [h.id for h in state.hypotheses if h.status == "open" and rounds_left(h, bounds)]


def close_all_open(state: RunState, reason: str) -> None:
    """Close every open hypothesis by its measurements (used when a budget ends testing)."""
    for h in state.hypotheses:
        if h.status == "open":
            _close(h, evidence_verdict(h))
            h.reason = reason


def after_analysis(state: RunState, bounds: Bounds) -> str:
    """The phase after an analysis step: more design rounds while any hypothesis needs them, else the review."""
    if needs_design(state, bounds):
        return "design"
    return "review" if state.review_rounds < bounds.review_rounds else "synthesize"
