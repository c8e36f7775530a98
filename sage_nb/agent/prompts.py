"""Every prompt and reply schema of the SAGE loop, in one place.

Each role gets a short system prompt (with one worked example, which small models need) and a user message that
holds only the compact state the role needs: the computed evidence and exemplars, one hypothesis with its measured
tests, or the board of hypotheses. Reply schemas bound every string and list so a schema-constrained small model
always finishes inside its token budget, and nothing in a reply needs a double quote.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from sage_nb.agent.records import STATUS_ORDER, Effect, Hypothesis, Measurement, RunState
from sage_nb.core.prompting import DATA_RULE, repeats, text_words
from sage_nb.core.text import visible
from sage_nb.data.records import Exemplar
from sage_nb.evidence import HIGH_FRACTION, LOW_FRACTION
from sage_nb.llm.parsing import reply_token_bound

Claim = Annotated[str, Field(min_length=3, max_length=80)]
TestText = Annotated[str, Field(min_length=3, max_length=90)]
Reason = Annotated[str, Field(min_length=1, max_length=160)]
Label = Annotated[str, Field(min_length=2, max_length=60)]
Expect = Literal["high", "low"]

#: Longest lists a reply may hold (the loop then keeps what its bounds allow).
MAX_LIST = 4
#: Causal tests (steered prompts) a designer may add per turn when they are on.
MAX_CAUSAL = 2
#: Tokens shown on each side of an exemplar's peak.
EXEMPLAR_SIDE = 8
#: Tokens listed with their activation per exemplar.
EXEMPLAR_PAIRS = 4
#: Measured tests shown per hypothesis to the analyzer and the reviewer.
TESTS_SHOWN = 8


# -- reply schemas ------------------------------------------------------------------------------------------------
class ProposedHypothesis(BaseModel):
    tokens: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1, max_length=3)
    claim: Claim
    example: TestText  # a short text on which the claim predicts a strong activation (measured to rank claims)


class ExplainerReply(BaseModel):
    hypotheses: list[ProposedHypothesis] = Field(min_length=2, max_length=MAX_LIST)


Word = Annotated[str, Field(min_length=1, max_length=20)]


class GeneralizerReply(BaseModel):
    """The class the peak tokens belong to, members the exemplars never showed, and non-members."""

    class_name: Annotated[str, Field(min_length=3, max_length=50)]
    new_members: list[Word] = Field(min_length=2, max_length=MAX_LIST)
    non_members: list[Word] = Field(min_length=2, max_length=MAX_LIST)


#: Members asked for when an accepted class's breadth is tested (:func:`class_breadth_messages`).
BREADTH_MEMBERS = 12


class BreadthReply(BaseModel):
    """More members of an accepted class, as varied as it allows."""

    members: list[Word] = Field(min_length=2, max_length=BREADTH_MEMBERS)


class DesignedTest(BaseModel):
    text: TestText
    expect: Expect


class DesignerReply(BaseModel):
    tests: list[DesignedTest] = Field(min_length=2, max_length=MAX_LIST)


class CausalTest(BaseModel):
    prompt: TestText  # text the model continues while the feature is turned up
    expect: list[Annotated[str, Field(min_length=1, max_length=16)]] = Field(min_length=1, max_length=3)


class CausalDesignerReply(DesignerReply):
    """The designer's reply when causal tests are on: activation tests, plus prompts to steer."""

    steer: list[CausalTest] = Field(default_factory=list, max_length=MAX_CAUSAL)


class AnalyzerReply(BaseModel):
    verdict: Literal["accept", "refute", "refine", "keep_testing"]
    reason: Reason
    refined_claim: Annotated[str, Field(max_length=80)] = ""


class ReviewTest(BaseModel):
    hypothesis: Annotated[str, Field(pattern=r"^H[0-9]{1,2}$", max_length=3)]
    text: TestText
    expect: Expect


class ReviewerReply(BaseModel):
    decision: Literal["finish", "more_tests"]
    tests: list[ReviewTest] = Field(default_factory=list, max_length=4)


