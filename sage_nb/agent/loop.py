"""Run the SAGE loop on one feature: call the roles, measure their texts on the target, checkpoint every step.

:class:`SageLoop` does one phase per :meth:`~SageLoop.step` and saves the :class:`RunState` after it, so a run
killed at any point resumes from its last finished step. What a reply means is decided in
:mod:`sage_nb.agent.states`; prompts and schemas live in :mod:`sage_nb.agent.prompts`.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

from pydantic import BaseModel

from sage_nb.agent import prompts
from sage_nb.agent.causal_tests import run_effects, supports_causal
from sage_nb.agent.class_names import BARE_KIND, class_name_problem, kind_member, names_shape, qualified_kind
from sage_nb.agent.context_probe import (
    STRONG_FRACTION,
    context_tails,
    plain_sentences,
    probed_words,
    quotes_plain_frame,
    word_activation,
)
from sage_nb.agent.minimal_pairs import candidate_contexts, minimal_pairs, pair_tests, window, window_text
from sage_nb.agent.records import (
    PHASE_ROLES,
    STATUS_ORDER,
    Effect,
    EvidenceItem,
    Explanation,
    Hypothesis,
    Measurement,
    RunState,
    Turn,
)
from sage_nb.agent.states import (
    CLASS_CALLS,
    MAX_CLASSES,
    Bounds,
    after_analysis,
    close_all_open,
    evidence_verdict,
    names_accepted_class,
    names_refuted_members,
    needs_design,
    over_budget,
    rests_on_accepted,
    settle,
)
from sage_nb.agent.substitutions import member_texts, peak_words, substituted_members, substitution_tests
from sage_nb.core.text import names_token, token_label, token_phrase, undo_prompt_marks, unvisible
from sage_nb.data.records import FeatureData, TokenActivations
from sage_nb.evidence import HIGH_FRACTION, Evidence, TestEvidence, feature_scale, level_of, looks_like_code
from sage_nb.explainers.top_tokens import CLASS_PHRASES, TopTokensExplainer
from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult

if TYPE_CHECKING:  # the protocol only types arguments; importing it would load torch
    from sage_nb.targets.base import FeatureTarget

#: Evidence lines kept in the final explanation.
MAX_EVIDENCE = 12
#: Temperature of retried calls and of extra explainer samples (the first try uses the backend's default).
SAMPLE_TEMPERATURE = 0.8
#: Explainer samples for small local models when ``AgentConfig.explainer_samples`` is None (1 for other backends).
SMALL_MODEL_SAMPLES = 3

#: Who writes the test texts of a design round (see :attr:`AgentConfig.designer`).
DESIGNERS = ("llm", "random")

StepCallback = Callable[[RunState], None]

#: An accepted class is refuted by its breadth test when at least this many (and at least half) of its further
#: members stay silent in the peaks' place (:meth:`SageLoop._check_breadth`).
BREADTH_SILENT = 3


@dataclass
class AgentConfig:
    """Settings of a run besides its bounds."""

    bounds: Bounds = field(default_factory=Bounds)
    top_k: int = 10  # exemplars shown to the explainer
    use_evidence: bool = True  # give the explainer the computed Evidence (in place of per-exemplar token lists)
    temperature: float | None = None  # None: the backend's default
    seed: int = 0
    max_tokens: int | None = None  # per reply; None: prompts.reply_tokens(role), the role schema's bound
    #: Explainer calls whose hypotheses are pooled and ranked by their measured examples (None: by backend).
    explainer_samples: int | None = None
    #: "llm": the designer writes targeted tests. "random": the SAGE paper's designer ablation, where each round
    #: measures random texts from ``random_texts`` instead (expected high when they contain one of the
    #: hypothesis's tokens, low otherwise); no designer call is made. The reviewer is unchanged.
    designer: str = "llm"
    random_texts: Sequence[str] = ()
    #: Let the designer add causal tests (steer the feature on a prompt; needs a target with a model).
    causal: bool = False
    #: Open H1 with the sentence computed from the evidence (:class:`~sage_nb.explainers.top_tokens.TopTokensExplainer`,
    #: no LLM); it is designed for, measured and judged like the explainer's claims, which fill the other slots.
    #: None: by backend (:meth:`computed_for`: on for the small local model when the evidence is used).
    computed_hypothesis: bool | None = None
    #: Test the computed H1 (while its wording is unrefined) with minimal pairs from the mined contexts
    #: (:mod:`sage_nb.agent.minimal_pairs`) instead of designer texts: no designer call, and tests that test the claim.
    pair_tests: bool = True
    #: With the computed H1, ask the generalizer (one call) for the class its peak tokens belong to, members the
    #: exemplars never showed and tokens outside it; open that class as H2, tested by putting members and
    #: non-members in the peaks' place in mined windows (:mod:`sage_nb.agent.substitutions`, no designer call).
    generalize: bool = False
    #: With the computed H1, measure its words in plain sentences and short tails of its mined windows once its
    #: pairs are in (:mod:`sage_nb.agent.context_probe`, no LLM call); H1's wording then says whether the feature
    #: fires on them in plain sentences too or needs its context, quoting the shortest tail measured to fire.
    context_probe: bool = False

    def __post_init__(self) -> None:
        if self.designer not in DESIGNERS:
            raise ValueError(f"designer must be one of {DESIGNERS}, not {self.designer!r}")
        if self.designer == "random" and not self.random_texts:
            raise ValueError("designer='random' needs random_texts, e.g. default_corpus().sentences(500)")

    def samples_for(self, llm: LLMBackend) -> int:
        """Explainer samples for ``llm``: the setting, or more when the explainer's model is a small one."""
        if self.explainer_samples is not None:
            return max(1, self.explainer_samples)
        if llm.size_for("explainer") != "small":
            return 1
        return SMALL_MODEL_SAMPLES - 1 if self.computed_for(llm) else SMALL_MODEL_SAMPLES  # H1 fills one slot

    def computed_for(self, llm: LLMBackend) -> bool:
        """Whether H1 opens with the computed sentence for ``llm``: the setting, or (when None) whenever the evidence
        is used and the explainer is an embedded model (small or capable: from raw exemplars both drift to topics,
        while the computed sentence names token-level features exactly)."""
        if self.computed_hypothesis is not None:
            return self.computed_hypothesis
        return self.use_evidence and llm.size_for("explainer") is not None


