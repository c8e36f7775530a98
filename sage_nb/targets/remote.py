"""Running the target model on NDIF (the National Deep Inference Fabric) through nnsight's remote execution.

A remote target holds only the model's structure here — built on the meta device from its config and tokenizer, so
no weights are downloaded — and passes ``remote=True`` to every nnsight trace it runs: the code inside the trace
is sent to NDIF, runs there against the hosted model, and only the saved values come back. The SAE stays local.

Code inside a remote trace may use only nnsight modules, torch and plain values (NDIF has no sage_nb installed);
that is why the traces here and in :mod:`sage_nb.targets.residuals` resolve modules before they open the trace.

NDIF needs an API key in the environment variable ``NDIF_API_KEY``. It is read at every remote call and handed to
nnsight in memory; sage_nb never writes it anywhere and redacts it from error texts.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import torch

from sage_nb.core.secrets import register_secret

if TYPE_CHECKING:
    import nnsight
    from transformers import PreTrainedTokenizerBase

#: The environment variable that holds the NDIF API key.
NDIF_KEY_ENV = "NDIF_API_KEY"


class NDIFKeyMissing(RuntimeError):
    """``remote=True`` was asked for but ``NDIF_API_KEY`` is not set."""


def ndif_api_key() -> str:
    """The NDIF API key from the environment; raises :class:`NDIFKeyMissing` saying what to set."""
    key = os.environ.get(NDIF_KEY_ENV, "").strip()
    if not key:
        raise NDIFKeyMissing(
            f"remote=True runs the model on NDIF, which needs an API key: set the environment variable "
            f"{NDIF_KEY_ENV} (keys come from https://ndif.us), or load the target without remote=True"
        )
    register_secret(key)
    return key


def use_ndif_key() -> None:
    """Hand the key from the environment to nnsight (in memory only) before a remote trace."""
    from nnsight import CONFIG

    CONFIG.API.APIKEY = ndif_api_key()


def load_remote_model(name_or_path: str) -> tuple[nnsight.TransformersModel, PreTrainedTokenizerBase]:
    """The structure of a causal LM for remote runs (meta device: its config and tokenizer, no weights).

    ``name_or_path`` is a Hub id NDIF hosts (TransformerLens names such as ``gemma-2-2b`` are translated).

    >>> lm, tokenizer = load_remote_model("google/gemma-2-2b")  # doctest: +SKIP
    """
    import nnsight
    from transformers import AutoTokenizer

    from sage_nb.targets.models import EMBEDDED_MODELS, hf_model_id

    if name_or_path in EMBEDDED_MODELS:
        raise ValueError(
            f"{name_or_path!r} is an embedded model that runs on this machine; remote=True is for models NDIF "
            "hosts, such as google/gemma-2-2b"
        )
    source = hf_model_id(name_or_path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
        lm = nnsight.TransformersModel(source, tokenizer=tokenizer, task="text-generation")
    except OSError as err:
        raise OSError(f"Could not load the config and tokenizer of {name_or_path!r} for a remote run: {err}") from err
    return lm, tokenizer


@torch.no_grad()
def remote_logit_weights(
    lm: nnsight.TransformersModel, unembed_path: str, norm_path: str | None, direction: torch.Tensor, gain_offset: float
) -> torch.Tensor:
    """``W_U @ (direction * (gain_offset + final_norm_gain))`` computed on NDIF; a ``[vocab]`` float32 tensor.

    ``unembed_path`` and ``norm_path`` are module paths in ``lm`` (``"lm_head"``, ``"model.norm"``; no norm: None).
    """
    unembed = _module(lm, unembed_path)
    norm = _module(lm, norm_path) if norm_path is not None else None
    bos = lm.tokenizer.bos_token_id if lm.tokenizer.bos_token_id is not None else lm.tokenizer.eos_token_id
    use_ndif_key()
    with lm.trace({"input_ids": torch.tensor([[bos]])}, remote=True) as tracer:
        weight = unembed.weight
        d = direction.to(weight.device)
        if norm is not None:
            d = d * (gain_offset + norm.weight.float())
        weights = (weight.float() @ d).cpu().save()
        tracer.stop()
    return weights


def _module(lm: nnsight.TransformersModel, path: str) -> object:
    obj = lm
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj
