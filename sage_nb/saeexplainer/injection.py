"""Vector-in: write a feature's decoder direction into the explainer's residual stream at a placeholder token.

The direction is ``decode(e_f) - decode(0)`` of the target's SAE, made unit length. The shipped SAE rescales its
activations by the decoder norm (``rescale_acts_by_decoder_norm``), so a raw ``W_dec`` row has the wrong length;
the difference of two decodes is the direction the SAE actually adds per unit of activation. It is scaled to the
explainer's typical residual norm at the injection layer (the median token norm over corpus contexts, first
position left out), so the injected state looks like an ordinary token's.

:class:`VectorInjector` hooks two modules: the token embedding (to see where the placeholder token is) and the
output of decoder block ``layer``, where the placeholder positions are replaced by the row's vector. Positions
without the placeholder are never touched; a batch with placeholders but no vectors raises.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import torch
from sae_lens import SAE

from sage_nb.targets.hooks import block, layout_of


@torch.no_grad()
def feature_directions(sae: SAE, features: Sequence[int]) -> torch.Tensor:
    """Unit directions ``decode(e_f) - decode(0)`` of ``features``, ``[n, d_in]`` float32 on the CPU."""
    features = list(features)
    if not features:
        raise ValueError("no features given")
    dtype, device = sae.W_dec.dtype, sae.W_dec.device
    codes = torch.zeros(len(features), int(sae.cfg.d_sae), dtype=dtype, device=device)
    codes[torch.arange(len(features)), torch.tensor(features)] = 1
    zero = sae.decode(torch.zeros(1, int(sae.cfg.d_sae), dtype=dtype, device=device))
    diff = (sae.decode(codes) - zero).float().cpu()
    norms = diff.norm(dim=-1, keepdim=True)
    if bool((norms == 0).any()):
        dead = [f for f, n in zip(features, norms.flatten().tolist(), strict=True) if n == 0]
        raise ValueError(f"features {dead} have a zero decoder direction")
    return diff / norms


@torch.no_grad()
def residual_norm(model: torch.nn.Module, contexts: torch.Tensor, layer: int, batch_size: int = 8) -> float:
    """Median norm of the output of decoder block ``layer`` over ``contexts`` (token ids; position 0 left out)."""
    captured: list[torch.Tensor] = []

    def grab(_module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured.append(hidden[:, 1:].float().norm(dim=-1).flatten().cpu())

    handle = block(model, layout_of(model), layer).register_forward_hook(grab)
    try:
        device = next(model.parameters()).device
        for start in range(0, len(contexts), batch_size):
            model(input_ids=contexts[start : start + batch_size].to(device))
    finally:
        handle.remove()
    return float(torch.cat(captured).median())


class VectorInjector:
    """Replaces the explainer's hidden state at placeholder tokens by per-row vectors, at the output of ``layer``.

    >>> injector = VectorInjector(model, layer=2, placeholder_id=16)  # doctest: +SKIP
    >>> with injector.active(vectors):  # one vector per batch row
    ...     model(input_ids=ids)  # doctest: +SKIP
    """

    def __init__(self, model: torch.nn.Module, layer: int, placeholder_id: int) -> None:
        self.layer = layer
        self.placeholder_id = int(placeholder_id)
        self._vectors: torch.Tensor | None = None
        self._mask: torch.Tensor | None = None
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        embed = base.get_input_embeddings()
        self._handles = [
            embed.register_forward_hook(self._see_tokens),
            block(base, layout_of(base), layer).register_forward_hook(self._inject),
        ]

    def remove(self) -> None:
        """Take the hooks off the model."""
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @contextlib.contextmanager
    def active(self, vectors: torch.Tensor | None) -> Iterator[None]:
        """Inject ``vectors`` (``[batch, d]``, one per row of the batches run inside) while the block runs."""
        previous = self._vectors
        self._vectors = vectors
        try:
            yield
        finally:
            self._vectors = previous
            self._mask = None

    def _see_tokens(self, _module, inputs, _output) -> None:
        self._mask = inputs[0] == self.placeholder_id

    def _inject(self, _module, _inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        mask = self._mask
        if mask is None or mask.shape != hidden.shape[:2] or not bool(mask.any()):
            return None
        if self._vectors is None:
            raise RuntimeError(
                "the input holds the placeholder token but no feature vectors are active (use injector.active)"
            )
        vectors = self._vectors.to(hidden.device, hidden.dtype)
        if vectors.shape != (hidden.shape[0], hidden.shape[-1]):
            raise ValueError(f"need one vector per row, shape {tuple(hidden.shape[::2])}, got {tuple(vectors.shape)}")
        replaced = torch.where(mask.unsqueeze(-1).to(hidden.device), vectors.unsqueeze(1), hidden)
        return (replaced, *output[1:]) if isinstance(output, tuple) else replaced


__all__ = ["VectorInjector", "feature_directions", "residual_norm"]
