"""Read the model's activation at a hook point with nnsight, stopping the forward pass there."""

from __future__ import annotations

import nnsight
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sage_nb.targets.hooks import HookPoint, block, layout_of, site_of
from sage_nb.targets.remote import use_ndif_key


class ResidualReader:
    """Runs a model up to ``hook`` and returns the activation there, ``[batch, seq, d_model]``.

    ``lm`` is the nnsight model to trace (default: one wrapping ``model``). With ``remote=True`` every trace runs
    on NDIF (see :mod:`sage_nb.targets.remote`); ``lm`` must then be built from the model's Hub id.

    >>> reader = ResidualReader(model, tokenizer, HookPoint(8, "resid_post"))  # doctest: +SKIP
    >>> acts = reader.read(input_ids)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        hook: HookPoint,
        *,
        lm: nnsight.TransformersModel | None = None,
        remote: bool = False,
    ) -> None:
        self.hf_model = model
        self.tokenizer = tokenizer
        self.hook = hook
        self.layout = layout_of(model)
        block(model, self.layout, hook.layer)  # validates the layer index
        self.lm = lm if lm is not None else nnsight.TransformersModel(model, tokenizer=tokenizer)
        self.remote = remote

    @property
    def device(self) -> torch.device:
        """Where token ids go: the model's device, or this machine's CPU for a remote model."""
        return torch.device("cpu") if self.remote else next(self.hf_model.parameters()).device

    @torch.no_grad()
    def read(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Activation at the hook for a batch of token ids (float32, on :attr:`device`)."""
        input_ids = input_ids.to(self.device, torch.long)
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        inputs = {"input_ids": input_ids, "attention_mask": attention_mask.to(self.device)}
        module, value, item = site_of(self.lm, self.layout, self.hook)
        if self.remote:
            use_ndif_key()
        # A remote trace ships this block to NDIF: it uses only nnsight modules and plain values.
        with self.lm.trace(inputs, remote=self.remote) as tracer:
            out = getattr(module, value)
            acts = (out if item is None else out[item]).save()
            tracer.stop()
        return acts.float()