class TestPlan(NamedTuple):
    """The texts one round measures for a hypothesis, each with what it is expected to do ('high' / 'low')."""

    hypothesis: Hypothesis
    texts: list[str]
    expects: list[str]


def measurements(
    rows: Sequence[TokenActivations],
    expects: Sequence[str | None],
    scale: float,
    source: str,
    round_: int = 0,
) -> list[Measurement]:
    """Judge measured rows against their expectations (relative to ``scale``) as :class:`Measurement` records."""
    out = []
    for row, expect in zip(rows, expects, strict=True):
        ev = TestEvidence.from_row(row, scale, expect)
        out.append(
            Measurement(
                text=row.text,
                expect=ev.expectation,
                tokens=list(row.tokens),
                acts=[round(float(a), 5) for a in row.acts],
                max_act=round(ev.max_act, 5),
                fraction=round(ev.fraction, 4),
                level=ev.level,
                verdict=ev.verdict,
                peak_token=ev.peak_token,
                snippet=ev.snippet,
                source=source,
                round=round_,
            )
        )
    return out


class SageLoop:
    """The state machine's driver for one feature of ``target`` with the LLM ``llm``.

    ``feature_data`` holds the mined exemplars (see :meth:`FeatureIndex.feature_data`). ``save`` is called with the
    state after every step (a :class:`~sage_nb.agent.results.RunFolder` provides it); ``on_step`` too, e.g. a
    :class:`~sage_nb.widgets.Stepper` following the run live.
    """

    def __init__(
        self,
        target: FeatureTarget,
        feature_data: FeatureData,
        llm: LLMBackend,
        config: AgentConfig | None = None,
        *,
        state: RunState | None = None,
        save: StepCallback | None = None,
        on_step: StepCallback | None = None,
    ) -> None:
        self.target = target
        self.fd = feature_data
        self.llm = llm
        self.config = config or AgentConfig()
        self.bounds = self.config.bounds
        if self.config.causal and not supports_causal(target):
            raise ValueError(f"causal tests need a target with a model to steer; {type(target).__name__} has none")
        if state is not None and state.feature != feature_data.index:
            raise ValueError(f"checkpoint is for feature {state.feature}, not {feature_data.index}")
        self.state = state or RunState(feature=feature_data.index, started=time.time())
        self._save = save
        self._on_step = on_step
        self._computed_names: tuple[list[str], list[str]] | None = None

    # -- driving --------------------------------------------------------------------------------------------------
    def run(self, max_steps: int | None = None, progress: bool = False) -> RunState:
        """Step until the run is done (or ``max_steps`` steps were taken); returns the state."""
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(desc=f"feature {self.state.feature}", unit="step", leave=False)
        steps = 0
        while not self.state.done and (max_steps is None or steps < max_steps):
            self.step()
            steps += 1
            if bar is not None:
                bar.set_postfix_str(f"{self.state.phase}, {self.state.llm_calls} calls")
                bar.update()
        if bar is not None:
            bar.close()
        return self.state

    def step(self) -> RunState:
        """Do the current phase's work, move to the next phase, checkpoint, and notify."""
        s = self.state
        if s.done:
            return s
        handler = {
            "exemplars": self._exemplars,
            "explain": self._explain,
            "design": self._design,
            "analyze": self._analyze,
            "review": self._review,
            "synthesize": self._synthesize,
        }[s.phase]
        started = time.perf_counter()
        role = s.phase
        handler()
        s.seconds[role] = round(s.seconds.get(role, 0.0) + time.perf_counter() - started, 4)
        if s.done:
            s.finished = time.time()
        if self._save is not None:
            self._save(s)
        if self._on_step is not None:
            self._on_step(s)
        return s

    # -- LLM calls ------------------------------------------------------------------------------------------------
    def _request(
        self,
        role: str,
        messages: list[dict[str, str]],
        attempt: int = 0,
        sampled: bool = False,
        schema: type[BaseModel] | None = None,
    ) -> LLMRequest[Any]:
        """The request for one call (``schema``: in place of the role's own). Retries and pooled samples are sampled
        (one seed per attempt, so the samples of one attempt share a batch; their messages differ)."""
        cfg = self.config
        varied = attempt > 0 or sampled
        schema = schema or prompts.schema_for(role, cfg.causal)
        return LLMRequest(
            messages=messages,
            schema=schema,
            role=role,
            feature=str(self.state.feature),
            temperature=SAMPLE_TEMPERATURE if varied else cfg.temperature,
            seed=cfg.seed + 100 * attempt if varied or cfg.temperature else None,
            max_tokens=cfg.max_tokens or prompts.reply_tokens(role, cfg.causal, schema),
        )

    def _call_many(
        self,
        role: str,
        conversations: list[list[dict[str, str]]],
        sampled: bool = False,
        schema: type[BaseModel] | None = None,
    ) -> list[LLMResult[Any]]:
        """One call per conversation (batched), retrying failures up to ``bounds.retries`` times within budget."""
        results: list[LLMResult[Any] | None] = [None] * len(conversations)
        todo = list(range(len(conversations)))
        for attempt in range(self.bounds.retries + 1):
            if not todo or (attempt and over_budget(self.state, self.bounds, len(todo))):
                break
            got = self.llm.complete_many(
                [self._request(role, conversations[i], attempt, sampled, schema) for i in todo]
            )
            for i, result in zip(todo, got, strict=True):
                self._count(result)
                results[i] = result
            todo = [i for i in todo if not results[i].ok]  # type: ignore[union-attr]
        return results  # type: ignore[return-value]

    def _count(self, result: LLMResult[Any]) -> None:
        s = self.state
        s.llm_calls += 1
        s.tokens += result.usage.total_tokens
        s.failures += 0 if result.ok else 1
        s.replayed = s.replayed or result.replayed
        row = s.usage.setdefault(result.role, {"calls": 0, "prompt_tokens": 0, "completion_tokens": 0, "failed": 0})
        row["calls"] += 1
        row["prompt_tokens"] += result.usage.prompt_tokens
        row["completion_tokens"] += result.usage.completion_tokens
        row["failed"] += 0 if result.ok else 1
        s.generation_s = round(s.generation_s + (result.generation_s or result.latency_s or 0.0), 4)

    def _turn(
        self,
        role: str,
        messages: list[dict[str, str]] | None,
        result: LLMResult[Any] | None,
        hypothesis: str | None = None,
        measured: list[Measurement] | None = None,
        decision: str = "",
    ) -> Turn:
        s = self.state
        reply: dict[str, Any] | None = None
        if result is not None and result.ok and isinstance(result.parsed, BaseModel):
            reply = result.parsed.model_dump()
        turn = Turn(
            index=len(s.turns),
            role=role,
            hypothesis=hypothesis,
            prompt=messages[-1]["content"] if messages else "",
            reply=reply,
            ok=result is None or result.ok,
            error=None if result is None or result.ok else f"{result.error_kind}: {result.error}",
            measurements=measured or [],
            decision=decision,
            board=s.board(),
            claims={h.id: h.claim for h in s.hypotheses},
            tokens=result.usage.total_tokens if result is not None else 0,
            seconds=round(result.latency_s, 4) if result is not None else 0.0,
        )
        s.turns.append(turn)
        return turn

    def _measure(self, texts: list[str]) -> list[TokenActivations]:
        return self.target.activations(texts, self.state.feature, truncate=True) if texts else []

    def _measure_plans(self, plans: Sequence[TestPlan], source: str) -> list[list[Measurement]]:
        """Measure every plan's (hypothesis, texts, expectations) in one batch; one list of measurements per plan."""
        rows = self._measure([t for _, texts, _ in plans for t in texts])
        out, at = [], 0
        for h, texts, expects in plans:
            out.append(measurements(rows[at : at + len(texts)], expects, self.state.scale, source, h.rounds))
            at += len(texts)
        return out

    # -- phases ---------------------------------------------------------------------------------------------------
    def _exemplars(self) -> None:
        s, fd = self.state, self.fd
        s.scale = feature_scale(fd)
        top = fd.top[: self.config.top_k]
        if not top or s.scale <= 0:
            s.stop_reason = "the feature never fired in the mined corpus: nothing to explain"
            self._turn("exemplars", None, None, decision=s.stop_reason)
            s.phase = "done"
            return
        use = self.config.use_evidence
        s.exemplar_text = prompts.exemplar_lines(top, s.scale, pairs=not use)  # the evidence tabulates the peaks
        s.evidence_text = Evidence.from_feature(fd).to_text() if use else ""
        rows = [TokenActivations("".join(ex.tokens), list(ex.tokens), list(ex.acts)) for ex in top]
        shown = measurements(rows, [None] * len(rows), s.scale, "exemplar")
        self._turn("exemplars", None, None, measured=shown, decision=f"{len(top)} top exemplars")
        s.phase = "explain"

    def _explain(self) -> None:
        s, n = self.state, self.bounds.hypotheses
        computed = computed_candidate(self.fd) if self.config.computed_for(self.llm) else None
        first = 1 if computed is not None else 0
        klass = self._generalize(computed[2]) if computed is not None and self.config.generalize else None
        if computed is not None and n <= first + (klass is not None):  # no slot left for the explainer
            claim, example, tokens = computed
            s.hypotheses.append(Hypothesis("H1", claim, prompts.COMPUTED_ANGLE, tokens=tokens, computed=True))
            s.hypotheses += [klass] if klass is not None else []
            shown = measurements(self._measure([example]), ["high"], s.scale, "explainer")
            opened = f"{len(s.hypotheses)} hypothes{'es' if klass else 'is'} opened"
            also = ", H2 is the class of its tokens" if klass is not None else ""
            calls = "no LLM call" if klass is None else "no explainer call"
            decision = f"{opened}; H1 is computed from the evidence{also} ({calls})"
            self._turn("explainer", None, None, measured=shown, decision=decision)
            s.phase = "design"
            return
        k = min(self.config.samples_for(self.llm), max(1, self.bounds.llm_calls - s.llm_calls - 1))
        asked = n - first  # the explainer fills the slots the computed hypothesis leaves
        conversations = [prompts.explainer_messages(s, asked, sample=i if k > 1 else None) for i in range(k)]
        messages = conversations[0]
        results = self._call_many("explainer", conversations, sampled=k > 1)
        candidates: list[tuple[str, str, list[str]]] = []
        for result in results:
            for proposed in result.parsed.hypotheses if result.ok else []:
                claim = " ".join(unvisible(proposed.claim).split())
                tokens = [unvisible(t) for t in proposed.tokens if t.strip()]
                worded = any(c.isalnum() for c in claim)  # a claim of marks or quotes says nothing: dropped
                if worded and claim.lower() not in {c.lower() for c, _, _ in candidates}:
                    candidates.append((claim, unvisible(proposed.example).strip() or claim, tokens))
        if not candidates and computed is None:
            failed = next((r for r in results if not r.ok), None)
            why = f"{failed.error_kind}: {failed.error}" if failed else "no claim in the replies held a word"
            s.stop_reason = f"the explainer gave no valid hypotheses ({why})"
            self._turn("explainer", messages, failed or results[0], decision=s.stop_reason)
            s.phase = "done"
            return
        if computed is not None:
            candidates = [computed] + [c for c in candidates if c[0].lower() != computed[0].lower()]
        examples = measurements(
            self._measure([e for _, e, _ in candidates]), ["high"] * len(candidates), s.scale, "explainer"
        )
        order = list(range(first, len(candidates)))
        if k > 1:  # pooled samples: keep the claims whose own example fires most
            order.sort(key=lambda i: -examples[i].fraction)
        order = list(range(first)) + order
        kept = order[:n]
        for number, i in enumerate(kept, 1):
            if i < first:
                angle = prompts.COMPUTED_ANGLE
            elif k == 1 and i - first < len(prompts.ANGLES):
                angle = prompts.ANGLES[i - first]
            else:
                angle = "ranked by its example"
            claim, _, tokens = candidates[i]
            h = Hypothesis(id=f"H{number}", claim=claim, angle=angle, tokens=tokens, computed=i < first)
            s.hypotheses.append(h)
        if klass is not None:  # the class of H1's tokens takes the slot after it
            s.hypotheses.insert(first, klass)
            del s.hypotheses[n:]
            for number, h in enumerate(s.hypotheses, 1):
                h.id = f"H{number}"
        decision = f"{len(s.hypotheses)} hypotheses opened"
        if k > 1:
            decision += (
                f" (best of {len(candidates) - first} claims from {k} samples, ranked by their measured examples)"
            )
        if first:
            decision += "; H1 is computed from the evidence"
        if klass is not None:
            decision += f", {klass.id} is the class of its tokens"
        best = next((r for r in results if r.ok), results[0])
        turn = self._turn("explainer", messages, best, measured=[examples[i] for i in order], decision=decision)
        turn.reply = {"hypotheses": [{"tokens": t, "claim": c, "example": e} for c, e, t in candidates[first:]]}
        s.phase = "design"

    def _generalize(self, seen: list[str]) -> Hypothesis | None:
        """The generalizer's class of the computed H1's tokens ``seen`` as a hypothesis (numbered by the caller), or
        None when its call fails or it names no class with a new member and a non-member (see :meth:`_ask_class`)."""
        if self.bounds.hypotheses < 2 or not seen:
            return None
        words = peak_words(self.fd, seen)
        messages = prompts.generalizer_messages(self.state, seen, words)
        # the whole words of seen pieces are seen too: listed back as members, they would test nothing new
        found = self._ask_class(messages, seen, {w.casefold() for ws in words.values() for w in ws})
        return None if found is None else self._class_hypothesis("H2", seen, *found)

    def _code_share(self) -> float:
        """The share of the feature's top exemplars that look like code."""
        top = self.fd.top
        return sum(looks_like_code("".join(ex.tokens)) for ex in top) / len(top) if top else 0.0

    def _window_non_members(self, member: Callable[[str], bool], taken: Sequence[str], n: int = 2) -> list[str]:
        """The ``n`` words met most often in the mined windows that are not members by the test ``member`` (nor
        ``taken``): controls that stand in the same texts as the peaks, for a kind the evidence qualified."""
        gone = {t.strip().casefold() for t in taken}
        words = (token.strip() for ex in candidate_contexts(self.fd) for token in window(ex))
        counts = Counter(
            w for w in words if w.isidentifier() and len(w) > 1 and not member(w) and w.casefold() not in gone
        )
        return [w for w, _ in counts.most_common(n)]

    def _ask_class(
        self, messages: list[dict[str, str]], seen: list[str], tried: set[str], refuted: Sequence[str] = ()
    ) -> tuple[str, list[str], list[str]] | None:
        """(class name, new members, non-members) from the generalizer, or None. Members that are ``seen`` tokens or
        were ``tried`` (case-folded) are dropped; when none is left, a further call asks for members of the class it
        named, showing only the name so that the seen tokens cannot be copied back. A name that names no class
        (:func:`class_name_problem`) is asked for again, told why, once per problem (so a second, different problem
        is told too; the new name may get its members call); a reply with no name, or one of the ``refuted``
        classes again, gets a sampled retry of the same request."""
        first = ""
        renamed = False
        told: set[str] = set()
        gone = {r.casefold(): r for r in refuted}
        member: Callable[[str], bool] | None = None  # the membership test of a kind qualified by the evidence
        bare, from_windows = "", False  # the generalizer's bare kind, and whether its controls are window words
        contrast: tuple[list[str], list[str]] = ([], [])  # a bare kind's members that fired / stayed silent, once
        for attempt in range(CLASS_CALLS):
            (result,) = self._call_many("generalizer", [messages], sampled=attempt > 0 and not first)
            if not result.ok:
                self._turn("generalizer", messages, result, decision="no class hypothesis: the generalizer failed")
                return None
            name, members, outside = _class_of(result.parsed, seen)
            members = [m for m in members if m.casefold() not in tried]
            name = first or name  # a members call keeps the class it was asked about
            why = "no new member or non-member"
            problem = class_name_problem(name, seen) if not first and any(c.isalnum() for c in name) else ""
            kind = qualified_kind(name, seen, self._code_share()) if problem else None
            if kind is not None:  # a bare kind the seen tokens qualify: tested under its qualified name
                bare, (name, member), problem = name, kind, ""
            member = member or kind_member(name)  # a class named as such a kind keeps its membership test too
            if member is not None:
                members = [m for m in members if member(m)]
                outside = [t for t in outside if not member(t)]
                if members and not outside:  # the evidence that qualified the kind gives its controls too
                    outside = self._window_non_members(member, [*seen, *tried, *members])
                    from_windows = bool(outside)
            measured: list[Measurement] = []
            if problem == BARE_KIND and members and problem not in told and attempt < CLASS_CALLS - 1:
                # measured before it is asked again
                placed = self._measure_members(seen, members)
                contrast, measured = fired_and_silent(placed), [x for _, x in placed]
            if name.casefold() in gone:
                name, why = "", f"the refuted class '{gone[name.casefold()]}' named again"
            elif problem:
                why, rejected, name = f"'{name}' names no class: {problem}", name, ""
                if measured:
                    why += f"; its members in the peaks' place: the feature {prompts.measured_members(*contrast)}"
            if members and outside and any(c.isalnum() for c in name):
                qualified = ""
                if bare:
                    windows = "; its non-members are words of the mined windows" if from_windows else ""
                    qualified = (
                        f" (the generalizer's '{bare}', qualified by the evidence: every seen token is one{windows})"
                    )
                decision = (
                    f"class '{name}'{qualified} proposed; to test: members {', '.join(map(repr, members))} (expect "
                    f"high), non-members {', '.join(map(repr, outside))} (expect low) in the peaks' place"
                )
                self._turn("generalizer", messages, result, decision=decision)
                return name, members, outside
            again = ""
            if (attempt == 0 or (renamed and not first)) and any(c.isalnum() for c in name):
                first, again = name, f"; asking for members of '{name}' alone"
            elif problem and problem not in told:
                again = "; asking again, told why"
            elif attempt == 0:
                again = "; asking once more (sampled)"
            if attempt == CLASS_CALLS - 1:
                again = ""  # no call is left
            decision = f"no class hypothesis: {why}{again}"
            self._turn("generalizer", messages, result, measured=measured, decision=decision)
            if not again:
                return None
            if first:
                messages = prompts.class_members_messages(first)
            elif problem:
                fired, silent = contrast if problem == BARE_KIND else ([], [])
                messages, renamed = prompts.class_renamed_messages(messages, rejected, problem, fired, silent), True
                told.add(problem)
        return None

    def _measure_members(
        self, seen: Sequence[str], members: Sequence[str], round_: int = 0
    ) -> list[tuple[str, Measurement]]:
        """(member, measurement) for each of ``members`` put in the peaks' place of a mined window
        (:func:`~sage_nb.agent.substitutions.member_texts`), expected high; empty when no window qualifies."""
        placed = member_texts(self.fd, seen, members, self.state.scale)
        rows = self._measure([text for _, text in placed])
        measured = measurements(rows, ["high"] * len(placed), self.state.scale, "substitutions", round_)
        return [(m, x) for (m, _), x in zip(placed, measured, strict=True)]

    def _class_hypothesis(
        self, hid: str, seen: list[str], name: str, members: list[str], outside: list[str]
    ) -> Hypothesis:
        claim = prompts.class_claim(name, seen, members)
        return Hypothesis(hid, claim, prompts.CLASS_ANGLE, tokens=[*seen, *members], members=members, outside=outside,
                          class_name=name)  # fmt: skip

    def _reclass(self, h: Hypothesis) -> None:
        """After the class hypothesis ``h`` was refuted by its substitutions, ask for a narrower class (told which
        members fired and which stayed silent; at most :data:`MAX_CLASSES` classes per run) and open it as a new
        hypothesis, tested the same way."""
        s = self.state
        classes = [x for x in s.hypotheses if x.class_name]
        if len(classes) >= MAX_CLASSES or over_budget(s, self.bounds, 2):
            return
        seen = [t for t in h.tokens if t not in h.members]
        fired, silent = substituted_members(h)
        messages = prompts.reclass_messages(s, seen, h.class_name, fired, silent)
        tried = {m.casefold() for x in classes for m in x.members}
        found = self._ask_class(messages, seen, tried, refuted=[x.class_name for x in classes])
        if found is not None:
            s.hypotheses.append(self._class_hypothesis(f"H{len(s.hypotheses) + 1}", seen, *found))

    def _check_breadth(self, h: Hypothesis) -> None:
        """Test the breadth of the accepted class ``h``: its first members are the generalizer's most typical ones
        ('hour', 'minute', 'day' for 'time words'), so one more call asks, showing the class name alone, for many
        members as varied as the class allows, and each new one is put in the peaks' place (no designer call).
        Members that stay silent refute the class, as in its first tests, and the generalizer is asked for a
        narrower one told which fired (:meth:`_reclass`), when at least :data:`BREADTH_SILENT` and at least half of
        them stayed silent: a varied list holds the generalizer's mistakes too (the 1.5B gave '<>' and '><>' for
        'comparison operators'), a majority of silent members is the class's breadth. Once per run, for the first
        class accepted."""
        s = self.state
        if any(x.breadth_checked for x in s.hypotheses) or over_budget(s, self.bounds, 2):
            return
        h.breadth_checked = True
        messages = prompts.class_breadth_messages(h.class_name)
        (result,) = self._call_many("generalizer", [messages], schema=prompts.BreadthReply)
        if not result.ok:
            self._turn("generalizer", messages, result, h.id, decision="breadth not tested: the generalizer failed")
            return
        seen = [t for t in h.tokens if t not in h.members]
        # the class's own words are no members of it ('constant' for 'constant', 'month' for 'month names')
        named = {w.casefold() for w in re.findall(r"\w+", h.class_name)}
        have = {t.casefold() for t in h.tokens} | prompts.generalizer_prompt_words() | named
        member = kind_member(h.class_name)
        new = [in_case_of(seen, m) for m in _new_words(result.parsed.members, have)]
        candidates = [m for m in new if member is None or member(m)]
        placed = self._measure_members(seen, candidates, max(h.rounds - 1, h.since))
        if not placed:
            decision = f"breadth not tested: no new member of '{h.class_name}' to put in the peaks' place"
            self._turn("generalizer", messages, result, h.id, decision=decision)
            return
        fired, silent = fired_and_silent(placed)
        said = prompts.measured_members(fired, silent) or "fired on none and stayed silent on none of them"
        decision = f"breadth of '{h.class_name}' tested on {len(placed)} more members: the feature {said}; "
        broader = len(silent) >= max(BREADTH_SILENT, len(placed) / 2)
        # a class that stands keeps the members that fired; a few silent ones stay in this turn's record
        kept = [(m, x) for m, x in placed if broader or x.level != "low"]
        h.members += [m for m, _ in kept]
        h.tests += [x for _, x in kept]
        if broader:
            h.status = "refuted"
            h.reason = f"members of '{h.class_name}' stayed silent in the peaks' place ({', '.join(map(repr, silent))})"
            decision += "refuted"
        else:
            few = f" (fewer than {BREADTH_SILENT} or half silent: not counted against it)" if silent else ""
            decision += f"it stands{few}"
        self._turn("generalizer", messages, result, h.id, measured=[x for _, x in placed], decision=decision)
        if broader:
            self._reclass(h)

    def _design(self) -> None:
        s, b = self.state, self.bounds
        pending = needs_design(s, b)
        budget = over_budget(s, b, len(pending))
        while pending and budget:
            pending = pending[:-1]
            budget = over_budget(s, b, len(pending))
        if not pending:
            self._end_testing(budget or "no hypothesis left to test")
            return
        hyps = [s.hypothesis(hid) for hid in pending]
        if self.config.designer == "random":
            self._design_random(hyps)
            return
        paired = {h.id: self._pairs(h) for h in hyps}
        designed = [h for h in hyps if not paired[h.id][0]]
        if len(designed) < len(hyps):
            self._measure_pairs([h for h in hyps if paired[h.id][0]], paired)
        if designed:
            self._design_llm(designed)
        s.pending = [h.id for h in hyps]
        s.phase = "analyze"

    def _pairs(self, h: Hypothesis) -> tuple[list[str], list[str]]:
        """Texts and expectations from the mined contexts: minimal pairs for a computed wording of H1,
        substitutions for an unrefined class hypothesis (empty for any other hypothesis, or when the mined contexts
        hold no new test)."""
        if h.substitutes:
            seen = [t for t in h.tokens if t not in h.members]
            skip = [t.text for t in h.tests]
            n = self.bounds.tests_per_turn
            return substitution_tests(self.fd, seen, h.members, h.outside, self.state.scale, n, skip)
        if not (self.config.computed_for(self.llm) and self.config.pair_tests and h.computed):
            return [], []
        if self._computed_names is None:  # the same for every round: compute it once
            self._computed_names = computed_names(self.fd)
        classes = self._computed_names[1]
        pairs = minimal_pairs(self.fd, h.tokens, self.state.scale, classes, skip=[t.text for t in h.tests])
        return pair_tests(pairs, self.bounds.tests_per_turn)

    def _measure_pairs(self, hyps: list[Hypothesis], paired: dict[str, tuple[list[str], list[str]]]) -> None:
        for source, chosen in (("pairs", [h for h in hyps if not h.substitutes]), ("substitutions", [
                h for h in hyps if h.substitutes])):  # fmt: skip
            plans = [TestPlan(h, *paired[h.id]) for h in chosen]
            for (h, _, _), measured in zip(plans, self._measure_plans(plans, source), strict=True):
                if source == "substitutions":
                    self._record_substitutions(h, measured)
                    continue
                self._record_pairs(h, measured, "texts from the mined contexts measured")
                self._widen(h, measured)
                if self.config.context_probe and h.computed and not any(t.source == "context" for t in h.tests):
                    self._probe_context(h)

    def _record_pairs(self, h: Hypothesis, measured: list[Measurement], what: str) -> None:
        h.tests += measured
        h.rounds += 1
        decision = (
            f"{len(measured)} {what} ({len(measured) // 2} minimal pairs: the named tokens kept, expect high / "
            "taken out, expect low; no LLM call)"
        )
        self._turn("designer", None, None, h.id, measured, decision)

    def _probe_context(self, h: Hypothesis) -> None:
        """Measure H1's words in plain sentences and short tails of its mined windows; say in its wording whether
        the feature fires on them in plain sentences too or needs its context, and quote the shortest tail that
        fired."""
        words = probed_words(h.tokens)
        if not words:
            return
        plain = [(word, text) for word in words for text in plain_sentences(word)]
        tails = context_tails(self.fd, h.tokens)
        rows = self._measure([text for _, text in plain] + tails)
        scale = self.state.scale
        # each plain sentence is judged on the probed word's own activation, not its frame's
        levels = [
            level_of(word_activation(r.tokens, r.acts, w) / scale if scale > 0 else 0.0)
            for (w, _), r in zip(plain, rows[: len(plain)], strict=True)
        ]
        whole = [m.level for m in measurements(rows[: len(plain)], [None] * len(plain), scale, "context")]
        fired = [r for r in rows[len(plain) :] if r.acts and max(r.acts) >= HIGH_FRACTION * scale]
        strong = [r for r in fired if max(r.acts) >= STRONG_FRACTION * scale]
        # the shortest tail that fires strongly, else the strongest one
        quoted = (
            min(strong, key=lambda r: len(r.text)) if strong else max(fired, key=lambda r: max(r.acts), default=None)
        )
        named = ", ".join(f"'{w}'" for w in words)
        silent = all(level == "low" for level in levels)
        # a sentence whose frame fired elsewhere is shown without an expectation: its maximum is not the word's
        shown = list(rows[: len(plain)])
        expects = ["low" if silent and w == "low" else None for w in whole]
        if all(level == "high" for level in levels):
            # the mined context stays in view: a reader told only "any text" writes prose, which fires less
            wording, expects = f"it fires on {named} in plain sentences too", ["high"] * len(plain)
            if quoted is not None:
                wording = f"it fires most in contexts like '{quoted.text}', and on {named} in plain sentences too"
                shown, expects = [*shown, quoted], [*expects, "high"]
        elif quoted is not None:
            wording = f"it fires most in contexts like '{quoted.text}'"
            wording += f", not on {named} in a plain sentence" if silent else ""
            shown, expects = [*shown, quoted], [*expects, "high"]
        elif silent:
            wording = f"it needs more context than a plain sentence or a few tokens: {named} alone stayed silent"
        else:
            wording = ""
        measured = measurements(shown, expects, scale, "context", max(h.rounds - 1, h.since))
        h.tests += measured
        if wording:
            h.history.append(h.claim)
            h.claim = f"{h.claim.rstrip('.')}; {wording}."
            decision = f"context probe ({len(measured)} texts, no LLM call): {wording}"
        else:
            decision = f"context probe ({len(measured)} texts, no LLM call): plain sentences mixed, wording kept"
        self._turn("designer", None, None, h.id, measured, decision)

    def _record_substitutions(self, h: Hypothesis, measured: list[Measurement]) -> None:
        h.tests += measured
        h.rounds += 1
        decision = (
            f"{len(measured)} texts from the mined contexts measured with the peak token replaced "
            f"({len(measured) // 2} pairs: an unseen member, expect high / a non-member, expect low; no LLM call)"
        )
        self._turn("designer", None, None, h.id, measured, decision)

    def _widen(self, h: Hypothesis, measured: list[Measurement]) -> None:
        """When texts with the named tokens taken out still fire high on other tokens, add those tokens to the
        computed claim (a refinement made from measurements, no LLM call) and measure its new pairs at once."""
        if h.refinements >= self.bounds.refinements_per_hypothesis or evidence_verdict(h) == "accept":
            return  # no refinement left, or the claim is already supported (widening would drop that support)
        added = widening_tokens(measured, h.tokens)
        if not added:
            return
        wider = [*h.tokens, *(token_label(t) for t in added)]
        classes = self._computed_names[1] if self._computed_names else []
        pairs = minimal_pairs(self.fd, wider, self.state.scale, classes, skip=[t.text for t in h.tests])
        if not pairs:
            return
        h.history.append(h.claim)
        h.claim, h.tokens = widened_claim(h.claim, added), wider
        h.reason = "texts with the named tokens taken out still fired on " + ", ".join(map(token_phrase, added))
        h.refinements += 1
        h.since = h.rounds
        (measured,) = self._measure_plans([TestPlan(h, *pair_tests(pairs, self.bounds.tests_per_turn))], "pairs")
        self._record_pairs(h, measured, f"texts measured for the claim widened from the measurements: {h.reason}")

    def _design_llm(self, hyps: list[Hypothesis]) -> None:
        s, b = self.state, self.bounds
        causal = self.config.causal
        conversations = [prompts.designer_messages(s, h, b.tests_per_turn, causal) for h in hyps]
        results = self._call_many("designer", conversations)
        plans: list[TestPlan] = []
        copied: list[int] = []
        contradicted: list[int] = []
        for h, result in zip(hyps, results, strict=True):
            texts, expects, copies, wrong = [], [], 0, 0
            named = [t.strip() for t in h.tokens if len(t.strip()) >= 2]
            if result.ok:
                seen = {t.text for t in h.tests}
                for test in result.parsed.tests:
                    text = unvisible(test.text).strip()
                    if text and prompts.copies_designer_example(text):
                        copies += 1  # it would test the prompt's example, not this hypothesis
                    elif text and test.expect == "low" and names_token(text, named):
                        wrong += 1  # a control must leave out what the claim names: its expectation contradicts it
                    elif text and text not in seen and len(texts) < b.tests_per_turn:
                        seen.add(text)
                        texts.append(text)
                        expects.append(test.expect)
            plans.append(TestPlan(h, texts, expects))
            copied.append(copies)
            contradicted.append(wrong)
        measured_plans = self._measure_plans(plans, "designer")
        for (h, _, _), measured, result, messages, copies, wrong in zip(
            plans, measured_plans, results, conversations, copied, contradicted, strict=True
        ):
            effects = self._effects(h, result) if causal and result.ok else []
            h.tests += measured
            h.effects += effects
            h.rounds += 1
            decision = f"{len(measured)} texts measured" if result.ok else "no valid tests: the round is used up"
            if copies:
                decision += f", {copies} copied from the prompt's example dropped"
            if wrong:
                decision += f", {wrong} expected low though they hold a named token dropped"
            if effects:
                decision += f", {len(effects)} steer tests run"
            turn = self._turn("designer", messages, result, h.id, measured, decision)
            turn.effects = effects

    def _effects(self, h: Hypothesis, result: LLMResult[Any]) -> list[Effect]:
        """Run the designer's steer tests for ``h`` (new prompts only, at most ``MAX_CAUSAL``)."""
        seen = {e.prompt for e in h.effects}
        tests = []
        for test in getattr(result.parsed, "steer", [])[: prompts.MAX_CAUSAL]:
            prompt = unvisible(test.prompt).strip()
            if prompt and prompt not in seen:
                seen.add(prompt)
                tests.append((prompt, [unvisible(w).strip() for w in test.expect if w.strip()]))
        return run_effects(self.target, self.state.feature, tests, self.state.scale, h.rounds) if tests else []

    def _design_random(self, hyps: list[Hypothesis]) -> None:
        """The designer ablation: random texts, expectations from the hypothesis's tokens, no LLM call."""
        s, n = self.state, self.bounds.tests_per_turn
        plans = []
        for h in hyps:
            rng = random.Random(f"{self.config.seed}-{s.feature}-{h.id}-{h.rounds}")
            seen = {t.text for t in h.tests}
            pool = [t for t in self.config.random_texts if t not in seen]
            texts = rng.sample(pool, min(n, len(pool)))
            marks = [t.strip().lower() for t in h.tokens if t.strip()]
            plans.append(TestPlan(h, texts, ["high" if any(m in x.lower() for m in marks) else "low" for x in texts]))
        for (h, _, _), measured in zip(plans, self._measure_plans(plans, "random"), strict=True):
            h.tests += measured
            h.rounds += 1
            self._turn("designer", None, None, h.id, measured, f"{len(measured)} random texts measured")
        s.pending = [h.id for h in hyps]
        s.phase = "analyze"

    def _analyze(self) -> None:
        s, b = self.state, self.bounds
        hyps = [s.hypothesis(hid) for hid in s.pending]
        budget = over_budget(s, b, len(hyps))
        if budget:
            self._end_testing(budget)
            return
        conversations = [prompts.analyzer_messages(s, h) for h in hyps]
        results = self._call_many("analyzer", conversations)
        for h, result, messages in zip(hyps, results, conversations, strict=True):
            if result.ok:
                reply = result.parsed
                decision = settle(h, reply.verdict, reply.reason, unvisible(reply.refined_claim), b)
            else:
                decision = settle(h, None, "", "", b) + " (analyzer failed)"
            self._turn("analyzer", messages, result, h.id, decision=decision)
        for h in hyps:
            if self.config.generalize and h.class_name and h.status == "refuted":
                self._reclass(h)  # a refuted class asks for a narrower one, tested in the next round
            elif self.config.generalize and h.class_name and h.status == "accepted" and not h.history:
                self._check_breadth(h)  # an accepted class is tested on more members, as varied as it allows
        s.pending = []
        s.phase = after_analysis(s, b)

    def _review(self) -> None:
        s, b = self.state, self.bounds
        budget = over_budget(s, b, 1)
        if budget:
            self._end_testing(budget)
            return
        messages = prompts.reviewer_messages(s)
        (result,) = self._call_many("reviewer", [messages])
        s.review_rounds += 1
        known = {h.id for h in s.hypotheses}
        tests = (
            [t for t in result.parsed.tests if t.hypothesis in known and unvisible(t.text).strip()] if result.ok else []
        )
        if not result.ok or result.parsed.decision == "finish" or not tests:
            why = "finish" if result.ok else "reviewer failed"
            if result.ok and result.parsed.decision == "more_tests":
                why = "no usable tests suggested"
            self._turn("reviewer", messages, result, decision=f"{why}: synthesize")
            s.phase = "synthesize"
            return
        rows = self._measure([unvisible(t.text).strip() for t in tests])
        touched: list[str] = []
        measured_all: list[Measurement] = []
        for test, row in zip(tests, rows, strict=True):
            h = s.hypothesis(test.hypothesis)
            (m,) = measurements([row], [test.expect], s.scale, "reviewer", max(h.rounds - 1, h.since))
            h.tests.append(m)
            measured_all.append(m)
            if h.id not in touched:
                touched.append(h.id)
                h.status = "open"  # re-judged by the analyzer with the new measurements
        self._turn("reviewer", messages, result, measured=measured_all, decision=f"more tests for {', '.join(touched)}")
        s.pending = touched
        s.phase = "analyze"

    def _end_testing(self, reason: str) -> None:
        s = self.state
        close_all_open(s, f"testing ended: {reason}")
        s.notes.append(reason)
        self._turn(PHASE_ROLES[s.phase], None, None, decision=f"{reason}: synthesize")
        s.pending = []
        s.phase = "synthesize"

    def _synthesize(self) -> None:
        s = self.state
        if not s.hypotheses:
            s.stop_reason = "no hypotheses to synthesise"
            s.phase = "done"
            return
        messages = prompts.synthesis_messages(s)
        (result,) = self._call_many("synthesis", [messages])
        evidence = final_evidence(s.hypotheses)
        accepted = [h.claim for h in sorted(s.hypotheses, key=lambda h: not h.class_name) if h.status == "accepted"]
        written = None
        if result.ok:
            reply = result.parsed
            labels = [undo_prompt_marks(label) for label in reply.labels if undo_prompt_marks(label)]
            written = Explanation(undo_prompt_marks(reply.description), labels, evidence)
        why = "failed" if written is None else unfaithful(written, s.hypotheses)
        if written is not None and why is None:
            s.explanation = written
            decision = "explanation written"
        elif accepted:
            s.explanation = Explanation("; ".join(accepted), accepted[:3], evidence, source="hypotheses")
            decision = f"synthesis {why}: the explanation lists the accepted hypotheses"
        else:
            s.stop_reason = f"synthesis failed ({result.error_kind}) and no hypothesis was accepted"
            decision = s.stop_reason
        self._turn("synthesis", messages, result, decision=decision)
        s.phase = "done"


