"""Simulation scoring: an LLM predicts the feature's activation on every token from the explanation alone.

As in OpenAI's automated interpretability and Delphi, a simulator LLM sees the candidate text and a held-out
sample's tokens and predicts an activation from 0 to 10 for each token; the score is the Pearson correlation of
predicted and true activations (true ones normalised to 0-10 by the feature's scale, clipped at 10), pooled over all
tokens of all samples. Per-context correlations (undefined on non-activating samples) and their mean are details.

``mode="all_at_once"`` asks one call per sample for a list of exactly ``n`` integers (the schema fixes the length,
so constrained decoding always yields one prediction per token and position ``i`` of the list is token ``i``).
``mode="per_token"`` is the original per-token mode: one call per token position, bounded by ``max_calls``.
``mode="forced"`` reads instead of generating (teacher forcing, as OpenAI's simulator does): the reply lists every
token followed by a tab, and one forward pass per sample reads the distribution of the number after each token; the
earlier tokens' numbers are given as 0, so no reading depends on another. Each prediction sits on its own token,
which a generated list does not guarantee: a small simulator's list drifts away from the tokens it should follow.
It needs a backend that reads forced replies (the llama.cpp engine); others raise an error that says so. The run
of given zeros leans on a small reader: with Qwen2.5-Coder-1.5B the mean prediction falls from 0.30 on a window's
first 8 tokens to 0.03 from token 16 on, where the held-out windows place their peak
(``benchmarks/simulation_reader.py`` measures it on stored scores). ``filler="unknown"`` writes "unknown" in the
earlier slots instead: the drift goes, but the same reader then predicts about 1 on every token (0.91 where the
feature is silent, 1.25 where it fires) and scores every explainer lower (``benchmarks/reader_rescore.py``;
figures in ``docs/benchmarks.md``), so 0 stays the default.

Predictions are expected values over the digits' logprobs when the backend gives them (``details["method"]`` is
``"logprobs"``): at the generated token where a number starts, every alternative that spells a number from 0 to 10
(after the same prefix, e.g. a separator merged into the token) contributes ``exp(logprob) * value``, normalised
over those alternatives. When "10" is two tokens ("1", "0"), the mass of "1" is split by the next position: if "1"
was the generated token, ``P(next starts with "0")`` goes to 10 and the rest to 1; a "1" that was only an
alternative counts as 1 (its continuation is unknown, a small downward bias). Without logprobs (or when they cannot
be aligned with the reply) the predicted integers are used and the method is ``"integers"`` with a note.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Literal

from scipy.stats import pearsonr

from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, Sample, Score, Scorer
from sage_nb.llm.base import ForcedReading, LLMRequest, LLMResult, TokenLogprob

MODES = ("all_at_once", "per_token", "forced")
#: LLM role tags: ``all_at_once`` and ``forced`` calls, ``per_token`` calls.
ROLE, TOKEN_ROLE = "simulation", "simulation_token"
#: Default bound on the calls of ``mode="per_token"`` (one call per token).
DEFAULT_MAX_CALLS = 400

_NUMBER = re.compile(r"-?\d+")
_LEADING_NUMBER = re.compile(r"\s*(\d+)")


# -- logprobs -> expected values --------------------------------------------------------------------------------------
def number_spans(text: str, key: str) -> list[tuple[int, int]] | None:
    """Character spans of the integers in the JSON value of ``key`` in ``text`` (a list, or one number)."""
    found = re.search(rf'"{re.escape(key)}"\s*:\s*', text)
    if found is None:
        return None
    start = found.end()
    if not text.startswith("[", start):
        number = _NUMBER.match(text, start)
        return [number.span()] if number else None
    end = text.find("]", start)
    if end < 0:
        return None
    return [m.span() for m in _NUMBER.finditer(text, start, end)]


def _alternatives(position: TokenLogprob) -> tuple[tuple[str, float], ...]:
    """The top alternatives at a position, with the generated token added when the top list misses it."""
    top = position.top
    if any(token == position.token for token, _ in top):
        return top
    return (*top, (position.token, position.logprob))


def _zero_next(logprobs: Sequence[TokenLogprob], j: int) -> float:
    """Probability that the token after position ``j`` starts with '0' (continuing a '1' into '10')."""
    if j + 1 >= len(logprobs):
        return 0.0
    return min(1.0, sum(math.exp(lp) for token, lp in _alternatives(logprobs[j + 1]) if token.startswith("0")))


def value_distribution(logprobs: Sequence[TokenLogprob], j: int, prefix: str = "") -> dict[int, float]:
    """Unnormalised probabilities of the values 0-10 for a number that starts inside generated token ``j``,
    after ``prefix`` (the part of token ``j`` before the number)."""
    chosen = logprobs[j]
    dist: dict[int, float] = {}
    for token, logprob in _alternatives(chosen):
        if not token.startswith(prefix):
            continue
        rest = token[len(prefix) :]
        match = _LEADING_NUMBER.match(rest)
        if match is None:
            continue
        value, p = int(match.group(1)), math.exp(logprob)
        if value == 1 and match.end() == len(rest):  # '1' may go on to '10' in the next token
            q = _zero_next(logprobs, j) if token == chosen.token else 0.0
            if q > 0:
                dist[10] = dist.get(10, 0.0) + p * q
            dist[1] = dist.get(1, 0.0) + p * (1 - q)
        elif value <= prompts.SIM_SCALE:
            dist[value] = dist.get(value, 0.0) + p
    return dist


def reading_value(reading: TokenLogprob) -> float | None:
    """Expected value 0-10 of the number that follows a forced reading's point (None when no alternative is a
    number). Where "10" is two tokens, a "1" counts as 1 (its continuation is not read)."""
    dist = value_distribution([reading], 0)
    total = sum(dist.values())
    return sum(v * p for v, p in dist.items()) / total if total > 0 else None


def expected_values(
    text: str, logprobs: Sequence[TokenLogprob], key: str, values: Sequence[int]
) -> tuple[list[float] | None, str | None]:
    """Expected value of each predicted number (the integers ``values`` of ``key`` in the reply ``text``) over the
    digits' logprobs; ``(None, reason)`` when the logprobs cannot be aligned with the reply."""
    tokens = [lp.token for lp in logprobs]
    if "".join(tokens) != text:
        return None, "the logprob tokens do not spell the reply"
    spans = number_spans(text, key)
    if spans is None or [int(text[a:b]) for a, b in spans] != list(values):
        return None, "the predicted numbers could not be found in the reply"
    starts = list(accumulate((len(t) for t in tokens), initial=0))
    out = []
    for a, b in spans:
        j = bisect_right(starts, a) - 1
        dist = value_distribution(logprobs, j, text[starts[j] : a])
        total = sum(dist.values())
        if total <= 0:
            return None, f"no digit alternatives where the number {text[a:b]} starts"
        out.append(sum(v * p for v, p in dist.items()) / total)
    return out, None


