"""Tiny randomly initialised models of each supported layout, and SAELens SAEs for them, saved to local folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from sae_lens import SAE
from transformers import (
    Gemma2Config,
    Gemma2ForCausalLM,
    GPT2Config,
    GPT2LMHeadModel,
    GPTNeoXConfig,
    GPTNeoXForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
)

D_MODEL = 64
FAMILIES = ("gpt2", "llama", "gemma2", "gpt_neox")

#: Where TransformerLens's hooks sit in each family's HF modules, written out independently of sage_nb's layouts.
#: On Gemma 2, hook_attn_out and hook_mlp_out come after the norms applied to the attention and MLP outputs.
MODULES: dict[str, dict[str, Any]] = {
    "gpt2": {"block": lambda m, L: m.transformer.h[L], "attn": "attn", "mlp": "mlp"},
    "llama": {"block": lambda m, L: m.model.layers[L], "attn": "self_attn", "mlp": "mlp"},
    "gemma2": {
        "block": lambda m, L: m.model.layers[L],
        "attn": "post_attention_layernorm",
        "mlp": "post_feedforward_layernorm",
    },
    "gpt_neox": {"block": lambda m, L: m.gpt_neox.layers[L], "attn": "attention", "mlp": "mlp"},
}


def tiny_model(family: str, vocab: int) -> torch.nn.Module:
    """A 3-layer causal LM of ``family`` with d_model 64."""
    common = {"vocab_size": vocab, "num_hidden_layers": 3, "hidden_size": D_MODEL, "num_attention_heads": 4}
    if family == "gpt2":
        return GPT2LMHeadModel(GPT2Config(vocab_size=vocab, n_layer=3, n_embd=D_MODEL, n_head=4, n_positions=256))
    if family == "llama":
        return LlamaForCausalLM(
            LlamaConfig(**common, intermediate_size=128, num_key_value_heads=2, max_position_embeddings=256)
        )
    if family == "gemma2":
        return Gemma2ForCausalLM(
            Gemma2Config(
                **common, intermediate_size=128, num_key_value_heads=2, head_dim=16, max_position_embeddings=256
            )
        )
    if family == "gpt_neox":
        return GPTNeoXForCausalLM(GPTNeoXConfig(**common, intermediate_size=128, max_position_embeddings=256))
    raise ValueError(family)


def save_tiny_model(family: str, tokenizer: Any, path: Path) -> Path:
    """Save a tiny ``family`` model with ``tokenizer`` into ``path`` (a local HF model directory)."""
    tokenizer.save_pretrained(path)
    tiny_model(family, len(tokenizer)).save_pretrained(path)
    return path


def save_tiny_sae(path: Path, hook_name: str, model_dir: Path, metadata: dict | None = None, **cfg: Any) -> Path:
    """A TopK SAE (96 features, k 8) with random weights for ``hook_name`` of the model in ``model_dir``."""
    sae = SAE.from_dict(
        {
            "architecture": "topk",
            "d_in": D_MODEL,
            "d_sae": 96,
            "k": 8,
            "dtype": "float32",
            "device": "cpu",
            **cfg,
            "metadata": {"hook_name": hook_name, "model_name": str(model_dir), **(metadata or {})},
        }
    )
    with torch.no_grad():
        for p in sae.parameters():
            p.normal_(0, 0.3)
    sae.save_model(str(path))
    return path


def captured(model: torch.nn.Module, family: str, layer: int, site: str, ids: torch.Tensor) -> torch.Tensor:
    """The activation at ``blocks.{layer}.hook_{site}``, read with a plain PyTorch forward hook."""
    spec = MODULES[family]
    blk = spec["block"](model, layer)
    module = {
        "resid_pre": blk,
        "resid_post": blk,
        "mlp_out": getattr(blk, spec["mlp"]),
        "attn_out": getattr(blk, spec["attn"]),
    }[site]
    seen = {}

    def hook(mod, args, kwargs, output):
        if site == "resid_pre":
            seen["x"] = args[0] if args else kwargs["hidden_states"]
        else:
            seen["x"] = output[0] if isinstance(output, tuple) else output

    handle = module.register_forward_hook(hook, with_kwargs=True)
    with torch.no_grad():
        model(ids)
    handle.remove()
    return seen["x"]