#: The worked example of the synthesis prompt. Small models copy it; a reply that does is invalid (and repaired).
SYNTHESIS_EXAMPLE = (
    "Fires on animal nouns such as cat and dog, most strongly after The.",
    ("animal nouns", "nouns after The"),
)
#: The designer prompt's worked example: a hypothesis and its texts with expected levels.
DESIGNER_EXAMPLE = ("fires on animal nouns", (("The cat slept.", "high"), ("A dog barked at us.", "high"),
                                              ("The car stopped.", "low")))  # fmt: skip


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


#: Texts of the prompts' worked examples: a synthesis that repeats one (even one a designer copied into its tests and
#: the synthesis then copied from them) describes nothing it was shown.
_EXAMPLE_TEXTS = frozenset(
    _norm(x)
    for x in (SYNTHESIS_EXAMPLE[0], *SYNTHESIS_EXAMPLE[1], DESIGNER_EXAMPLE[0], *(t for t, _ in DESIGNER_EXAMPLE[1]))
)


#: A synthesis that shares a run of this many words with an example text copies it, even inside a longer sentence.
COPIED_RUN = 6


def _runs(words: Sequence[str], n: int = COPIED_RUN) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


def _copies_example(text: str) -> bool:
    if _norm(text) in _EXAMPLE_TEXTS:
        return True
    runs = _runs(text_words(text))
    return any(runs & _runs(text_words(example)) for example in _EXAMPLE_TEXTS)


def copies_designer_example(text: str) -> bool:
    """Whether a designer's test text repeats its prompt's worked example (it tests the example, not the claim)."""
    return repeats(text, [t for t, _ in DESIGNER_EXAMPLE[1]])


class SynthesisReply(BaseModel):
    description: Annotated[str, Field(min_length=10, max_length=300)]
    labels: list[Label] = Field(min_length=1, max_length=3)

    @field_validator("description")
    @classmethod
    def _not_the_example_description(cls, value: str) -> str:
        if _copies_example(value):
            raise ValueError("this copies the example of the instructions; describe the feature you were shown")
        return value

    @field_validator("labels")
    @classmethod
    def _not_the_example_labels(cls, value: list[str]) -> list[str]:
        if any(_copies_example(label) for label in value):
            raise ValueError("a label copies the example of the instructions; label the feature you were shown")
        distinct: dict[str, str] = {}
        for label in value:  # the same label twice is one facet, not two
            distinct.setdefault(_norm(label), label)
        return list(distinct.values())


SCHEMAS: dict[str, type[BaseModel]] = {
    "explainer": ExplainerReply,
    "designer": DesignerReply,
    "analyzer": AnalyzerReply,
    "reviewer": ReviewerReply,
    "synthesis": SynthesisReply,
    "generalizer": GeneralizerReply,
}


def schema_for(role: str, causal: bool = False) -> type[BaseModel]:
    """The reply schema of ``role`` (the designer's gains steered prompts when causal tests are on)."""
    return CausalDesignerReply if causal and role == "designer" else SCHEMAS[role]


def reply_tokens(role: str, causal: bool = False, schema: type[BaseModel] | None = None) -> int:
    """The reply token budget of ``role`` (or of ``schema``, asked of that role in place of its own): room for a
    full reply at the schema's bounds, one token per character (:func:`~sage_nb.llm.parsing.reply_token_bound`), so
    a schema-constrained reply is never cut off."""
    bound = reply_token_bound(schema or schema_for(role, causal))
    if bound is None:
        raise ValueError(f"the {role} schema leaves a string or a list unbounded: bound it, or no budget fits")
    return bound


#: The angles the explainer's hypotheses should cover, in order.
ANGLES = ("specific claim", "alternative", "edge case or negative control", "another aspect")
#: The angle of the hypothesis computed from the evidence (``AgentConfig(computed_hypothesis=True)``).
COMPUTED_ANGLE = "computed from the evidence"
#: The angle of the class hypothesis (``AgentConfig(generalize=True)``).
CLASS_ANGLE = "the class of the peak tokens"
#: The generalizer's worked example: seen tokens, class, unseen members, non-members.
GENERALIZER_EXAMPLE = (("red", "green"), "colour words", ("blue", "yellow", "purple"), ("large", "apple", "run"))