# -- correlation ------------------------------------------------------------------------------------------------------
def pearson(true: Sequence[float], predicted: Sequence[float]) -> tuple[float | None, str | None]:
    """Pearson's r of two equally long sequences, or ``(None, reason)`` when it is undefined."""
    if len(true) < 2:
        return None, "fewer than two tokens"
    if max(predicted) == min(predicted):
        return None, "the predictions are constant"
    if max(true) == min(true):
        return None, "the true activations are constant"
    r = float(pearsonr(true, predicted).statistic)
    return (r, None) if math.isfinite(r) else (None, "the correlation is not finite")


def normalised_acts(acts: Sequence[float], scale: float) -> list[float]:
    """Activations on the simulator's 0-10 scale: ``10 * act / scale``, clipped to [0, 10] (raw when no scale)."""
    if scale <= 0:
        return [max(a, 0.0) for a in acts]
    return [min(float(prompts.SIM_SCALE), prompts.SIM_SCALE * max(a, 0.0) / scale) for a in acts]


# -- records ----------------------------------------------------------------------------------------------------------
@dataclass
class ContextSimulation:
    """The simulation of one held-out sample: true (0-10) and predicted activations (None where a call failed)."""

    context: int
    band: str
    true: list[float]
    predicted: list[float | None]
    method: str  # 'logprobs', 'integers', 'mixed' or 'failed'
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def pairs(self) -> tuple[list[float], list[float]]:
        """(true, predicted) over the tokens that have a prediction."""
        kept = [(t, p) for t, p in zip(self.true, self.predicted, strict=True) if p is not None]
        return [t for t, _ in kept], [p for _, p in kept]

    def correlation(self) -> tuple[float | None, str | None]:
        return pearson(*self.pairs())

    def to_dict(self) -> dict[str, Any]:
        r, why = self.correlation()
        return {
            "context": self.context,
            "band": self.band,
            "n_tokens": len(self.true),
            "predicted_tokens": sum(p is not None for p in self.predicted),
            "correlation": r,
            "undefined": why if r is None else None,
            "method": self.method,
            "errors": self.errors,
            "true": [round(t, 4) for t in self.true],
            "predicted": [None if p is None else round(p, 4) for p in self.predicted],
        }


def _method(methods: Sequence[str]) -> str:
    kinds = set(methods) - {"failed"}
    if not kinds:
        return "failed"
    return kinds.pop() if len(kinds) == 1 else "mixed"


