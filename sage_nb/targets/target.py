"""A target: a language model plus an SAE that reads one of its hook points.

``Target.activations`` is the one way every part of sage_nb measures a feature: it tokenises texts
(BOS prepended and excluded from the result), runs the model only up to the hooked layer, encodes with
the SAE, and masks padding and special tokens explicitly. An SAE whose metadata says ``prepend_bos: false``
was trained on text without BOS: the model then never sees it (the BOS slot of the result stays masked).
With ``remote=True`` the model runs on NDIF (:mod:`sage_nb.targets.remote`) and the SAE here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import nnsight
import torch
from sae_lens import SAE
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from sage_nb.config import DEFAULT_MODEL, DEFAULT_SAE
from sage_nb.data.contexts import bos_id
from sage_nb.targets.base import EncodedBatch, TokenTarget
from sage_nb.targets.hooks import HookPoint, block, layout_of
from sage_nb.targets.models import load_hf_model
from sage_nb.targets.remote import load_remote_model, ndif_api_key, remote_logit_weights
from sage_nb.targets.residuals import ResidualReader
from sage_nb.targets.saes import SAESource, load_sae, sae_hook, sae_model_name

if TYPE_CHECKING:
    from sage_nb.targets.neuronpedia import NeuronpediaTarget


class Target(TokenTarget):
    """A model and an SAE at one hook point. Build it with :func:`load_target`.

    ``lm`` is the nnsight model to trace (default: one wrapping ``model``). ``remote=True`` runs every trace on
    NDIF: ``lm`` must be built from the model's Hub id (:func:`~sage_nb.targets.remote.load_remote_model`) and
    ``NDIF_API_KEY`` set.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        sae: SAE,
        *,
        model_name: str,
        sae_source: SAESource,
        hook: HookPoint | None = None,
        lm: nnsight.TransformersModel | None = None,
        remote: bool = False,
    ) -> None:
        if remote:
            if lm is None:
                raise ValueError("remote=True needs lm=, the nnsight model built from the Hub id (load_remote_model)")
            ndif_api_key()  # fail now, not at the first measurement
        self.model = model
        self.tokenizer = tokenizer
        self.sae = sae
        self.model_name = model_name
        self.sae_source = sae_source
        self.hook = hook or sae_hook(sae)
        self.layout = layout_of(model)
        block(model, self.layout, self.hook.layer)
        d_model = model.config.hidden_size
        if sae.cfg.d_in != d_model:
            raise ValueError(
                f"SAE/model dimension mismatch: the SAE reads d_in={sae.cfg.d_in} but {model_name} has "
                f"hidden size {d_model}. Is this SAE trained on a different model ({sae_model_name(sae)})?"
            )
        self.remote = remote
        #: False only when the SAE's metadata says it was trained on text without BOS (unset means with BOS).
        self.prepend_bos = getattr(sae.cfg.metadata, "prepend_bos", None) is not False
        self.reader = ResidualReader(model, tokenizer, self.hook, lm=lm, remote=remote)
        self._bos = bos_id(tokenizer)
        self._special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def d_sae(self) -> int:
        return int(self.sae.cfg.d_sae)

    @property
    def layer(self) -> int:
        return self.hook.layer

    @property
    def device(self) -> torch.device:
        return self.reader.device

    def __repr__(self) -> str:
        remote = ", remote=True" if self.remote else ""
        return (
            f"Target(model={self.model_name!r}, sae={self.sae_source.label!r}, hook={self.hook.name!r}, "
            f"d_sae={self.d_sae}{remote})"
        )

    # -- measuring ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, features: Sequence[int] | None = None
    ) -> EncodedBatch:
        """SAE activations for token ids (BOS at position 0). Padding, BOS and special tokens read as 0."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        if self.prepend_bos:
            resid = self.reader.read(input_ids, attention_mask)
        else:  # the model reads the text alone; the BOS slot is filled with zeros and masked below
            resid = self.reader.read(input_ids[:, 1:], attention_mask[:, 1:])
            resid = torch.cat([resid.new_zeros(resid.shape[0], 1, resid.shape[2]), resid], dim=1)
        acts = self.sae.encode(resid.to(self.sae.W_enc.device, self.sae.W_enc.dtype)).float()
        if features is not None:
            acts = acts[..., list(features)]
        mask = attention_mask.bool().to(acts.device) & ~torch.isin(
            input_ids.to(acts.device), self._special.to(acts.device)
        )
        mask[:, 0] = False
        acts.mul_(mask.unsqueeze(-1))
        return EncodedBatch(input_ids, mask.cpu(), acts.cpu())

    # -- the decoder side --------------------------------------------------------------------------------
    @torch.no_grad()
    def output_logit_weights(self, feature: int) -> torch.Tensor:
        """How the feature's decoder direction moves each output logit (direct path, final norm's gain included)."""
        (feature,) = self.check_features(feature)
        direction = self.sae.W_dec[feature].float()
        norm = getattr(getattr(self.model, "model", None), "norm", None)
        has_gain = norm is not None and getattr(norm, "weight", None) is not None
        gain_offset = 1.0 if self.model.config.model_type.startswith("gemma") else 0.0  # Gemma stores weight - 1
        if self.remote:  # the weights live on NDIF
            head = self.model.get_output_embeddings()
            path = next(name for name, module in self.model.named_modules() if module is head)
            return remote_logit_weights(
                self.reader.lm, path, "model.norm" if has_gain else None, direction.cpu(), gain_offset
            )
        if has_gain:
            direction = direction * (gain_offset + norm.weight.float())
        unembed = self.model.get_output_embeddings().weight.float()
        return unembed @ direction.to(unembed.device)

    def top_output_tokens(self, feature: int, k: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The ``k`` output tokens the feature promotes most and suppresses most, with their logit weights."""
        weights = self.output_logit_weights(feature)
        up = torch.topk(weights, k)
        down = torch.topk(-weights, k)
        promoted = [(self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(up.values, up.indices, strict=True)]
        suppressed = [
            (self.tokenizer.decode([int(i)]), -float(v)) for v, i in zip(down.values, down.indices, strict=True)
        ]
        return promoted, suppressed


def load_target(
    model: str | None = None,
    sae: str | tuple[str, str] | None = None,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    remote: bool = False,
) -> Target | NeuronpediaTarget:
    """Load a model and an SAE into a :class:`Target`.

    With no arguments: the embedded SmolLM2-135M-Instruct and the SAE that ships with sage_nb.
    ``sae`` may be a shipped name, a SAELens directory, ``"sae-lens://release=...;sae_id=..."`` or
    ``(release, sae_id)``; the model defaults to the SAE's ``metadata.model_name``. A
    ``"neuronpedia://MODEL/SOURCE"`` spec gives a :class:`~sage_nb.targets.neuronpedia.NeuronpediaTarget` instead,
    measured through the Neuronpedia API (no local model; ``model``, ``device`` and ``dtype`` do not apply).

    ``remote=True`` runs the model on NDIF through nnsight (a Hub id NDIF hosts; needs ``NDIF_API_KEY``): only
    its config and tokenizer are loaded here, and ``device`` is where the SAE runs.

    >>> target = load_target()  # doctest: +SKIP
    >>> target = load_target(sae=("gpt2-small-res-jb", "blocks.8.hook_resid_pre"), device="cuda")  # doctest: +SKIP
    >>> target = load_target(sae="neuronpedia://gemma-2-2b/20-gemmascope-res-16k")  # doctest: +SKIP
    >>> target = load_target(sae=("gemma-scope-2b-pt-res-canonical", "layer_20/width_16k/canonical"),
    ...                      remote=True)  # doctest: +SKIP
    """
    from sage_nb.targets.neuronpedia.target import NEURONPEDIA_SCHEME, load_neuronpedia_target

    if isinstance(sae, str) and sae.startswith(NEURONPEDIA_SCHEME):
        if model is not None:
            raise ValueError("a neuronpedia:// SAE names its model itself; leave model= out")
        if remote:
            raise ValueError("a neuronpedia:// SAE is measured by Neuronpedia's servers; remote=True does not apply")
        return load_neuronpedia_target(sae)
    if remote:
        ndif_api_key()  # before anything is downloaded
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was asked for, but torch sees no CUDA GPU here (torch.cuda.is_available() is False): "
            "use device='cpu', or install a CUDA build of torch"
        )
    loaded_sae, source = load_sae(sae or DEFAULT_SAE, device=device)
    model_name = model or sae_model_name(loaded_sae) or DEFAULT_MODEL
    if remote:
        lm, tokenizer = load_remote_model(model_name)
        return Target(
            lm.pipeline.model, tokenizer, loaded_sae, model_name=model_name, sae_source=source, lm=lm, remote=True
        )
    hf_model, tokenizer = load_hf_model(model_name, device=device, dtype=dtype)
    return Target(hf_model, tokenizer, loaded_sae, model_name=model_name, sae_source=source)