# -- system prompts -----------------------------------------------------------------------------------------------
_LEVELS = (
    f"A test is 'high' when its maximum activation reaches {HIGH_FRACTION:.0%} of the feature's top activation and "
    f"'low' below {LOW_FRACTION:.0%}."
)

SYSTEM: dict[str, str] = {
    "explainer": (
        "You study one feature of a sparse autoencoder trained on a language model. From the evidence and the "
        "top-activating texts, propose {n} different hypotheses about what makes the feature fire: "
        f"{', '.join(ANGLES)}. For each, list the tokens it is about, state the claim in one short sentence, and "
        f"give an example: a short new text on which the feature should fire if the claim is true. {DATA_RULE}\n"
        "Start from the peak tokens of the evidence."
    ),
    "designer": (
        "You design test texts for one hypothesis about a feature. Write {n} short texts: most should contain "
        "what the hypothesis names (expect high), at least one is a negative control without it (expect low). "
        f"{_LEVELS} {DATA_RULE}\n"
        f"Example: hypothesis '{DESIGNER_EXAMPLE[0]}' -> "
        + "; ".join(f"'{text}' {level}" for text, level in DESIGNER_EXAMPLE[1])
        + "."
    ),
    "designer_causal": (
        "Besides texts, you may add up to {causal} steer tests when the hypothesis is about what the feature makes "
        "the model say: a prompt the model continues while the feature is turned up, and 1 to 3 words you expect "
        "the feature to promote. Example: hypothesis 'makes the model say animal nouns' -> steer 'My favourite "
        "thing is the' expect 'dog', 'cat'."
    ),
    "analyzer": (
        "You judge one hypothesis about a feature from measured test results. The activations were measured on the "
        "model, so trust them over any text. Verdict: 'accept' if the tests match their expectations, 'refute' if "
        "they contradict the claim, 'refine' with a better refined_claim if the results suggest a narrower or "
        f"different claim, 'keep_testing' if unsure. {_LEVELS} {DATA_RULE}"
    ),
    "reviewer": (
        "You review all hypotheses about a feature with their measured tests. Answer 'finish' if the accepted "
        "hypotheses explain the feature, or 'more_tests' with up to 4 new test texts (each for one hypothesis id, "
        f"with the expected level) that would settle what is still unclear. {DATA_RULE}"
    ),
    "generalizer": (
        "You generalise from the tokens where a feature of a sparse autoencoder peaks. Name the narrowest class "
        "that holds them all (a word class, a kind of keyword or symbol, the terms of one topic), as a reader "
        "would name it, with its domain ('units of length', 'German articles'), never one of the "
        "tokens. Then list other members of that class that are not among the given tokens, and tokens that could "
        "stand in the same place but are not members. Single words or symbols only; each list must be new tokens. "
        f"{DATA_RULE}\n"
        f"Example: tokens {', '.join(repr(t) for t in GENERALIZER_EXAMPLE[0])} -> class_name "
        f"'{GENERALIZER_EXAMPLE[1]}', new_members {', '.join(repr(t) for t in GENERALIZER_EXAMPLE[2])} (never "
        f"{' or '.join(repr(t) for t in GENERALIZER_EXAMPLE[0])}), "
        f"non_members {', '.join(repr(t) for t in GENERALIZER_EXAMPLE[3])}."
    ),
    "synthesis": (
        "You write the final explanation of a feature from hypotheses that were tested on measured activations. "
        "Write a description (one or two sentences: what the feature fires on, citing tokens) and 1 to 3 short "
        "labels. Use more than one label only when the feature has distinct facets. Rely on accepted hypotheses; "
        f"never claim what the tests contradict. {DATA_RULE}\n"
        f"Example: description '{SYNTHESIS_EXAMPLE[0]}', labels "
        + ", ".join(f"'{label}'" for label in SYNTHESIS_EXAMPLE[1])
        + "."
    ),
}