def _interleave(samples: Sequence[Sample]) -> list[Sample]:
    """Activating and zero samples alternately, so that a call budget keeps both kinds."""
    active = [s for s in samples if s.band != "zero"]
    zeros = [s for s in samples if s.band == "zero"]
    out = []
    for i in range(max(len(active), len(zeros))):
        out += active[i : i + 1] + zeros[i : i + 1]
    return out


# -- the scorer -------------------------------------------------------------------------------------------------------
class SimulationScorer(Scorer):
    """Pearson correlation of simulated and true activations over the held-out samples' tokens.

    ``mode``: ``"all_at_once"`` (one call per sample), ``"per_token"`` (one call per token, at most
    ``max_calls``, whole samples taken activating and zero alternately) or ``"forced"`` (one forced reading per
    sample; always logprobs; ``filler`` names what the earlier slots hold, see :data:`prompts.SIM_FILLERS`).
    ``logprobs``: use the expected value over the digits' logprobs when the backend gives them (else the predicted
    integers).
    """

    name = "simulation"

    def __init__(
        self,
        mode: Literal["all_at_once", "per_token", "forced"] = "all_at_once",
        logprobs: bool = True,
        max_calls: int = DEFAULT_MAX_CALLS,
        temperature: float | None = 0.0,
        filler: prompts.Filler = "zero",
    ) -> None:
        prompts.filler_slot(filler)  # an unknown name fails here, before any reading
        if mode not in MODES:
            raise ValueError(f"Unknown mode {mode!r}: use one of {MODES}")
        if max_calls < 1:
            raise ValueError(f"max_calls must be at least 1, got {max_calls}")
        self.mode = mode
        self.logprobs = logprobs
        self.max_calls = max_calls
        self.temperature = temperature
        self.filler = filler

    def __repr__(self) -> str:
        filler = f", filler={self.filler!r}" if self.mode == "forced" else ""
        return f"SimulationScorer(mode={self.mode!r}, logprobs={self.logprobs}, max_calls={self.max_calls}{filler})"

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Simulate every held-out sample from ``candidate``'s text and correlate with the true activations."""
        explanation = candidate.text(setup.representation)
        samples = [s for s in setup.samples if s.tokens]
        notes: list[str] = []
        if self.mode == "per_token":
            chosen = self._budgeted(samples)
            if len(chosen) < len(samples):
                notes.append(f"{len(samples) - len(chosen)} samples skipped: max_calls={self.max_calls}")
            contexts, calls = self._per_token(explanation, chosen, setup), sum(len(s.tokens) for s in chosen)
        elif self.mode == "forced":
            contexts, calls = self._forced(explanation, samples, setup), len(samples)
        else:
            contexts, calls = self._all_at_once(explanation, samples, setup), len(samples)
        return self._summarise(candidate, setup, contexts, calls, notes)

    # -- calls --------------------------------------------------------------------------------------------------
    def _request(self, messages: list[dict[str, str]], schema: Any, role: str, setup: EvalSetup, tokens: int) -> Any:
        return LLMRequest(
            messages=messages,
            schema=schema,
            role=role,
            feature=str(setup.feature),
            temperature=self.temperature,
            seed=setup.seed,
            max_tokens=tokens,
            logprobs=prompts.SIM_TOP_LOGPROBS if self.logprobs else None,
        )

    def _predictions(self, result: LLMResult[Any], values: list[int], key: str) -> tuple[list[float], str, str | None]:
        """(predictions, method, fallback note) of one successful call."""
        integers = [float(v) for v in values]
        if not self.logprobs:
            return integers, "integers", "logprobs were not requested: predicted integers used"
        if not result.logprobs:
            return integers, "integers", "the backend returned no logprobs: predicted integers used"
        expected, why = expected_values(result.raw_text, result.logprobs, key, values)
        if expected is None:
            return integers, "integers", f"{why}: predicted integers used"
        return expected, "logprobs", None

    def _all_at_once(self, explanation: str, samples: list[Sample], setup: EvalSetup) -> list[ContextSimulation]:
        requests = [
            self._request(
                prompts.simulation_messages(explanation, s.tokens),
                prompts.simulation_schema(len(s.tokens)),
                ROLE,
                setup,
                prompts.simulation_reply_tokens(len(s.tokens)),
            )
            for s in samples
        ]
        results = setup.llm.complete_many(requests, raise_unavailable=False) if requests else []
        out = []
        for sample, result in zip(samples, results, strict=True):
            true = normalised_acts(sample.acts, setup.scale)
            if not result.ok:
                error = f"{result.error_kind}: {result.error}"
                out.append(ContextSimulation(sample.context, sample.band, true, [None] * len(true), "failed", [error]))
                continue
            predicted, method, note = self._predictions(result, list(result.parsed.activations), "activations")
            notes = [note] if note else []
            out.append(ContextSimulation(sample.context, sample.band, true, list(predicted), method, notes=notes))
        return out

    def _forced(self, explanation: str, samples: list[Sample], setup: EvalSetup) -> list[ContextSimulation]:
        requests = [
            LLMRequest(
                messages=prompts.forced_simulation_messages(explanation, s.tokens),
                schema=ForcedReading,
                role=ROLE,
                feature=str(setup.feature),
                seed=setup.seed,
                logprobs=prompts.SIM_FORCED_TOP_LOGPROBS,
                forced=prompts.forced_simulation_segments(s.tokens, self.filler),
            )
            for s in samples
        ]
        results = setup.llm.complete_many(requests, raise_unavailable=False) if requests else []
        out = []
        for sample, result in zip(samples, results, strict=True):
            true = normalised_acts(sample.acts, setup.scale)
            readings = result.logprobs or []
            if not result.ok or len(readings) != len(true):
                error = f"{result.error_kind}: {result.error}" if not result.ok else (
                    f"{len(readings)} readings for {len(true)} tokens")  # fmt: skip
                out.append(ContextSimulation(sample.context, sample.band, true, [None] * len(true), "failed", [error]))
                continue
            predicted = [reading_value(r) for r in readings]
            missing = sum(p is None for p in predicted)
            notes = [f"{missing} readings had no number among the top alternatives"] if missing else []
            out.append(ContextSimulation(sample.context, sample.band, true, predicted, "logprobs", notes=notes))
        return out

    def _budgeted(self, samples: list[Sample]) -> list[Sample]:
        chosen, left = [], self.max_calls
        for sample in _interleave(samples):
            if len(sample.tokens) <= left:
                chosen.append(sample)
                left -= len(sample.tokens)
        return chosen

    def _per_token(self, explanation: str, samples: list[Sample], setup: EvalSetup) -> list[ContextSimulation]:
        requests = [
            self._request(
                prompts.token_simulation_messages(explanation, s.tokens, i),
                prompts.TokenSimulationReply,
                TOKEN_ROLE,
                setup,
                prompts.ANSWER_REPLY_TOKENS,
            )
            for s in samples
            for i in range(len(s.tokens))
        ]
        results = setup.llm.complete_many(requests, raise_unavailable=False) if requests else []
        out, at = [], 0
        for sample in samples:
            ctx = ContextSimulation(sample.context, sample.band, normalised_acts(sample.acts, setup.scale), [], "")
            methods = []
            for result in results[at : at + len(sample.tokens)]:
                if not result.ok:
                    ctx.predicted.append(None)
                    ctx.errors.append(f"{result.error_kind}: {result.error}")
                    methods.append("failed")
                    continue
                predicted, method, note = self._predictions(result, [result.parsed.activation], "activation")
                ctx.predicted.append(predicted[0])
                methods.append(method)
                if note and note not in ctx.notes:
                    ctx.notes.append(note)
            at += len(sample.tokens)
            ctx.method = _method(methods)
            out.append(ctx)
        return out

    # -- the score ----------------------------------------------------------------------------------------------
    def _summarise(
        self, candidate: Candidate, setup: EvalSetup, contexts: list[ContextSimulation], calls: int, notes: list[str]
    ) -> Score:
        true: list[float] = []
        predicted: list[float] = []
        for ctx in contexts:
            t, p = ctx.pairs()
            true += t
            predicted += p
        value, why = pearson(true, predicted) if contexts else (None, "no held-out samples")
        per_context = [ctx.to_dict() for ctx in contexts]
        defined = [c["correlation"] for c in per_context if c["correlation"] is not None]
        failed = sum(ctx.method == "failed" for ctx in contexts)
        method = _method([ctx.method for ctx in contexts])
        if why:
            notes.append(f"correlation undefined: {why}")
        if failed:
            notes.append(f"{failed} of {len(contexts)} samples failed (see details.contexts)")
        for ctx in contexts:
            notes += [n for n in ctx.notes if n not in notes]
        details = {
            "mode": self.mode,
            **({"filler": self.filler} if self.mode == "forced" else {}),
            "method": method,
            "representation": setup.representation,
            "scale": setup.scale,
            "calls": calls,
            "n_contexts": len(contexts),
            "failed": failed,
            "mean_context_correlation": sum(defined) / len(defined) if defined else None,
            "contexts": per_context,
        }
        return Score(self.name, setup.feature, candidate.explainer, value, len(true), details, notes)