def unfaithful(written: Explanation, hypotheses: Sequence[Hypothesis]) -> str | None:
    """Why a written synthesis may not stand (the first problem found), or None when it rests on what was measured:
    it names an accepted hypothesis and every accepted class, no member its tests refuted, and no probe sentence."""
    said = " ".join([written.description, *written.labels])
    if not rests_on_accepted(said, hypotheses):
        return "names nothing the accepted hypotheses name"
    if not names_accepted_class(said, hypotheses):
        return "does not name the accepted class"
    refuted = names_refuted_members(written.description, written.labels, hypotheses)
    if refuted:
        return f"names members its tests refuted ({', '.join(map(repr, refuted))})"
    if quotes_plain_frame(said):
        return "quotes a plain sentence of the context probe as a context"
    return None


def fired_and_silent(placed: Sequence[tuple[str, Measurement]]) -> tuple[list[str], list[str]]:
    """The members whose measurement in the peaks' place was high, and those whose was low."""
    return [m for m, x in placed if x.level == "high"], [m for m, x in placed if x.level == "low"]


def _class_of(reply: Any, seen: Sequence[str]) -> tuple[str, list[str], list[str]]:
    """(class name, new members, non-members) of a generalizer reply: members that are seen tokens or words of the
    generalizer's prompt (:func:`~sage_nb.agent.prompts.generalizer_prompt_words`) are dropped, and so are
    non-members of the seen tokens' own shape when the class is that shape (a digit is no control for 'digits', a
    '(' is one for 'closing brackets'). Members take the seen tokens' case (:func:`in_case_of`): they are tested in
    the peaks' place, where 'tuesday' for 'Monday' would test the case, not the class."""
    have = {t.casefold() for t in seen}
    copied = prompts.generalizer_prompt_words() - have  # words of the prompt listed as members were copied from it
    members = [in_case_of(seen, m) for m in _new_words(reply.new_members, have | copied)]
    name = " ".join(unvisible(reply.class_name).split())
    # e.g. every seen token is a digit and the class is 'digits': no digit stands outside it
    shared = {shape for shape in set.intersection(*(_shape(t) for t in seen)) if names_shape(name, shape)}
    taken = have | {m.casefold() for m in members}
    outside = [t for t in _new_words(reply.non_members, taken) if not shared & _shape(t)]
    return name, members, outside


