"""Find the steering strength that moves the next-token distribution by a chosen KL divergence.

Strengths are not comparable across features (decoder directions meet the model's later layers differently), so
causal comparisons match features by effect size: KL(clean ‖ steered) at the prompts' last token, averaged over
prompts. :func:`strength_for_kl` brackets the target (growing or shrinking the strength by up to
:data:`MAX_STEP` per pass from a start scaled to the residual norm at the hook site), then narrows the bracket by
interpolation in log-log space (KL grows roughly as a power of the strength) kept inside the bracket, within a
fixed number of forward passes.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch

from sage_nb.causal.distributions import kl_divergence
from sage_nb.causal.interventions import check_target, check_texts, editable, pad_rows, prompt_rows, run_edited
from sage_nb.causal.steering import steering_edits

#: Relative tolerance on the reached KL (0.05: a target of 0.5 nats accepts 0.475-0.525).
KL_RTOL = 0.05
#: Most steered forward passes one search runs (the clean pass is extra).
MAX_EVALS = 16
#: The first strength tried, as a fraction of the median residual norm at the hook site on the prompts.
START_FRACTION = 0.25
#: How far one bracketing step may move the strength (factor), and how close to a bracket end an interpolated
#: guess may fall (fraction of the bracket in log space).
MAX_STEP, MIN_INSIDE = 4.0, 0.1


@dataclass
class StrengthFit:
    """The strength found for one feature and target KL, and every (strength, KL) tried on the way."""

    feature: int
    target_kl: float
    strength: float  # signed: its sign is the search's sign
    kl: float  # mean KL(clean ‖ steered) reached with ``strength``
    converged: bool  # |kl - target_kl| <= rtol * target_kl
    evaluations: int
    history: list[tuple[float, float]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KLProbe:
    """Mean next-token KL(clean ‖ steered) of one feature on fixed prompts; the clean pass runs once."""

    def __init__(self, target: Any, feature: int, prompts: Sequence[str], *, start: int = 0) -> None:
        check_target(target)
        (self.feature,) = target.check_features(feature)
        self.target = target
        self.rows = prompt_rows(target, check_texts(prompts, "prompt"))
        self.start = start
        self.clean = run_edited(target, self.rows, [None] * len(self.rows), last_only=True).logits
        self.calls = 0

    def __call__(self, strength: float) -> float:
        """Mean KL in nats when ``strength`` is added along the feature's direction."""
        self.calls += 1
        edits = steering_edits(self.rows, self.feature, strength, "add", self.start)
        steered = run_edited(self.target, self.rows, edits, last_only=True).logits
        return float(kl_divergence(self.clean, steered).mean())

    @functools.cached_property
    def residual_norm(self) -> float:
        """Median norm of the residual at the hook site over the prompts' own tokens."""
        ids, mask = pad_rows(self.target, self.rows)
        resid = self.target.reader.read(ids, mask).cpu()
        norms = resid.norm(dim=-1)[editable(self.target, ids, mask)]
        return float(norms.median()) if norms.numel() else 1.0


def _next_guess(lo: tuple[float, float] | None, hi: tuple[float, float] | None, s: float, k: float, kl: float) -> float:
    """The next strength magnitude to try, given the bracket so far and the last probe (s, k)."""
    if hi is None:  # every probe fell short: grow, faster when far below
        return s * (MAX_STEP if k <= 0 else min(MAX_STEP, max(1.25, math.sqrt(kl / k))))
    if lo is None:  # every probe overshot: shrink
        return s * max(1 / MAX_STEP, min(0.8, math.sqrt(kl / k)))
    (s0, k0), (s1, k1) = lo, hi
    if k0 > 0 and k1 > k0:
        t = (math.log(kl) - math.log(k0)) / (math.log(k1) - math.log(k0))
        t = min(1 - MIN_INSIDE, max(MIN_INSIDE, t))
    else:
        t = 0.5
    return math.exp(math.log(s0) + t * (math.log(s1) - math.log(s0)))


def strength_for_kl(
    target: Any,
    feature: int,
    prompts: Sequence[str],
    kl: float,
    *,
    sign: int = 1,
    start: int = 0,
    rtol: float = KL_RTOL,
    max_evals: int = MAX_EVALS,
    initial: float | None = None,
    probe: KLProbe | None = None,
) -> StrengthFit:
    """The steering strength of sign ``sign`` whose mean next-token KL on ``prompts`` is ``kl`` nats.

    Stops when the KL is within ``rtol`` of the target or after ``max_evals`` steered passes; then the closest
    strength tried is returned with ``converged=False``. ``initial`` overrides the first strength tried
    (default: :data:`START_FRACTION` of the median residual norm). Pass a :class:`KLProbe` to reuse its clean pass
    (its prompts and ``start`` are then the ones used).

    >>> fit = strength_for_kl(target, 743, ["I think that", "The weather today is"], 0.5)  # doctest: +SKIP
    >>> fit.strength, fit.kl, fit.converged  # doctest: +SKIP
    """
    if not kl > 0:
        raise ValueError(f"The target KL must be > 0 nats, not {kl}")
    if sign not in (1, -1):
        raise ValueError(f"sign is 1 or -1, not {sign}")
    if max_evals < 1:
        raise ValueError(f"max_evals must be >= 1, not {max_evals}")
    probe = probe or KLProbe(target, feature, prompts, start=start)
    if probe.feature != feature:
        raise ValueError(f"The probe measures feature {probe.feature}, not {feature}")
    s = abs(initial) if initial else START_FRACTION * probe.residual_norm
    lo: tuple[float, float] | None = None
    hi: tuple[float, float] | None = None
    history: list[tuple[float, float]] = []
    with torch.no_grad():
        for _ in range(max_evals):
            k = probe(sign * s)
            history.append((sign * s, k))
            if abs(k - kl) <= rtol * kl:
                break
            if k < kl:
                lo = (s, k) if lo is None or s > lo[0] else lo
            else:
                hi = (s, k) if hi is None or s < hi[0] else hi
            s = _next_guess(lo, hi, s, k, kl)
    best_s, best_k = min(history, key=lambda sk: abs(sk[1] - kl))
    return StrengthFit(
        feature=probe.feature,
        target_kl=kl,
        strength=best_s,
        kl=best_k,
        converged=abs(best_k - kl) <= rtol * kl,
        evaluations=len(history),
        history=history,
    )


__all__ = ["KL_RTOL", "MAX_EVALS", "START_FRACTION", "KLProbe", "StrengthFit", "strength_for_kl"]
