"""What every target measured through a tokenizer shares: feature validation, tokenisation and per-text measuring.

:class:`TokenTarget` is the declared interface of such targets. A subclass provides ``tokenizer``, ``d_sae``,
:meth:`~TokenTarget.encode` (activations for token ids) and may override :meth:`~TokenTarget.token_strings`; it
inherits :meth:`~TokenTarget.check_features`, :meth:`~TokenTarget.tokenize`, :meth:`~TokenTarget.activations` and
:meth:`~TokenTarget.measure`, so texts are tokenised, validated and masked alike for a model + SAE
(:class:`~sage_nb.targets.target.Target`) and for planted features
(:class:`~sage_nb.targets.planted.PlantedTarget`).
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch

from sage_nb.data.records import TokenActivations

#: Longest text (in tokens) measured without ``truncate=True``.
MAX_TEXT_TOKENS = 1024


@dataclass
class EncodedBatch:
    """Feature activations for a batch: ``acts [batch, seq, n_features]`` and which positions are real tokens."""

    input_ids: torch.Tensor  # [batch, seq] including BOS at position 0
    mask: torch.Tensor  # [batch, seq] True for real, non-special tokens
    acts: torch.Tensor  # [batch, seq, n_features], zero where mask is False


def _kind(value: object) -> str:
    return "None" if value is None else type(value).__name__


def _decode_hint(value: object) -> str:
    return ": decode it first, e.g. data.decode('utf-8')" if isinstance(value, bytes | bytearray) else ""


def as_texts(texts: str | Sequence[str]) -> list[str]:
    """``texts`` as a list of measurable strings; TypeError or ValueError naming the bad item and the fix.

    A text must be a ``str`` (decode bytes first), hold more than whitespace, and be encodable as UTF-8 (a lone
    surrogate such as ``"\\ud800"`` is not: tokenizers reject it).
    """
    if isinstance(texts, str):
        texts = [texts]
    elif isinstance(texts, bytes | bytearray) or not hasattr(texts, "__iter__"):
        raise TypeError(f"texts must be a str or a list of str, got {_kind(texts)}{_decode_hint(texts)}")
    texts = list(texts)
    if not texts:
        raise ValueError("No text given")
    for i, text in enumerate(texts):
        where = f"text {i}" if len(texts) > 1 else "the text"
        if not isinstance(text, str):
            raise TypeError(f"{where} must be a str, got {_kind(text)}{_decode_hint(text)}")
        if not text.strip():
            raise ValueError(f"Cannot measure an empty text ({where} is {text!r})")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(
                f"{where} holds a lone surrogate {text[err.start]!r} at character {err.start}, which no tokenizer can "
                "encode: clean it first, e.g. text.encode('utf-8', 'replace').decode('utf-8')"
            ) from None
    return texts


@runtime_checkable
class FeatureTarget(Protocol):
    """What the agent, the scorers and the views need of a target: a model + SAE, planted features, or a remote
    service (Neuronpedia). :class:`TokenTarget` subclasses meet it, and so does
    :class:`~sage_nb.targets.neuronpedia.NeuronpediaTarget`."""

    model_name: str

    @property
    def d_sae(self) -> int | None: ...

    def check_features(self, features: int | Sequence[int]) -> list[int]: ...

    def activations(
        self, texts: str | Sequence[str], feature: int, *, truncate: bool = False
    ) -> list[TokenActivations]: ...

    def measure(self, text: str, feature: int) -> TokenActivations: ...

    def token_strings(self, ids: Sequence[int]) -> list[str]: ...

    def top_output_tokens(
        self, feature: int, k: int = 10
    ) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]: ...


class TokenTarget(ABC):
    """A feature dictionary measured on tokenised text (see the module docstring)."""

    tokenizer: Any
    _bos: int

    @property
    @abstractmethod
    def d_sae(self) -> int:
        """Number of features."""

    @abstractmethod
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, features: Sequence[int] | None = None
    ) -> EncodedBatch:
        """Activations for token ids (BOS at position 0); padding, BOS and special tokens read as 0."""

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token id as the text it stands for (so that joining them gives the text back)."""
        return [self.tokenizer.decode([i]) for i in ids]

    def check_features(self, features: int | Sequence[int]) -> list[int]:
        """Validate feature indices; raise ``IndexError`` naming the valid range for a bad one."""
        items = list(features) if isinstance(features, list | tuple | range) else [features]
        if not items:
            raise ValueError("No feature index given")
        out = []
        for f in items:
            index = operator.index(f) if hasattr(f, "__index__") and not isinstance(f, bool) else None
            if index is None or not 0 <= index < self.d_sae:
                raise IndexError(f"Unknown feature {f!r}: this SAE has {self.d_sae} features (0..{self.d_sae - 1})")
            out.append(int(index))
        return out

    # -- tokenisation ------------------------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str], truncate: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids ``[batch, seq]`` (BOS first, right-padded) and the attention mask."""
        texts = as_texts(texts)
        rows = []
        for text in texts:
            ids = self.tokenizer(text, add_special_tokens=False).input_ids
            if len(ids) > MAX_TEXT_TOKENS:
                if not truncate:
                    raise ValueError(
                        f"Text has {len(ids)} tokens, more than {MAX_TEXT_TOKENS}; shorten it or pass truncate=True"
                    )
                ids = ids[:MAX_TEXT_TOKENS]
            rows.append([self._bos, *ids])
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self._bos
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        return input_ids, mask

    # -- measuring ---------------------------------------------------------------------------------------
    def activations(
        self, texts: str | Sequence[str], feature: int, *, truncate: bool = False, batch_size: int = 16
    ) -> list[TokenActivations]:
        """Per-token activations of one feature on each text (BOS left out).

        >>> target.activations(["Monday morning", "x = 1"], feature=12)  # doctest: +SKIP
        """
        if isinstance(feature, list | tuple | range):
            raise TypeError(f"activations() measures one feature, got {feature!r}: call it once per feature")
        (feature,) = self.check_features(feature)
        texts = as_texts(texts)
        out: list[TokenActivations] = []
        for start in range(0, len(texts), batch_size):
            chunk = texts[start : start + batch_size]
            ids, mask = self.tokenize(chunk, truncate=truncate)
            enc = self.encode(ids, mask, features=[feature])
            for i, text in enumerate(chunk):
                n = int(mask[i].sum())
                row = ids[i, 1:n].tolist()
                out.append(TokenActivations(text, self.token_strings(row), enc.acts[i, 1:n, 0].tolist()))
        return out

    def measure(self, text: str, feature: int) -> TokenActivations:
        """One text, one feature: the probe widget's measuring function."""
        return self.activations(text, feature)[0]
