"""Preference pairs from measured rewards (pure functions: no model, no LLM).

For one feature, the candidates with a reward are ranked best first:

* **chosen** is the best candidate;
* the feature is **dropped** when fewer than two candidates have a reward (``too_few``), when the best reward is
  not positive or below ``min_best_fraction`` x the feature's scale (``weak``: no candidate made it fire), or when
  ``(best - worst) / best <= min_spread`` (``flat``: the rewards do not tell the candidates apart);
* **rejected** is the best candidate of the lower half whose relative gap ``(best - r) / best`` exceeds
  ``rejected_gap``; when none does, the worst candidate.

Ties keep the candidates' order, so the same rewards always give the same pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sage_nb.saeexplainer.rewards import CandidateReward

#: Why a feature gave no pair.
DROP_REASONS = ("too_few", "weak", "flat")


@dataclass(frozen=True)
class PairRules:
    """The thresholds of :func:`build_pair` (see the module docstring)."""

    min_best_fraction: float = 0.1
    min_spread: float = 0.10
    rejected_gap: float = 0.15


@dataclass
class PairDecision:
    """What became of one feature: a pair (``kept``) or the reason it was dropped, with the numbers behind it."""

    feature: int
    split: str
    kept: bool
    reason: str  # 'pair' or one of DROP_REASONS
    scale: float
    n_candidates: int
    best: float | None = None
    worst: float | None = None
    chosen: str = ""
    rejected: str = ""
    chosen_reward: float | None = None
    rejected_reward: float | None = None

    @property
    def spread(self) -> float | None:
        """``(best - worst) / best`` (None without a positive best)."""
        if self.best is None or self.worst is None or self.best <= 0:
            return None
        return (self.best - self.worst) / self.best


def build_pair(
    feature: int, split: str, rewards: Sequence[CandidateReward], scale: float, rules: PairRules
) -> PairDecision:
    """The preference pair of one feature from its candidates' rewards, or why there is none."""
    ranked = sorted((r for r in rewards if r.reward is not None), key=lambda r: -float(r.reward))  # type: ignore[arg-type]
    decision = PairDecision(feature, split, False, "too_few", scale, len(ranked))
    if len(ranked) < 2:
        return decision
    best, worst = float(ranked[0].reward), float(ranked[-1].reward)  # type: ignore[arg-type]
    decision.best, decision.worst = best, worst
    if best <= 0 or best < rules.min_best_fraction * scale:
        decision.reason = "weak"
        return decision
    if (best - worst) / best <= rules.min_spread:
        decision.reason = "flat"
        return decision
    lower = ranked[len(ranked) - len(ranked) // 2 :]
    eligible = [r for r in lower if (best - float(r.reward)) / best > rules.rejected_gap]  # type: ignore[arg-type]
    rejected = eligible[0] if eligible else ranked[-1]
    decision.kept, decision.reason = True, "pair"
    decision.chosen, decision.chosen_reward = ranked[0].explanation, best
    decision.rejected, decision.rejected_reward = rejected.explanation, float(rejected.reward)  # type: ignore[arg-type]
    return decision


def build_pairs(
    rewards: Sequence[CandidateReward], scales: dict[int, float], splits: dict[int, str], rules: PairRules
) -> list[PairDecision]:
    """:func:`build_pair` for every feature in ``scales`` (features without rewards are ``too_few``)."""
    by_feature: dict[int, list[CandidateReward]] = {f: [] for f in scales}
    for r in rewards:
        by_feature.setdefault(r.feature, []).append(r)
    return [build_pair(f, splits[f], by_feature[f], scales[f], rules) for f in sorted(by_feature)]


__all__ = ["DROP_REASONS", "PairDecision", "PairRules", "build_pair", "build_pairs"]
