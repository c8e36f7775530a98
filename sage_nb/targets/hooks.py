"""Where an SAE reads the model: hook names (TransformerLens style, as SAE metadata stores them)
mapped onto the modules of HF models through nnsight.

A registry of module layouts replaces if-chains: adding a model family is one entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

Site = Literal["resid_pre", "resid_post", "mlp_out", "attn_out"]
SITES: tuple[Site, ...] = ("resid_pre", "resid_post", "mlp_out", "attn_out")


class UnknownHookError(ValueError):
    """A hook name that does not name a supported site, or a layer the model does not have."""


@dataclass(frozen=True)
class Layout:
    """Attribute paths of one model family: the list of decoder blocks, and the attention / MLP modules.

    ``attn_norm`` / ``mlp_norm`` name the norms that some families (Gemma 2 and 3) apply to the attention and MLP
    outputs before adding them to the residual stream. TransformerLens's ``hook_attn_out`` / ``hook_mlp_out``, and
    so the SAEs trained there (Gemma Scope's MLP SAEs, for one), read the output of those norms.
    """

    layers: str
    attn: str
    mlp: str
    attn_norm: str | None = None
    mlp_norm: str | None = None


#: Module layouts by HF ``model_type``. Llama, Gemma 1, Qwen 2/3 and Mistral share one shape; Gemma 2/3 add post-norms.
LAYOUTS: dict[str, Layout] = {
    **{
        t: Layout("model.layers", "self_attn", "mlp")
        for t in ("llama", "gemma", "qwen2", "qwen3", "mistral", "olmo2", "phi3")
    },
    **{
        t: Layout("model.layers", "self_attn", "mlp", "post_attention_layernorm", "post_feedforward_layernorm")
        for t in ("gemma2", "gemma3", "gemma3_text")
    },
    "gpt2": Layout("transformer.h", "attn", "mlp"),
    "gpt_neox": Layout("gpt_neox.layers", "attention", "mlp"),
}

_TL = re.compile(r"^blocks\.(\d+)\.hook_(resid_pre|resid_post|mlp_out|attn_out)$")


@dataclass(frozen=True)
class HookPoint:
    """A layer and a site in the residual computation, e.g. ``HookPoint(12, "resid_post")``."""

    layer: int
    site: Site

    @classmethod
    def parse(cls, hook_name: str) -> HookPoint:
        """Parse a TransformerLens hook name such as ``blocks.12.hook_resid_post``."""
        match = _TL.match(hook_name.strip())
        if not match:
            raise UnknownHookError(
                f"Unsupported hook name {hook_name!r}: expected 'blocks.<layer>.hook_<site>' with site one of {SITES}"
            )
        return cls(int(match.group(1)), match.group(2))  # type: ignore[arg-type]

    @property
    def name(self) -> str:
        return f"blocks.{self.layer}.hook_{self.site}"


def layout_of(hf_model: Any) -> Layout:
    """The module layout of an HF causal LM (raises for an unknown family)."""
    model_type = getattr(getattr(hf_model, "config", None), "model_type", None)
    if model_type not in LAYOUTS:
        raise UnknownHookError(f"No module layout known for model_type {model_type!r}; known: {sorted(LAYOUTS)}")
    return LAYOUTS[model_type]


def _path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def block(model: Any, layout: Layout, layer: int) -> Any:
    """Decoder block ``layer`` of a (nnsight-wrapped or plain) model, with a clear error when out of range."""
    blocks = _path(model, layout.layers)
    n = len(blocks)
    if not 0 <= layer < n:
        raise UnknownHookError(f"Layer {layer} does not exist: the model has layers 0..{n - 1}")
    return blocks[layer]


def site_of(model: Any, layout: Layout, hook: HookPoint) -> tuple[Any, str, int | None]:
    """Where ``hook``'s activation lives: a module, which of its values (``"input"`` or ``"output"``), and the item
    to take when that value is a tuple (attention modules return ``(output, weights)``), else None.

    Plain values, so that code shipped to a remote server (see :mod:`sage_nb.targets.remote`) can use them.
    """
    blk = block(model, layout, hook.layer)
    if hook.site == "resid_post":
        return blk, "output", None
    if hook.site == "resid_pre":
        return blk, "input", None
    if hook.site == "mlp_out":
        return getattr(blk, layout.mlp_norm or layout.mlp), "output", None
    if layout.attn_norm is not None:
        return getattr(blk, layout.attn_norm), "output", None
    return getattr(blk, layout.attn), "output", 0


def read_site(model: Any, layout: Layout, hook: HookPoint) -> Any:
    """Inside an nnsight trace: the proxy of the activation at ``hook`` (shape ``[batch, seq, d]``)."""
    module, value, item = site_of(model, layout, hook)
    out = getattr(module, value)
    return out if item is None else out[item]


def write_site(model: Any, layout: Layout, hook: HookPoint, value: Any) -> None:
    """Inside an nnsight trace: replace the activation at ``hook`` with ``value``."""
    module, name, item = site_of(model, layout, hook)
    if item is None:
        setattr(module, name, value)
    else:
        old = getattr(module, name)
        setattr(module, name, (*old[:item], value, *old[item + 1 :]))
