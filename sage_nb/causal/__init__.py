"""Causal tools: steer, clamp and ablate one SAE feature at its hook site and measure what the model outputs.

* :func:`steer` — next-token shifts, KL(clean ‖ steered) and greedy continuations under steering or clamping;
* :func:`ablate` — zero a feature where it fires and see which next-token predictions change;
* :func:`strength_for_kl` — the steering strength that moves the next-token distribution by a chosen KL;
(The output metric, a scorer that steers, is :class:`~sage_nb.evaluate.output_metric.OutputMetricScorer`.)

Every edit goes through :mod:`sage_nb.causal.interventions`.
"""

from sage_nb.causal.ablation import AblationResult, PositionEffect, ablate
from sage_nb.causal.distributions import TokenShift, kl_divergence
from sage_nb.causal.interventions import Edit, feature_direction
from sage_nb.causal.steering import SteeringResult, steer
from sage_nb.causal.strength import StrengthFit, strength_for_kl

__all__ = [
    "AblationResult",
    "Edit",
    "PositionEffect",
    "SteeringResult",
    "StrengthFit",
    "TokenShift",
    "ablate",
    "feature_direction",
    "kl_divergence",
    "steer",
    "strength_for_kl",
]
