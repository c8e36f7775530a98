"""The planted target: a tokenizer plus the planted features, measured through the target interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from sage_nb.config import DEFAULT_MODEL, cache_dir
from sage_nb.data.contexts import bos_id
from sage_nb.targets.base import EncodedBatch, TokenTarget
from sage_nb.targets.models import EMBEDDED_MODELS, load_hf_model
from sage_nb.targets.planted.catalogue import PLANTED_VERSION, PlantedFeature, planted_features
from sage_nb.targets.saes import SAESource


# -- the target ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlantedHook:
    """Where a planted target "reads the model": nowhere; ``name`` keeps index metadata and cache keys apart."""

    name: str = "planted"


class PlantedTarget(TokenTarget):
    """A tokenizer plus planted features, measured through the same interface as a model + SAE.

    Build it with :func:`load_planted_target`. ``check_features``, ``tokenize``, ``activations`` and
    ``measure`` come from :class:`~sage_nb.targets.base.TokenTarget`, as for a real SAE, so texts are tokenised,
    validated and masked exactly alike.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        features: Sequence[PlantedFeature] | None = None,
        *,
        model_name: str | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.features = list(planted_features() if features is None else features)
        if not self.features:
            raise ValueError("A planted target needs at least one planted feature")
        for position, feature in enumerate(self.features):
            if feature.index != position:
                raise ValueError(f"Planted feature {feature.name!r} has index {feature.index}, not {position}")
        self.model_name = model_name or Path(getattr(tokenizer, "name_or_path", "") or "tokenizer").name
        self.sae_source = SAESource(f"planted-v{PLANTED_VERSION}")
        self.hook = PlantedHook()
        self._bos = bos_id(tokenizer)
        self._special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        self._strings: dict[int, str] = {}

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def d_sae(self) -> int:
        return len(self.features)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def __repr__(self) -> str:
        return f"PlantedTarget(model={self.model_name!r}, sae={self.sae_source.label!r}, d_sae={self.d_sae})"

    def feature(self, key: int | str) -> PlantedFeature:
        """A planted feature by index or by name."""
        if isinstance(key, str):
            for feature in self.features:
                if feature.name == key:
                    return feature
            raise KeyError(f"No planted feature named {key!r}; names: {[f.name for f in self.features]}")
        (index,) = self.check_features(key)
        return self.features[index]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token id as the text it stands for (so that joining them gives the text back)."""
        out = []
        for i in ids:
            i = int(i)
            if i not in self._strings:
                self._strings[i] = self.tokenizer.decode([i])
            out.append(self._strings[i])
        return out

    # -- measuring ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, features: Sequence[int] | None = None
    ) -> EncodedBatch:
        """Planted activations for token ids (BOS at position 0). Padding, BOS and special tokens read as 0.

        Each run of real tokens between special tokens (document separators) is measured as its own text.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        chosen = list(range(self.d_sae)) if features is None else self.check_features(list(features))
        mask = attention_mask.bool() & ~torch.isin(input_ids, self._special)
        mask[:, 0] = False
        acts = torch.zeros(*input_ids.shape, len(chosen))
        for row in range(input_ids.shape[0]):
            keep = mask[row].tolist()
            ids = input_ids[row].tolist()
            pos = 0
            while pos < len(ids):
                if not keep[pos]:
                    pos += 1
                    continue
                end = pos
                while end < len(ids) and keep[end]:
                    end += 1
                tokens = self.token_strings(ids[pos:end])
                for j, f in enumerate(chosen):
                    acts[row, pos:end, j] = torch.tensor(self.features[f].activate(tokens))
                pos = end
        return EncodedBatch(input_ids, mask, acts)

    def top_output_tokens(self, feature: int, k: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """Planted features have no decoder direction: no promoted and no suppressed tokens."""
        self.check_features(feature)
        return [], []

    def describe(self, feature: int) -> str:
        """The true rule behind a planted feature (the answer key; don't show it to the agent being tested)."""
        return self.feature(feature).description


def _embedded_tokenizer(name: str) -> PreTrainedTokenizerBase:
    folder = cache_dir() / "models" / name
    if not (folder / "config.json").exists() or not (folder / "tokenizer_config.json").exists():
        load_hf_model(name)  # builds the dequantised cache (tokenizer included) on first use
    return AutoTokenizer.from_pretrained(str(folder))


def load_planted_target(tokenizer: PreTrainedTokenizerBase | str | None = None) -> PlantedTarget:
    """A :class:`PlantedTarget` over ``tokenizer``: a tokenizer object, an embedded model name or a HF path/id.

    With no argument: the embedded SmolLM2-135M-Instruct's tokenizer (no model is kept in memory).

    >>> target = load_planted_target()  # doctest: +SKIP
    >>> target.measure("See you on Monday", feature=0).acts  # doctest: +SKIP
    [0.0, 0.0, 0.0, 8.0]
    """
    if tokenizer is None:
        tokenizer = DEFAULT_MODEL
    if isinstance(tokenizer, str):
        name = tokenizer
        tok = _embedded_tokenizer(name) if name in EMBEDDED_MODELS else AutoTokenizer.from_pretrained(name)
        return PlantedTarget(tok, model_name=name)
    return PlantedTarget(tokenizer)
