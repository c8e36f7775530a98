"""The output metric (SAEExplainer style): can an LLM tell the explained feature's steering from random features'?

For the candidate's feature and ``n_random`` random live features (seeded), the scorer finds each feature's own
steering strength for every target KL in ``kls`` (default +0.5 and -0.5 nats: amplified and suppressed, so that
features are matched by effect size, not by strength), and continues a few neutral prompts greedily under each
steering. The judge (``setup.llm``) reads the explanation and the bundles in a seeded shuffled order and names the
bundle the explained feature produced: the score is 1 when it is right and 0 when not (chance: 1 / bundles).

Random features are "live" when they fire somewhere on the neutral prompts or on the held-out sample texts. One
scorer computes the bundles once per target, feature and seed, so every explainer's candidate of a feature is
judged on the same bundles.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sage_nb.causal.continuation import greedy
from sage_nb.causal.interventions import check_target, check_texts, prompt_rows
from sage_nb.causal.steering import CONTINUATION_TOKENS, steering_edits
from sage_nb.causal.strength import KL_RTOL, MAX_EVALS, KLProbe, StrengthFit, strength_for_kl
from sage_nb.evaluate import output_prompts as prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, Score, Scorer


@dataclass
class Bundle:
    """One feature's steered continuations: per target KL, its strength fit and one continuation per prompt."""

    feature: int
    explained: bool  # the candidate's feature (True) or a random one
    fits: list[StrengthFit]
    continuations: list[list[str]]  # [kl][prompt]

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.feature,
            "explained": self.explained,
            "strengths": [f.strength for f in self.fits],
            "kls": [f.kl for f in self.fits],
            "converged": [f.converged for f in self.fits],
            "continuations": self.continuations,
        }


@dataclass
class Bundles:
    """Everything the judge is shown besides the explanation, in the order shown."""

    prompts: list[str]
    kls: list[float]
    bundles: list[Bundle]  # shuffled; exactly one is ``explained``

    @property
    def answer(self) -> int:
        """The explained feature's bundle number (from 1)."""
        return next(i for i, b in enumerate(self.bundles, start=1) if b.explained)


def live_features(target: Any, texts: Sequence[str]) -> list[int]:
    """Features that fire on at least one token of ``texts`` (sorted)."""
    ids, mask = target.tokenize(list(texts), truncate=True)
    acts = target.encode(ids, mask).acts
    return sorted(int(f) for f in (acts > 0).flatten(0, 1).any(dim=0).nonzero().flatten())