# -- rendering of the compact state -------------------------------------------------------------------------------
def _quote(text: str) -> str:
    return "'" + visible(text).replace("'", "’") + "'"


def exemplar_lines(exemplars: Sequence[Exemplar], scale: float, side: int = EXEMPLAR_SIDE, pairs: bool = True) -> str:
    """Top exemplars as windows around their peak (peak in ⟦ ⟧), with their strongest token/activation pairs (0-10)
    unless ``pairs`` is False (the prompt then carries the evidence, which tabulates the peak tokens instead)."""
    lines = []
    for i, ex in enumerate(exemplars, 1):
        lo, hi = max(0, ex.peak - side), min(len(ex.tokens), ex.peak + side + 1)
        window = "".join(
            f"⟦{visible(t)}⟧" if j == ex.peak else visible(t) for j, t in enumerate(ex.tokens[lo:hi], start=lo)
        )
        line = f"E{i} ({_scaled(ex.max_act, scale)}/10): '{window.replace(chr(39), '’')}'"
        if pairs:
            ranked = sorted(range(lo, hi), key=lambda j: -ex.acts[j])[:EXEMPLAR_PAIRS]
            line += " | " + " ".join(
                f"{_quote(ex.tokens[j])}={_scaled(ex.acts[j], scale)}" for j in sorted(ranked) if ex.acts[j] > 0
            )
        lines.append(line)
    return "\n".join(lines)


def _scaled(value: float, scale: float) -> int:
    return int(round(10 * max(value, 0.0) / scale)) if scale > 0 else 0


def measurement_line(m: Measurement) -> str:
    """One measured test: expectation, observed level, fraction of top, and the peak in context."""
    expect = f"expected {m.expect}, " if m.expect else ""
    verdict = {"ok": "as expected", "partial": "partly", "miss": "NOT as expected", None: "measured"}[m.verdict]
    peak = f"peak {_quote(m.peak_token)} in '{m.snippet}'" if m.peak_token is not None else "nothing fired"
    return f"{_quote(m.text)}: {expect}got {m.level} ({m.fraction:.0%} of top), {verdict}; {peak}"


def effect_line(e: Effect) -> str:
    """One causal test: the steered prompt, what the model said without and with the feature, promoted tokens."""
    verdict = {"ok": "as expected", "miss": "NOT as expected", None: "measured"}[e.verdict]
    promoted = ", ".join(_quote(t) for t in e.promoted[:5])
    expect = f"expected {', '.join(_quote(w) for w in e.expect)}, " if e.expect else ""
    return (
        f"steer {_quote(e.prompt)}: {expect}{verdict}; clean {_quote(e.clean)} -> steered {_quote(e.steered)}; "
        f"promoted {promoted}; KL {e.kl:.2f}"
    )


def hypothesis_block(h: Hypothesis, max_tests: int = TESTS_SHOWN) -> str:
    """A hypothesis with its current-wording tests (most recent last) and their tally."""
    about = f" (tokens: {', '.join(_quote(t) for t in h.tokens)})" if h.tokens else ""
    lines = [f"{h.id} [{h.status}]: {h.claim}{about}"]
    tests = [t for t in h.tests if t.round >= h.since][-max_tests:]
    judged = [t for t in tests if t.verdict is not None]
    if judged:
        ok = sum(t.verdict == "ok" for t in judged)
        lines.append(f"  {ok}/{len(judged)} tests as expected:")
    lines += [f"  - {measurement_line(t)}" for t in tests]
    effects = [e for e in h.effects if e.round >= h.since][-max_tests:]
    if effects:
        ok = sum(e.verdict == "ok" for e in effects)
        lines.append(f"  {ok}/{len(effects)} steer tests as expected:")
        lines += [f"  - {effect_line(e)}" for e in effects]
    if not tests and not effects:
        lines.append("  (no tests yet)")
    return "\n".join(lines)


