"""Detection and fuzzing (Delphi's classification scorers): can an LLM tell where the feature fires?

:class:`DetectionScorer` shows each held-out sample and asks whether it contains what the explanation describes;
activating samples are the positives, non-activating ('zero') samples the negatives. :class:`FuzzingScorer` marks
tokens: in each activating sample the tokens at or above half the sample's maximum (positives), and as many tokens
chosen at random (seeded) in a zero sample (negatives), and asks whether the marked tokens are what the explanation
describes. Both report balanced accuracy (the mean of the true-positive and true-negative rates), so the ratio of
positives to negatives does not move the score; a failed call is recorded and left out.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, Sample, Score, Scorer
from sage_nb.evidence import SPAN_FRACTION
from sage_nb.llm.base import LLMRequest, LLMResult


@dataclass
class Judgement:
    """One yes/no question: the sample, its true label, the LLM's answer (None when the call failed)."""

    sample: Sample
    label: bool
    answer: bool | None
    marked: list[int] | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {"context": self.sample.context, "band": self.sample.band, "label": self.label, "answer": self.answer}
        if self.marked is not None:
            out["marked"] = self.marked
        if self.error is not None:
            out["error"] = self.error
        return out


def balanced_accuracy(judgements: Sequence[Judgement]) -> tuple[float | None, dict[str, Any], list[str]]:
    """(balanced accuracy, counts and rates, notes) over the answered judgements; None without both classes."""
    answered = [j for j in judgements if j.answer is not None]
    tp = sum(j.label and j.answer for j in answered)
    fn = sum(j.label and not j.answer for j in answered)
    tn = sum(not j.label and not j.answer for j in answered)
    fp = sum(not j.label and j.answer for j in answered)
    tpr = tp / (tp + fn) if tp + fn else None
    tnr = tn / (tn + fp) if tn + fp else None
    notes = []
    failed = len(judgements) - len(answered)
    if failed:
        notes.append(f"{failed} of {len(judgements)} calls failed (see details.items)")
    if tpr is None:
        notes.append("balanced accuracy undefined: no answered positives")
    if tnr is None:
        notes.append("balanced accuracy undefined: no answered negatives")
    value = (tpr + tnr) / 2 if tpr is not None and tnr is not None else None
    details = {"tpr": tpr, "tnr": tnr, "tp": tp, "fn": fn, "tn": tn, "fp": fp, "failed": failed}
    return value, details, notes


def _answer(result: LLMResult[Any]) -> tuple[bool | None, str | None]:
    if not result.ok:
        return None, f"{result.error_kind}: {result.error}"
    return result.parsed.answer == "yes", None


class _YesNoScorer(Scorer):
    """Shared machinery: one yes/no call per item (batched), balanced accuracy over the answers."""

    role = "yes_no"

    def __init__(self, temperature: float | None = 0.0) -> None:
        self.temperature = temperature

    def _ask(self, setup: EvalSetup, messages: list[list[dict[str, str]]]) -> list[LLMResult[Any]]:
        requests = [
            LLMRequest(
                messages=m,
                schema=prompts.AnswerReply,
                role=self.role,
                feature=str(setup.feature),
                temperature=self.temperature,
                seed=setup.seed,
                max_tokens=prompts.ANSWER_REPLY_TOKENS,
            )
            for m in messages
        ]
        return setup.llm.complete_many(requests, raise_unavailable=False) if requests else []

    def _score(self, candidate: Candidate, setup: EvalSetup, judgements: list[Judgement], notes: list[str]) -> Score:
        value, details, more = balanced_accuracy(judgements)
        details |= {
            "representation": setup.representation,
            "positives": sum(j.label for j in judgements),
            "negatives": sum(not j.label for j in judgements),
            "items": [j.to_dict() for j in judgements],
        }
        n = sum(j.answer is not None for j in judgements)
        return Score(self.name, setup.feature, candidate.explainer, value, n, details, notes + more)


class DetectionScorer(_YesNoScorer):
    """Balanced accuracy of yes/no answers to 'does this text contain what the explanation describes?'."""

    name = "detection"
    role = "detection"

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Ask about every held-out sample: activating ones are positives, zero ones negatives."""
        explanation = candidate.text(setup.representation)
        samples = [s for s in setup.samples if s.tokens]
        results = self._ask(setup, [prompts.detection_messages(explanation, "".join(s.tokens)) for s in samples])
        judgements = []
        for sample, result in zip(samples, results, strict=True):
            answer, error = _answer(result)
            judgements.append(Judgement(sample, sample.active, answer, error=error))
        return self._score(candidate, setup, judgements, [])


def active_tokens(sample: Sample, fraction: float = SPAN_FRACTION) -> list[int]:
    """Positions of ``sample``'s tokens at or above ``fraction`` of its maximum (none when it does not fire)."""
    if not sample.active:
        return []
    cut = fraction * sample.max_act
    return [i for i, a in enumerate(sample.acts) if a >= cut]


def fuzzing_items(samples: Sequence[Sample], seed: int = 0, feature: int = 0) -> list[tuple[Sample, list[int], bool]]:
    """(sample, marked positions, label) for fuzzing: each activating sample with its active tokens marked (True),
    then, for each, a zero sample (taken in turn) with as many random tokens marked (False). Seeded."""
    rng = random.Random(f"{seed}:{feature}:fuzzing")
    active = [s for s in samples if s.active and s.tokens]
    zeros = [s for s in samples if not s.active and s.tokens]
    items = [(s, active_tokens(s), True) for s in active]
    for i, (_, marked, _) in enumerate(list(items)):
        if zeros:
            zero = zeros[i % len(zeros)]
            k = min(len(marked), len(zero.tokens))
            items.append((zero, sorted(rng.sample(range(len(zero.tokens)), k)), False))
    return items


class FuzzingScorer(_YesNoScorer):
    """Balanced accuracy of yes/no answers to 'are the marked tokens what the explanation describes?'."""

    name = "fuzzing"
    role = "fuzzing"

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Correctly marked activating samples are positives; randomly marked zero samples negatives."""
        explanation = candidate.text(setup.representation)
        items = fuzzing_items(setup.samples, setup.seed, setup.feature)
        notes = [] if any(not label for *_, label in items) else ["no zero samples: no negatives to mark"]
        messages = [prompts.fuzzing_messages(explanation, s.tokens, marked) for s, marked, _ in items]
        judgements = []
        for (sample, marked, label), result in zip(items, self._ask(setup, messages), strict=True):
            answer, error = _answer(result)
            judgements.append(Judgement(sample, label, answer, marked, error))
        return self._score(candidate, setup, judgements, notes)
