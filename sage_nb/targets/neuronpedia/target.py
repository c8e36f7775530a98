"""A target whose activations come from the Neuronpedia API instead of a local model and SAE.

:class:`NeuronpediaTarget` has the interface the SAGE loop and the evaluation use on
:class:`~sage_nb.targets.target.Target` (``check_features``, ``activations``, ``measure``, ``token_strings``,
``top_output_tokens``, ``d_sae``, ``layer``, ``model_name``, ``sae_source``, ``hook``), so
``explain(target, feature, llm, feature_data=target.feature_data(feature))`` runs unchanged. The exemplars are
Neuronpedia's stored activations (:meth:`~NeuronpediaTarget.feature_data`, :meth:`~NeuronpediaTarget.exemplar_index`)
and its stored explanations can be scored against SAGE's (:meth:`~NeuronpediaTarget.candidates`).

Without a tokenizer, texts are measured as the server tokenises them; a text longer than :data:`MAX_TEXT_CHARS`
characters is refused, or cut to that length with ``truncate=True``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sage_nb.core.records import Candidate
from sage_nb.data.records import FeatureData, TokenActivations
from sage_nb.targets.neuronpedia.client import NeuronpediaClient
from sage_nb.targets.neuronpedia.exemplars import NeuronpediaIndex, TokenVocab
from sage_nb.targets.neuronpedia.records import FeatureRecord, StoredActivation, StoredExplanation
from sage_nb.targets.saes import SAESource

#: Prefix of a Neuronpedia SAE spec: ``neuronpedia://MODEL/SOURCE``.
NEURONPEDIA_SCHEME = "neuronpedia://"
#: Longest text (characters) measured without ``truncate=True``.
MAX_TEXT_CHARS = 4000
#: Name of the explainer whose candidates are Neuronpedia's stored explanations.
EXPLAINER = "neuronpedia"


def parse_neuronpedia_spec(spec: str) -> tuple[str, str]:
    """``"neuronpedia://gemma-2-2b/20-gemmascope-res-16k"`` -> ``("gemma-2-2b", "20-gemmascope-res-16k")``."""
    if not spec.startswith(NEURONPEDIA_SCHEME):
        raise ValueError(f"not a Neuronpedia spec: {spec!r} (expected '{NEURONPEDIA_SCHEME}MODEL/SOURCE')")
    parts = spec[len(NEURONPEDIA_SCHEME) :].strip("/").split("/")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise ValueError(
            f"malformed Neuronpedia spec {spec!r}: expected '{NEURONPEDIA_SCHEME}MODEL/SOURCE', "
            f"e.g. '{NEURONPEDIA_SCHEME}gemma-2-2b/20-gemmascope-res-16k'"
        )
    return parts[0].strip(), parts[1].strip()


def source_layer(source: str) -> int | None:
    """The layer in a Neuronpedia source id (``"20-gemmascope-res-16k"`` -> 20), or None."""
    match = re.match(r"(\d+)-", source)
    return int(match.group(1)) if match else None


def source_width(source: str) -> int | None:
    """The SAE width named in a source id (``16k`` -> 16384, ``1m`` -> 1048576), or None.

    Widths written in thousands are powers of two rounded, so a value within 5% of a power of two is read as it.
    """
    for part in reversed(source.lower().split("-")):
        match = re.fullmatch(r"(\d+)([km])", part)
        if match:
            n = int(match.group(1)) * (1000 if match.group(2) == "k" else 1_000_000)
            power = 2 ** round(math.log2(n))
            return power if abs(power - n) <= 0.05 * n else n
    return None


@dataclass(frozen=True)
class NeuronpediaHook:
    """Where the SAE reads the model, as Neuronpedia names it (the source id); keeps run metadata apart."""

    name: str


class NeuronpediaTarget:
    """One Neuronpedia source (an SAE of a model), measured through the API.

    ``client`` defaults to a :class:`~sage_nb.targets.neuronpedia.client.NeuronpediaClient` built from
    ``client_options`` (``base_url``, ``api_key``, ``cache_dir`` ...). ``d_sae`` defaults to the width in the
    source id (``16k``), else to the ``d_sae`` of a fetched feature's source config; while unknown, only
    non-negative indices are checked locally and the server names unknown ones.

    >>> target = NeuronpediaTarget("gemma-2-2b", "20-gemmascope-res-16k")  # doctest: +SKIP
    >>> target.measure("See you on Monday", 10956).acts  # doctest: +SKIP
    """

    def __init__(
        self,
        model_id: str,
        source: str,
        *,
        client: NeuronpediaClient | None = None,
        d_sae: int | None = None,
        **client_options: Any,
    ) -> None:
        if client is not None and client_options:
            raise ValueError("pass either client= or client options, not both")
        self.model_id, self.source = model_id, source
        self.client = client if client is not None else NeuronpediaClient(**client_options)
        self.model_name = model_id
        self.sae_source = SAESource(f"{NEURONPEDIA_SCHEME}{model_id}/{source}", sae_id=source)
        self.hook = NeuronpediaHook(source)
        self.vocab = TokenVocab()
        self._d_sae = d_sae if d_sae is not None else source_width(source)
        self._records: dict[int, FeatureRecord] = {}

    # -- facts -------------------------------------------------------------------------------------------------------
    @property
    def label(self) -> str:
        """``neuronpedia://MODEL/SOURCE``: names this target in run metadata and index metadata."""
        return self.sae_source.label

    @property
    def d_sae(self) -> int | None:
        return self._d_sae

    @property
    def layer(self) -> int | None:
        return source_layer(self.source)

    def __repr__(self) -> str:
        return f"NeuronpediaTarget({self.label!r}, d_sae={self.d_sae}, client={self.client!r})"

    def check_features(self, features: int | Sequence[int]) -> list[int]:
        """Validate feature indices; raise ``IndexError`` naming the valid range for a bad one."""
        items = list(features) if isinstance(features, list | tuple | range) else [features]
        if not items:
            raise ValueError("No feature index given")
        for f in items:
            if not isinstance(f, int) or isinstance(f, bool) or f < 0 or (self.d_sae is not None and f >= self.d_sae):
                width = f"{self.d_sae} features (0..{self.d_sae - 1})" if self.d_sae is not None else "indices >= 0"
                raise IndexError(f"Unknown feature {f!r}: {self.label} has {width}")
        return items

    # -- stored data -------------------------------------------------------------------------------------------------
    def record(self, feature: int) -> FeatureRecord:
        """The feature's stored data (fetched once, then from memory and the disk cache)."""
        (feature,) = self.check_features(feature)
        if feature not in self._records:
            data = self.client.feature(self.model_id, self.source, feature)
            record = FeatureRecord.from_api(data, self.model_id, self.source, feature)
            if self._d_sae is None and record.d_sae is not None:
                self._d_sae = record.d_sae
            self._records[feature] = record
        return self._records[feature]

    def exemplar_index(self, features: Sequence[int]) -> NeuronpediaIndex:
        """The stored activations of ``features`` as an index (``index=`` / ``held_out=`` of explain and evaluate)."""
        return NeuronpediaIndex(self, features)

    def feature_data(self, feature: int, k: int = 10) -> FeatureData:
        """Exemplars and statistics of one feature from its stored record (``explain(..., feature_data=...)``)."""
        return self.exemplar_index([feature]).feature_data(self, feature, k=k)

    def explanations(self, feature: int) -> list[StoredExplanation]:
        """The explanations Neuronpedia holds for ``feature``, best-scored first."""
        return list(self.record(feature).explanations)

    def candidates(self, features: int | Sequence[int]) -> list[Any]:
        """The best stored explanation of each feature as an evaluation
        :class:`~sage_nb.evaluate.base.Candidate` (explainer ``"neuronpedia"``); features without one are left out."""
        out = []
        for feature in self.check_features(features):
            stored = self.explanations(feature)
            if stored:
                out.append(Candidate(feature, EXPLAINER, stored[0].description))
        return out

    def top_output_tokens(self, feature: int, k: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """The ``k`` output tokens the feature promotes most and suppresses most (Neuronpedia's logit lists)."""
        record = self.record(feature)
        return record.promoted[:k], record.suppressed[:k]

    # -- measuring ---------------------------------------------------------------------------------------------------
    def activations(
        self, texts: str | Sequence[str], feature: int, *, truncate: bool = False
    ) -> list[TokenActivations]:
        """Per-token activations of one feature on each text, as the server tokenises it (BOS left out).

        >>> target.activations(["Monday morning", "x = 1"], feature=12)  # doctest: +SKIP
        """
        (feature,) = self.check_features(feature)
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            raise ValueError("No text given")
        sent = []
        for text in texts:
            if not isinstance(text, str) or not text.strip():
                raise ValueError("Cannot measure an empty text")
            if len(text) > MAX_TEXT_CHARS:
                if not truncate:
                    raise ValueError(
                        f"Text has {len(text)} characters, more than {MAX_TEXT_CHARS}; shorten it or pass truncate=True"
                    )
                text = text[:MAX_TEXT_CHARS]
            sent.append(text)
        rows = self.client.activations(self.model_id, self.source, feature, sent)
        out = []
        for text, measured, row in zip(texts, sent, rows, strict=True):
            act = StoredActivation.from_api(row, measured)
            out.append(TokenActivations(text, act.tokens, act.values))
        return out

    def measure(self, text: str, feature: int) -> TokenActivations:
        """One text, one feature: the probe widget's measuring function."""
        return self.activations(text, feature)[0]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """The token strings behind ids of this target's vocabulary (ids appear in :meth:`exemplar_index` rows)."""
        return self.vocab.strings(ids)


def load_neuronpedia_target(spec: str, *, d_sae: int | None = None, **client_options: Any) -> NeuronpediaTarget:
    """A :class:`NeuronpediaTarget` from ``"neuronpedia://MODEL/SOURCE"``.

    >>> target = load_neuronpedia_target("neuronpedia://gemma-2-2b/20-gemmascope-res-16k")  # doctest: +SKIP
    """
    model_id, source = parse_neuronpedia_spec(spec)
    return NeuronpediaTarget(model_id, source, d_sae=d_sae, **client_options)


__all__ = [
    "EXPLAINER",
    "MAX_TEXT_CHARS",
    "NEURONPEDIA_SCHEME",
    "NeuronpediaHook",
    "NeuronpediaTarget",
    "load_neuronpedia_target",
    "parse_neuronpedia_spec",
    "source_layer",
    "source_width",
]