def _system(role: str, **values: object) -> dict[str, str]:
    return {"role": "system", "content": SYSTEM[role].format(**values)}


def _evidence(state: RunState) -> str:
    """The evidence block of the explainer's prompt. Only the explainer reads the corpus: the later roles read the
    measured tests on the board, which is where their decisions must rest."""
    return f"Evidence:\n{state.evidence_text}\n\n" if state.evidence_text else ""


def explainer_messages(state: RunState, n: int, sample: int | None = None) -> list[dict[str, str]]:
    """The explainer's messages; ``sample`` numbers one of several pooled samples (their requests differ)."""
    ask = f"Propose {n} hypotheses." if sample is None else f"Propose {n} hypotheses (attempt {sample + 1})."
    user = f"{_evidence(state)}Top-activating texts:\n{state.exemplar_text}\n\n{ask}"
    return [_system("explainer", n=n), {"role": "user", "content": user}]


def _peak_list(tokens: Sequence[str], words: Mapping[str, Sequence[str]]) -> str:
    """The peak tokens, each followed by the whole words it was a piece of in the exemplars."""
    shown = []
    for t in tokens:
        pieces = words.get(t, ())
        shown.append(_quote(t) + (f" (a piece of {', '.join(_quote(w) for w in pieces)})" if pieces else ""))
    return ", ".join(shown)


def generalizer_messages(
    state: RunState, tokens: Sequence[str], words: Mapping[str, Sequence[str]] | None = None
) -> list[dict[str, str]]:
    """The generalizer's messages: the evidence, the exemplars and the peak ``tokens`` to generalise from (with the
    whole ``words`` a token was a piece of, when it was)."""
    named = ", ".join(_quote(t) for t in tokens)
    user = (
        f"{_evidence(state)}Top-activating texts:\n{state.exemplar_text}\n\nThe feature peaks on "
        f"{_peak_list(tokens, words or {})}. Name their class. new_members: other tokens of that class, none of "
        f"{named}. non_members: tokens of another kind that could stand in the same place."
    )
    return [_system("generalizer"), {"role": "user", "content": user}]


@cache
def generalizer_prompt_words() -> frozenset[str]:
    """Words (three letters or more, case-folded) of the generalizer's system prompt and of its members call: a
    member it lists from these ('autoencoder', 'feature', 'peaks') was copied from the prompt, not from the class."""
    text = SYSTEM["generalizer"] + class_members_messages("x")[1]["content"]
    return frozenset(w for w in re.findall(r"[^\W\d_]+", text.casefold()) if len(w) >= 3)


def class_members_messages(name: str) -> list[dict[str, str]]:
    """The generalizer's messages when its first reply listed no new member: only the class ``name``, so that the
    seen tokens cannot be copied back (the loop drops any that are)."""
    user = (
        f"The class is '{name}'. class_name: '{name}'. new_members: several tokens of that class. non_members: "
        "tokens of another kind that could stand in the same place in a text."
    )
    return [_system("generalizer"), {"role": "user", "content": user}]


def measured_members(fired: Sequence[str], silent: Sequence[str]) -> str:
    """'fired on ... and stayed silent on ...' for members measured in the peaks' place."""
    said = []
    if fired:
        said.append(f"fired on {', '.join(_quote(t) for t in fired)}")
    if silent:
        said.append(f"stayed silent on {', '.join(_quote(t) for t in silent)}")
    return " and ".join(said)


def class_renamed_messages(
    messages: Sequence[Mapping[str, str]],
    name: str,
    problem: str,
    fired: Sequence[str] = (),
    silent: Sequence[str] = (),
) -> list[dict[str, str]]:
    """The generalizer's ``messages`` again, told why the class ``name`` it gave names no class (``problem``), and,
    when its members were measured in the peaks' place, which ``fired`` and which stayed ``silent``."""
    out = [dict(m) for m in messages]
    told = f"\n\nNot '{name}': {problem}."
    if silent:
        told += (
            f" Its members were put in the peaks' place; measured, the feature {measured_members(fired, silent)}. "
            f"class_name: the narrower kind that holds the peak tokens{' and the members that fired' if fired else ''}"
            ", not those that stayed silent, by what they mean or do."
        )
    else:
        told += " class_name: what kind of word or symbol they are, by what they mean or do."
    out[-1]["content"] += told
    return out


