"""Greedy continuations with an edit applied at every step (the whole sequence is re-run each step, no KV cache).

Re-running the prefix keeps the edit exactly where :class:`~sage_nb.causal.interventions.Edit` says — on the
prompt's positions from ``start`` on and on every generated token — and makes a continuation equal to what
``model.generate(do_sample=False)`` gives for a clean row. Continuations are short, so the cost stays small.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from sage_nb.causal.interventions import Edit, run_edited


@dataclass
class Greedy:
    """Greedy continuations of a batch of rows."""

    first_logits: torch.Tensor  # [batch, vocab]: logits at each prompt's last token (the first prediction)
    tokens: list[list[int]]  # generated token ids per row; a special token ends a row and is not kept


def greedy(target: Any, rows: Sequence[Sequence[int]], edits: Sequence[Edit | None], n_tokens: int) -> Greedy:
    """Continue each token-id row (BOS first) greedily for up to ``n_tokens`` tokens with ``edits[i]`` applied.

    Finished rows (they produced a special token) leave the batch. ``n_tokens=0`` runs one forward pass and
    generates nothing, which still gives ``first_logits``.
    """
    if n_tokens < 0:
        raise ValueError(f"n_tokens must be >= 0, not {n_tokens}")
    seqs = [list(r) for r in rows]
    out: list[list[int]] = [[] for _ in seqs]
    stop = set(target.tokenizer.all_special_ids)
    live = list(range(len(seqs)))
    first: torch.Tensor | None = None
    for step in range(max(n_tokens, 1)):
        run = run_edited(target, [seqs[i] for i in live], [edits[i] for i in live], last_only=True)
        if first is None:
            first = run.logits
        if step >= n_tokens:
            break
        nxt = run.logits.argmax(dim=-1).tolist()
        still = []
        for i, token in zip(live, nxt, strict=True):
            if token not in stop:
                seqs[i].append(token)
                out[i].append(token)
                still.append(i)
        live = still
        if not live:
            break
    assert first is not None
    return Greedy(first, out)


__all__ = ["Greedy", "greedy"]