def in_case_of(seen: Sequence[str], word: str) -> str:
    """``word`` in the case every seen token with a letter shares: Capitalised ('Monday', 'May'), UPPER ('HTTP'),
    or as written when they share none (or are lower case)."""
    lettered = [t.strip() for t in seen if any(c.isalpha() for c in t)]
    if not lettered or not word[:1].isalpha():
        return word
    if all(t.isupper() and sum(c.isalpha() for c in t) > 1 for t in lettered):
        return word.upper()
    if all(t[:1].isupper() and not t.isupper() for t in lettered):
        return word[:1].upper() + word[1:]
    return word


def _shape(token: str) -> set[str]:
    """The shape classes of ``token`` that decide membership by themselves: 'digit', 'punctuation'."""
    body = token.strip()
    out = {"digit"} if body.isdigit() else set()
    return out | ({"punctuation"} if body and not any(c.isalnum() for c in body) else set())


def _new_words(words: Sequence[str], have: set[str]) -> list[str]:
    """``words`` stripped of prompt marks, without blanks, repeats and those in ``have`` (case-folded)."""
    out: list[str] = []
    for word in words:
        word = unvisible(word).strip()
        if word and word.casefold() not in have and word.casefold() not in {w.casefold() for w in out}:
            out.append(word)
    return out