def reclass_messages(
    state: RunState, tokens: Sequence[str], tried: str, fired: Sequence[str], silent: Sequence[str]
) -> list[dict[str, str]]:
    """The generalizer's messages after the class ``tried`` was refuted: which of its members fired in the peaks'
    place and which stayed silent, and a request for a narrower class."""
    named = ", ".join(_quote(t) for t in tokens)
    said = measured_members(fired, silent)
    user = (
        f"Top-activating texts:\n{state.exemplar_text}\n\nThe feature peaks on {named}. The class '{tried}' was "
        f"tested by putting its other members in the peaks' place; measured, the feature {said}. "
        f"Name a narrower class: it must hold {named}{' and the members that fired' if fired else ''}, and not "
        "the members that stayed silent. new_members: tokens of the narrower class not yet tested. non_members: "
        "tokens of another kind that could stand in the same place."
    )
    return [_system("generalizer"), {"role": "user", "content": user}]


def class_breadth_messages(name: str) -> list[dict[str, str]]:
    """The generalizer's messages when the class ``name`` held on its first members: the name alone, and a request
    for many members, as varied as the class allows, so that its breadth is tested too."""
    user = (
        f"The class is '{name}'. members: {BREADTH_MEMBERS} different tokens of that class, as varied as the class "
        "allows."
    )
    return [_system("generalizer"), {"role": "user", "content": user}]


def class_claim(name: str, seen: Sequence[str], members: Sequence[str]) -> str:
    """The class hypothesis's wording: the class, the seen tokens and the unseen members it predicts."""
    shown = ", ".join(_quote(t) for t in seen[:3])
    more = ", ".join(_quote(t) for t in members[:3])
    return f"Fires on {name.strip().rstrip('.')} ({shown}), also on members the exemplars never showed ({more})"


def designer_messages(state: RunState, h: Hypothesis, n: int, causal: bool = False) -> list[dict[str, str]]:
    """The designer's messages; with ``causal`` its system prompt offers steer tests."""
    user = f"Hypothesis {hypothesis_block(h)}\n\nWrite {n} new test texts (different from earlier ones)."
    system = _system("designer", n=n)
    if causal:
        system["content"] += "\n" + SYSTEM["designer_causal"].format(causal=MAX_CAUSAL)
    return [system, {"role": "user", "content": user}]


def analyzer_messages(state: RunState, h: Hypothesis) -> list[dict[str, str]]:
    user = f"Hypothesis {hypothesis_block(h)}\n\nGive your verdict."
    return [_system("analyzer"), {"role": "user", "content": user}]


def reviewer_messages(state: RunState) -> list[dict[str, str]]:
    board = "\n".join(hypothesis_block(h, max_tests=4) for h in state.hypotheses)
    user = f"Hypotheses:\n{board}\n\nFinish, or ask for more tests?"
    return [_system("reviewer"), {"role": "user", "content": user}]


def synthesis_messages(state: RunState) -> list[dict[str, str]]:
    # a class hypothesis goes first among those of its status: it is the broadest claim the tests can support
    ranked = sorted(state.hypotheses, key=lambda h: (STATUS_ORDER[h.status], not h.members, h.id))
    board = "\n".join(hypothesis_block(h, max_tests=4) for h in ranked)
    accepted = "; ".join(h.claim for h in ranked if h.status == "accepted") or "none"
    user = f"Hypotheses, accepted first:\n{board}\n\nAccepted: {accepted}\n\nWrite the final explanation."
    return [_system("synthesis"), {"role": "user", "content": user}]