class OutputMetricScorer(Scorer):
    """Output metric: 1 if the judge picks the explained feature's steered bundle among ``1 + n_random``, else 0."""

    name = "output"

    def __init__(
        self,
        kls: Sequence[float] = prompts.OUTPUT_KLS,
        n_prompts: int = prompts.OUTPUT_PROMPTS,
        n_random: int = prompts.OUTPUT_RANDOM,
        n_tokens: int = CONTINUATION_TOKENS,
        rtol: float = KL_RTOL,
        max_evals: int = MAX_EVALS,
    ) -> None:
        self.kls = [float(k) for k in kls]
        if not self.kls or any(k == 0 for k in self.kls):
            raise ValueError(f"kls needs at least one non-zero target KL (its sign is the direction), not {kls!r}")
        if not 1 <= n_prompts <= len(prompts.NEUTRAL_PROMPTS):
            raise ValueError(f"n_prompts must be 1 to {len(prompts.NEUTRAL_PROMPTS)}, not {n_prompts}")
        prompts.output_judge_schema(n_random + 1)  # validates the bundle count
        if n_tokens < 1:
            raise ValueError(f"n_tokens must be >= 1, not {n_tokens}")
        self.n_prompts, self.n_random, self.n_tokens = n_prompts, n_random, n_tokens
        self.rtol, self.max_evals = rtol, max_evals
        self._bundles: dict[tuple[int, int, int], Bundles] = {}

    def __repr__(self) -> str:
        return (
            f"OutputMetricScorer(kls={self.kls}, n_prompts={self.n_prompts}, n_random={self.n_random}, "
            f"n_tokens={self.n_tokens})"
        )

    @property
    def neutral_prompts(self) -> list[str]:
        """The prompts continued under steering (the first ``n_prompts`` neutral prompts)."""
        return list(prompts.NEUTRAL_PROMPTS[: self.n_prompts])

    def random_features(self, setup: EvalSetup) -> list[int]:
        """``n_random`` live features other than the explained one, chosen with ``setup.seed``."""
        texts = self.neutral_prompts + [s.text for s in setup.samples if s.text.strip()]
        pool = [f for f in live_features(setup.target, texts) if f != setup.feature]
        if len(pool) < self.n_random:
            raise ValueError(f"only {len(pool)} other live features fire on the prompts and samples")
        return random.Random(f"{setup.seed}:{setup.feature}:output").sample(pool, self.n_random)

    def bundles(self, setup: EvalSetup) -> Bundles:
        """The steered bundles of ``setup.feature`` and its random features, shuffled (computed once per feature)."""
        target = setup.target
        check_target(target)
        (feature,) = target.check_features(setup.feature)
        key = (id(target), feature, setup.seed)
        if key in self._bundles:
            return self._bundles[key]
        texts = check_texts(self.neutral_prompts, "prompt")
        features = [feature, *self.random_features(setup)]
        fits: dict[int, list[StrengthFit]] = {}
        for f in features:
            probe = KLProbe(target, f, texts)
            fits[f] = []
            for kl in self.kls:  # the last strength found is a good start for the next target
                start = abs(fits[f][-1].strength) if fits[f] else None
                sign = 1 if kl > 0 else -1
                fits[f].append(
                    strength_for_kl(
                        target,
                        f,
                        texts,
                        abs(kl),
                        sign=sign,
                        rtol=self.rtol,
                        max_evals=self.max_evals,
                        initial=start,
                        probe=probe,
                    )
                )
        rows = prompt_rows(target, texts)
        all_rows, edits = [], []
        for f in features:
            for fit in fits[f]:
                all_rows += rows
                edits += steering_edits(rows, f, fit.strength, "add", 0)
        generated = greedy(target, all_rows, edits, self.n_tokens).tokens
        decoded = [target.tokenizer.decode(t) for t in generated]
        n_p, n_k = len(texts), len(self.kls)
        made = []
        for i, f in enumerate(features):
            block = decoded[i * n_k * n_p : (i + 1) * n_k * n_p]
            conts = [block[c * n_p : (c + 1) * n_p] for c in range(n_k)]
            made.append(Bundle(f, f == feature, fits[f], conts))
        random.Random(f"{setup.seed}:{feature}:order").shuffle(made)
        self._bundles[key] = Bundles(texts, list(self.kls), made)
        return self._bundles[key]

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Steer, ask the judge which bundle the explanation describes, and score its pick."""
        try:
            shown = self.bundles(setup)
        except ValueError as err:
            return Score(self.name, setup.feature, candidate.explainer, None, notes=[str(err)])
        n = len(shown.bundles)
        result = setup.llm.complete(
            prompts.output_judge_messages(
                candidate.text(setup.representation), shown.prompts, shown.kls, [b.continuations for b in shown.bundles]
            ),
            prompts.output_judge_schema(n),
            role=self.name,
            feature=str(setup.feature),
            seed=setup.seed,
            max_tokens=prompts.OUTPUT_REPLY_TOKENS,
        )
        details: dict[str, Any] = {
            "representation": setup.representation,
            "prompts": shown.prompts,
            "target_kls": shown.kls,
            "bundles": [b.to_dict() for b in shown.bundles],
            "answer": shown.answer,
            "chance": 1 / n,
        }
        notes = [
            f"feature {b.feature}: KL {fit.kl:.3g} reached for target {fit.target_kl:g} (strength {fit.strength:.3g})"
            for b in shown.bundles
            for fit in b.fits
            if not fit.converged
        ]
        if not result.ok or result.parsed is None:
            notes.append(f"LLM reply failed: {result.error_kind}: {result.error}")
            return Score(self.name, setup.feature, candidate.explainer, None, 0, details, notes)
        pick = int(result.parsed.bundle)
        details["pick"] = pick
        details["correct"] = pick == shown.answer
        return Score(self.name, setup.feature, candidate.explainer, float(pick == shown.answer), 1, details, notes)


__all__ = ["Bundle", "Bundles", "OutputMetricScorer", "live_features"]