def computed_candidate(feature_data: FeatureData) -> tuple[str, str, list[str]]:
    """(claim, example, tokens) of the hypothesis computed from the evidence: the top-tokens sentence, the strongest
    exemplar's window up to two tokens past its peak (a corpus text, so it fires), and the named peak tokens."""
    candidate = TopTokensExplainer().explain(feature_data)
    example = window_text(feature_data.top[0])
    return candidate.description, example, [t for t in candidate.labels if t not in CLASS_PHRASES.values()]


#: Tokens a computed claim may gain in one widening.
MAX_WIDENED = 3


def widening_tokens(measured: Sequence[Measurement], named: Sequence[str]) -> list[str]:
    """Peak tokens of the texts that were expected low yet fired high, whose labels ``named`` does not hold: the
    tokens the feature fires on besides the named ones, strongest first, at most :data:`MAX_WIDENED`."""
    have = {t.casefold() for t in named}
    out: list[str] = []
    for m in sorted(measured, key=lambda m: -m.max_act):
        if m.expect != "low" or m.level != "high" or m.peak_token is None:
            continue
        label = token_label(m.peak_token).casefold()
        if label not in have and len(out) < MAX_WIDENED:
            have.add(label)
            out.append(m.peak_token)
    return out


def widened_claim(claim: str, added: Sequence[str]) -> str:
    """``claim`` extended by the tokens :func:`widening_tokens` found."""
    also = ", ".join(token_phrase(t) for t in added)
    return f"{claim.rstrip('.')}; also on {also}, which fired with the named tokens taken out."


def computed_names(feature_data: FeatureData) -> tuple[list[str], list[str]]:
    """The token labels and the token classes (keys of ``CLASS_PHRASES``) the computed sentence names."""
    labels = TopTokensExplainer().explain(feature_data).labels
    classes = [c for c, phrase in CLASS_PHRASES.items() if phrase in labels]
    return [t for t in labels if t not in CLASS_PHRASES.values()], classes


def final_evidence(hypotheses: Sequence[Hypothesis], limit: int = MAX_EVIDENCE) -> list[EvidenceItem]:
    """Measured tests behind the explanation: accepted hypotheses' tests first, then the others', strongest first."""
    items = []
    for h in sorted(hypotheses, key=lambda h: STATUS_ORDER[h.status]):
        for t in sorted(h.current_tests, key=lambda t: -t.max_act):
            items.append(EvidenceItem(t.text, t.max_act, t.fraction, h.id, t.expect, bool(t.agrees)))
    return items[:limit]
