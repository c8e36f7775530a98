"""Edit one feature at the SAE's hook site and read the model's logits: the one place that writes to the model.

Every causal tool (steering, clamping, ablation, the output metric) is an :class:`Edit` per batch row, applied by
:func:`run_edited` inside an nnsight trace:

* ``add``: ``x + strength * d_f`` — steer along the feature's decoder direction;
* ``clamp``: ``x + (value - f(x)) * d_f`` — set the feature's activation to ``value`` in the SAE's reconstruction
  (``value=0`` ablates it; where ``f(x) = 0`` the edit adds exactly zero).

``d_f`` (:func:`feature_direction`) is what one unit of the feature's activation adds to the SAE's reconstruction,
so strengths and values are in the feature's own activation units (a TopK SAE that rescales by decoder norm
decodes with ``W_dec[f] / |W_dec[f]|``, not ``W_dec[f]``). Edits touch only the texts' own tokens: never BOS,
padding or special tokens, which :meth:`~sage_nb.targets.target.Target.activations` does not measure either.
Rows are right-padded, so padding never moves a real token's position or what it attends to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from sage_nb.targets.hooks import read_site, write_site

Mode = Literal["add", "clamp"]
MODES: tuple[Mode, ...] = ("add", "clamp")


@dataclass(frozen=True)
class Edit:
    """One row's edit: ``add`` ``value`` times the feature's direction, or ``clamp`` its activation to ``value``.

    ``start`` is the first text position edited (0 = the first token after BOS); later positions are edited too.
    """

    feature: int
    value: float
    mode: Mode = "add"
    start: int = 0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Unknown edit mode {self.mode!r}: use one of {MODES}")
        if self.start < 0:
            raise ValueError(f"An edit starts at a text position >= 0, not {self.start}")


@dataclass
class EditedRun:
    """Logits of one edited forward pass, and the edited feature's activation at the site before the edit."""

    logits: torch.Tensor  # [batch, seq, vocab], or [batch, vocab] at each row's last token (float32, CPU)
    acts: torch.Tensor  # [batch, seq] activation before the edit in clamp rows (0 elsewhere and in other rows)
    lengths: list[int]  # tokens in each row, BOS included


def check_target(target: Any) -> None:
    """Raise a clear ``TypeError`` for a target without a local model and SAE to edit (planted, remote)."""
    if not all(hasattr(target, name) for name in ("sae", "reader", "model", "hook")):
        raise TypeError(
            f"Causal tools edit a local model at its SAE's hook site; a {type(target).__name__} has no local model "
            "and SAE (use load_target with a local or sae-lens SAE)"
        )
    if getattr(target, "remote", False):
        raise TypeError(
            "Causal tools run the model locally, and this target executes remotely (NDIF): load it without "
            "remote=True on a machine that holds the model"
        )


@torch.no_grad()
def feature_direction(target: Any, feature: int) -> torch.Tensor:
    """What one unit of ``feature``'s activation adds to the SAE's reconstruction (float32, ``[d_model]``)."""
    check_target(target)
    (feature,) = target.check_features(feature)
    sae = target.sae
    acts = torch.zeros(2, target.d_sae, dtype=sae.W_dec.dtype, device=sae.W_dec.device)
    acts[1, feature] = 1
    out = sae.decode(acts).float()
    return (out[1] - out[0]).cpu()


def check_texts(texts: Sequence[str], what: str = "text") -> list[str]:
    """``texts`` as a list, with a clear error for none, a bare string, or an empty one."""
    if isinstance(texts, str):
        raise TypeError(f"Pass a list of {what}s, not a single string")
    out = list(texts)
    if not out:
        raise ValueError(f"No {what} given")
    for text in out:
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"Cannot use an empty {what}")
    return out


