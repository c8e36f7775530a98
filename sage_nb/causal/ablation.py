"""Ablate one feature where it fires and see which next-token predictions depend on it.

``ablate(target, feature, texts)`` subtracts the feature's contribution ``f(x) * d_f`` from the residual at the
SAE's hook site at every position where it fires (a clamp to 0: where ``f(x) = 0`` nothing is added), and
compares each position's next-token distribution with the clean run. Positions before the first firing cannot
change (the model is causal); positions at and after it may.

>>> result, = ablate(target, 755, ["if value is None:"])  # doctest: +SKIP
>>> result.fired, result.kl, result.effects[result.fired[0]].lowered[:3]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sage_nb.causal.distributions import RANKINGS, TokenShift, kl_divergence, token_shifts
from sage_nb.causal.interventions import Edit, check_target, check_texts, prompt_rows, run_edited

#: Tokens per position reported as raised and as lowered by the ablation.
ABLATION_TOP_TOKENS = 5
#: Texts per forward pass (each runs twice: clean and ablated).
ABLATION_BATCH = 4


@dataclass
class PositionEffect:
    """The ablation's effect on the prediction made at one token (of the token that follows it)."""

    position: int  # index into the text's tokens (BOS excluded)
    token: str
    act: float  # the feature's activation here before the ablation
    kl: float  # KL(clean ‖ ablated) of the next-token distribution, nats
    raised: list[TokenShift]  # next tokens the ablation makes more likely
    lowered: list[TokenShift]  # ... and less likely


@dataclass
class AblationResult:
    """One text: where the feature fired and how ablating it there changed each next-token prediction."""

    feature: int
    text: str
    effects: list[PositionEffect]

    @property
    def tokens(self) -> list[str]:
        return [e.token for e in self.effects]

    @property
    def acts(self) -> list[float]:
        return [e.act for e in self.effects]

    @property
    def kl(self) -> list[float]:
        """Per-position KL(clean ‖ ablated), nats."""
        return [e.kl for e in self.effects]

    @property
    def fired(self) -> list[int]:
        """Positions where the feature fired (and was ablated)."""
        return [e.position for e in self.effects if e.act > 0]

    @property
    def max_kl(self) -> float:
        return max(self.kl, default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: tokens, activations, per-position KL and the top changed tokens."""
        return {
            "feature": self.feature,
            "text": self.text,
            "fired": self.fired,
            "effects": [
                {
                    "position": e.position,
                    "token": e.token,
                    "act": e.act,
                    "kl": e.kl,
                    "raised": [s.to_dict() for s in e.raised],
                    "lowered": [s.to_dict() for s in e.lowered],
                }
                for e in self.effects
            ],
        }


def ablate(
    target: Any,
    feature: int,
    texts: Sequence[str],
    *,
    top_k: int = ABLATION_TOP_TOKENS,
    rank_by: str = "prob",
    batch_size: int = ABLATION_BATCH,
) -> list[AblationResult]:
    """Zero ``feature`` wherever it fires on each text; one :class:`AblationResult` per text.

    Each position lists the ``top_k`` next tokens the ablation raised and lowered most, ranked ``rank_by``
    (default: probability change, so that the tokens listed are ones the model actually predicts there).
    """
    check_target(target)
    (feature,) = target.check_features(feature)
    texts = check_texts(texts)
    if rank_by not in RANKINGS:
        raise ValueError(f"Unknown ranking {rank_by!r}: use one of {RANKINGS}")
    out: list[AblationResult] = []
    for begin in range(0, len(texts), batch_size):
        chunk = texts[begin : begin + batch_size]
        rows = prompt_rows(target, chunk)
        n = len(rows)
        run = run_edited(target, rows + rows, [None] * n + [Edit(feature, 0.0, "clamp")] * n)
        for i, (text, row) in enumerate(zip(chunk, rows, strict=True)):
            length = len(row)
            clean, ablated = run.logits[i, 1:length], run.logits[n + i, 1:length]  # predictions after each token
            kls = kl_divergence(clean, ablated).tolist()
            acts = run.acts[n + i, 1:length].tolist()
            effects = []
            for p, token in enumerate(target.token_strings(row[1:])):
                raised, lowered = token_shifts(target.tokenizer, clean[p], ablated[p], top_k, rank_by)
                effects.append(PositionEffect(p, token, acts[p], kls[p], raised, lowered))
            out.append(AblationResult(feature, text, effects))
    return out


__all__ = ["ABLATION_BATCH", "ABLATION_TOP_TOKENS", "AblationResult", "PositionEffect", "ablate"]
