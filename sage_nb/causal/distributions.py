"""Compare next-token distributions: KL divergence and the tokens whose log-probability an edit moves most."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TokenShift:
    """How an edit moved one next token: the mean change of its log-probability (nats) and its probabilities."""

    token: str
    token_id: int
    change: float  # mean over prompts of log p_edited - log p_clean
    clean_prob: float  # mean probability before the edit
    edited_prob: float  # mean probability after it

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def kl_divergence(clean_logits: torch.Tensor, edited_logits: torch.Tensor) -> torch.Tensor:
    """KL(clean ‖ edited) in nats over the last dimension (logits or log-probabilities), never below 0."""
    p = torch.log_softmax(clean_logits.float(), dim=-1)
    q = torch.log_softmax(edited_logits.float(), dim=-1)
    return (p.exp() * (p - q)).sum(dim=-1).clamp_min(0.0)


#: How token shifts are ranked: by mean log-probability change (relative; rare tokens can lead) or by mean
#: probability change (the probability mass an edit moves; likely tokens lead).
RANKINGS = ("logprob", "prob")


def token_shifts(
    tokenizer: Any, clean_logits: torch.Tensor, edited_logits: torch.Tensor, k: int, by: str = "logprob"
) -> tuple[list[TokenShift], list[TokenShift]]:
    """The ``k`` tokens an edit raises most and the ``k`` it lowers most, ranked ``by`` (see :data:`RANKINGS`).

    ``clean_logits`` and ``edited_logits`` are ``[n, vocab]`` (one row per prompt or position) or ``[vocab]``.
    Within one row the log-probability change is the logit change minus a constant, so both rank tokens alike.
    Only tokens that moved are listed: an edit that changes nothing gives two empty lists.
    """
    p = torch.log_softmax(clean_logits.float().reshape(-1, clean_logits.shape[-1]), dim=-1)
    q = torch.log_softmax(edited_logits.float().reshape(-1, edited_logits.shape[-1]), dim=-1)
    if by not in RANKINGS:
        raise ValueError(f"Unknown ranking {by!r}: use one of {RANKINGS}")
    change = (q - p).mean(dim=0)
    clean_prob, edited_prob = p.exp().mean(dim=0), q.exp().mean(dim=0)
    key = change if by == "logprob" else edited_prob - clean_prob
    k = min(k, change.numel())

    def shifts(ids: Sequence[int]) -> list[TokenShift]:
        return [
            TokenShift(tokenizer.decode([i]), i, float(change[i]), float(clean_prob[i]), float(edited_prob[i]))
            for i in ids
        ]

    up = [i for i in torch.topk(key, k).indices.tolist() if key[i] > 0]
    down = [i for i in torch.topk(-key, k).indices.tolist() if key[i] < 0]
    return shifts(up), shifts(down)


__all__ = ["RANKINGS", "TokenShift", "kl_divergence", "token_shifts"]