def prompt_rows(target: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of each text with BOS first, as :meth:`Target.tokenize` makes them (no padding)."""
    ids, mask = target.tokenize(list(texts))
    return [ids[i, : int(mask[i].sum())].tolist() for i in range(len(ids))]


def pad_rows(target: Any, rows: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids ``[batch, seq]`` and the attention mask of token-id rows."""
    width = max(len(r) for r in rows)
    pad = target.tokenizer.pad_token_id
    pad = pad if pad is not None else 0
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    return ids, mask


def editable(target: Any, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Positions an edit may touch: real tokens after BOS that are not special tokens (``[batch, seq]`` bool)."""
    special = torch.tensor(sorted(set(target.tokenizer.all_special_ids)), dtype=torch.long)
    out = mask.bool() & ~torch.isin(ids, special)
    out[:, 0] = False
    return out


@dataclass
class _Plan:
    """Per-row tensors of a batch of edits."""

    directions: torch.Tensor  # [batch, d] (zero in clean rows)
    where: torch.Tensor  # [batch, seq] bool: positions edited
    add: torch.Tensor  # [batch] strength of add rows (0 elsewhere)
    clamp_rows: list[int]
    clamp_features: list[int]
    clamp_values: torch.Tensor  # [n_clamp]


def _plan(target: Any, ids: torch.Tensor, mask: torch.Tensor, edits: Sequence[Edit | None]) -> _Plan:
    batch, seq = ids.shape
    cache: dict[int, torch.Tensor] = {}
    directions = torch.zeros(batch, target.sae.cfg.d_in)
    starts = torch.full((batch,), seq + 1, dtype=torch.long)
    add = torch.zeros(batch)
    clamp_rows, clamp_features, clamp_values = [], [], []
    for i, edit in enumerate(edits):
        if edit is None:
            continue
        if edit.feature not in cache:
            cache[edit.feature] = feature_direction(target, edit.feature)
        directions[i] = cache[edit.feature]
        starts[i] = edit.start + 1  # sequence position: BOS is 0
        if edit.mode == "add":
            add[i] = float(edit.value)
        else:
            clamp_rows.append(i)
            clamp_features.append(edit.feature)
            clamp_values.append(float(edit.value))
    where = editable(target, ids, mask) & (torch.arange(seq)[None, :] >= starts[:, None])
    return _Plan(directions, where, add, clamp_rows, clamp_features, torch.tensor(clamp_values))


def _edited(target: Any, h: torch.Tensor, plan: _Plan) -> tuple[torch.Tensor, torch.Tensor]:
    """The site's new value for a batch, and the clamped features' activations before the edit."""
    device = h.device
    where = plan.where.to(device)
    coef = plan.add.to(device)[:, None] * where  # [batch, seq]
    acts = torch.zeros(where.shape, device=device)
    if plan.clamp_rows:
        rows = torch.tensor(plan.clamp_rows, device=device)
        sae = target.sae
        encoded = sae.encode(h[rows].to(sae.W_enc.dtype)).float()  # [n_clamp, seq, d_sae]
        feats = torch.tensor(plan.clamp_features, device=device)
        f = encoded[torch.arange(len(rows), device=device), :, feats]  # [n_clamp, seq]
        f = f * where[rows]
        acts[rows] = f
        coef[rows] = (plan.clamp_values.to(device)[:, None] - f) * where[rows]
    delta = coef[..., None] * plan.directions.to(device)[:, None, :]
    return h + delta.to(h.dtype), acts


@torch.no_grad()
def run_edited(
    target: Any, rows: Sequence[Sequence[int]], edits: Sequence[Edit | None], *, last_only: bool = False
) -> EditedRun:
    """One forward pass of token-id ``rows`` (BOS first) with ``edits[i]`` applied to row ``i`` (None: clean).

    ``last_only=True`` keeps only the logits at each row's last token (``[batch, vocab]``), which is all that
    greedy generation and next-token statistics need.
    """
    check_target(target)
    if len(rows) != len(edits):
        raise ValueError(f"{len(rows)} rows need as many edits (None for a clean row), got {len(edits)}")
    if not rows:
        raise ValueError("No rows given")
    ids, mask = pad_rows(target, rows)
    lengths = [len(r) for r in rows]
    plan = _plan(target, ids, mask, edits)
    device = target.device
    lm, layout, hook = target.reader.lm, target.reader.layout, target.hook
    last = torch.tensor(lengths, device=device) - 1
    edit = any(e is not None for e in edits)
    acts = torch.zeros(ids.shape)
    # only values passed through .save() leave an nnsight trace
    with lm.trace({"input_ids": ids.to(device), "attention_mask": mask.to(device)}):
        if edit:
            h = read_site(lm, layout, hook)
            new, before = _edited(target, h, plan)
            write_site(lm, layout, hook, new)
            before = before.save()
        logits = lm.output.logits
        if last_only:
            logits = logits[torch.arange(len(lengths), device=device), last]
        logits = logits.float().save()
    if edit:
        acts = before.cpu()
    return EditedRun(logits.cpu(), acts, lengths)


__all__ = [
    "MODES",
    "Edit",
    "EditedRun",
    "Mode",
    "check_target",
    "check_texts",
    "editable",
    "feature_direction",
    "pad_rows",
    "prompt_rows",
    "run_edited",
]
