"""Read the model's activation at a hook point with nnsight, stopping the forward pass there."""

from __future__ import annotations

import nnsight
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sage_nb.target.hooks import HookPoint, block, layout_of, read_site


class ResidualReader:
    """Runs a model up to ``hook`` and returns the activation there, ``[batch, seq, d_model]``.

    >>> reader = ResidualReader(model, tokenizer, HookPoint(8, "resid_post"))  # doctest: +SKIP
    >>> acts = reader.read(input_ids)  # doctest: +SKIP
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, hook: HookPoint) -> None:
        self.hf_model = model
        self.tokenizer = tokenizer
        self.hook = hook
        self.layout = layout_of(model)
        block(model, self.layout, hook.layer)  # validates the layer index
        self.lm = nnsight.TransformersModel(model, tokenizer=tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.hf_model.parameters()).device

    @torch.no_grad()
    def read(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Activation at the hook for a batch of token ids (float32, on the model's device)."""
        input_ids = input_ids.to(self.device, torch.long)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        with self.lm.trace({"input_ids": input_ids, "attention_mask": attention_mask.to(self.device)}) as tracer:
            acts = read_site(self.lm, self.layout, self.hook).save()
            tracer.stop()
        return acts.float()
