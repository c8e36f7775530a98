"""Steer the model with one feature and see what it does to the next token and to greedy continuations.

``steer(target, feature, prompts, strength)`` adds ``strength`` times the feature's decoder direction at the
SAE's hook site (``mode="add"``), or sets the feature's activation to ``strength`` (``mode="clamp"``), on every
prompt token from ``start`` on and on every generated token. Clean and steered rows run in one batch.

>>> result = steer(target, 755, ["I think that", "The weather today is"], 40.0)  # doctest: +SKIP
>>> result.kl, result.promoted[:3], result.steered  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from sage_nb.causal.continuation import greedy
from sage_nb.causal.distributions import RANKINGS, TokenShift, kl_divergence, token_shifts
from sage_nb.causal.interventions import Edit, Mode, check_target, check_texts, prompt_rows

#: Tokens of each greedy continuation.
CONTINUATION_TOKENS = 12
#: Next tokens reported as promoted and as suppressed.
TOP_TOKENS = 10


@dataclass
class SteeringResult:
    """What steering one feature did to a set of prompts.

    ``kl`` is KL(clean ‖ steered) of the next-token distribution at each prompt's last token, in nats, averaged
    over prompts; ``promoted``/``suppressed`` are the next tokens it moved most there (by mean log-probability
    change unless asked otherwise).
    """

    feature: int
    mode: Mode
    strength: float  # added along the direction ("add") or the clamped activation ("clamp")
    start: int
    prompts: list[str]
    kl: float
    kl_per_prompt: list[float]
    promoted: list[TokenShift]
    suppressed: list[TokenShift]
    clean: list[str]  # greedy continuations without the edit
    steered: list[str]  # ... and with it
    clean_logits: torch.Tensor = field(repr=False)  # [n_prompts, vocab] at each prompt's last token
    steered_logits: torch.Tensor = field(repr=False)

    def logprob_change(self) -> torch.Tensor:
        """Mean change of each next token's log-probability over prompts (``[vocab]``, nats)."""
        clean = torch.log_softmax(self.clean_logits, dim=-1)
        return (torch.log_softmax(self.steered_logits, dim=-1) - clean).mean(dim=0)

    def to_dict(self) -> dict[str, Any]:
        """Everything but the logits, JSON-ready."""
        return {
            "feature": self.feature,
            "mode": self.mode,
            "strength": self.strength,
            "start": self.start,
            "prompts": self.prompts,
            "kl": self.kl,
            "kl_per_prompt": self.kl_per_prompt,
            "promoted": [s.to_dict() for s in self.promoted],
            "suppressed": [s.to_dict() for s in self.suppressed],
            "clean": self.clean,
            "steered": self.steered,
        }


def steering_edits(rows: Sequence[Sequence[int]], feature: int, strength: float, mode: Mode, start: int) -> list[Edit]:
    """One :class:`Edit` per prompt row (BOS first); a negative ``start`` counts back from each prompt's end."""
    edits = []
    for row in rows:
        n = len(row) - 1  # text tokens
        edits.append(Edit(feature, float(strength), mode, start if start >= 0 else max(0, n + start)))
    return edits


def steer(
    target: Any,
    feature: int,
    prompts: Sequence[str],
    strength: float,
    *,
    mode: Mode = "add",
    start: int = 0,
    n_tokens: int = CONTINUATION_TOKENS,
    top_k: int = TOP_TOKENS,
    rank_by: str = "logprob",
) -> SteeringResult:
    """Steer ``feature`` on ``prompts``: next-token shifts, KL(clean ‖ steered) and greedy continuations.

    ``start`` is the first prompt token steered (0: all; -1: only the last prompt token and the generated ones).
    ``rank_by`` orders the promoted/suppressed tokens (see :data:`~sage_nb.causal.distributions.RANKINGS`).
    """
    check_target(target)
    (feature,) = target.check_features(feature)
    prompts = check_texts(prompts, "prompt")
    if rank_by not in RANKINGS:
        raise ValueError(f"Unknown ranking {rank_by!r}: use one of {RANKINGS}")
    rows = prompt_rows(target, prompts)
    edits = steering_edits(rows, feature, strength, mode, start)
    n = len(rows)
    run = greedy(target, rows + rows, [None] * n + edits, n_tokens)
    clean_logits, steered_logits = run.first_logits[:n], run.first_logits[n:]
    kls = kl_divergence(clean_logits, steered_logits)
    promoted, suppressed = token_shifts(target.tokenizer, clean_logits, steered_logits, top_k, rank_by)
    text = target.tokenizer.decode
    return SteeringResult(
        feature=feature,
        mode=mode,
        strength=float(strength),
        start=start,
        prompts=prompts,
        kl=float(kls.mean()),
        kl_per_prompt=kls.tolist(),
        promoted=promoted,
        suppressed=suppressed,
        clean=[text(t) for t in run.tokens[:n]],
        steered=[text(t) for t in run.tokens[n:]],
        clean_logits=clean_logits,
        steered_logits=steered_logits,
    )


__all__ = ["CONTINUATION_TOKENS", "TOP_TOKENS", "SteeringResult", "steer", "steering_edits"]
