"""Neuronpedia's stored activations as a feature index, so ``explain_features`` and ``evaluate`` run unchanged.

A mined :class:`~sage_nb.data.index.FeatureIndex` is built by one pass over a local corpus. With Neuronpedia the
exemplars already exist: each feature's record holds its top activations and samples from activation intervals.
:class:`NeuronpediaIndex` lays them out with the part of ``FeatureIndex``'s interface that the agent and the
evaluation use: :meth:`~NeuronpediaIndex.feature_data`, :meth:`~NeuronpediaIndex.exemplars` (the top
activations), :meth:`~NeuronpediaIndex.quantile_samples` (the interval samples, split into bands by activation)
and ``contexts`` (token ids, BOS column first). Tokens arrive as strings; :class:`TokenVocab` gives them ids.

Used as ``held_out`` by ``evaluate``, the same index gives the held-out samples: ``evaluate`` leaves out the
exemplars an explainer saw (the top activations), so the samples are the interval samples, re-measured through
the API, and spans of the other rows that do not fire.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sage_nb.data.index import WINDOW_AFTER, WINDOW_BEFORE, band_label
from sage_nb.data.records import Exemplar, FeatureData

TokenStrings = Callable[[Sequence[int]], list[str]]


class TokenVocab:
    """Token strings as integer ids (id 0 is the empty string, standing for BOS and padding)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {"": 0}
        self._strings: list[str] = [""]
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._strings)

    def ids(self, tokens: Sequence[str]) -> list[int]:
        """The id of each token (new strings get new ids)."""
        with self._lock:
            out = []
            for token in tokens:
                if token not in self._ids:
                    self._ids[token] = len(self._strings)
                    self._strings.append(token)
                out.append(self._ids[token])
            return out

    def strings(self, ids: Sequence[int]) -> list[str]:
        """The string of each id; raises ``IndexError`` for an id this vocabulary never gave out."""
        return [self._strings[int(i)] for i in ids]


class NeuronpediaIndex:
    """The stored activations of ``features`` of a :class:`~sage_nb.targets.neuronpedia.NeuronpediaTarget`.

    Build it with ``target.exemplar_index(features)``. Rows are the features' stored contexts in the order of
    ``features`` (duplicates of a feature dropped); ``contexts`` is ``[rows, 1 + width]`` with BOS (id 0) first
    and every row cut to the shortest row's length (only the spans ``evaluate`` cuts for zero samples read it).
    """

    def __init__(self, target: Any, features: Sequence[int]) -> None:
        self.features = list(dict.fromkeys(target.check_features(list(features))))
        self.meta = {"sae": target.sae_source.label, "model": target.model_name, "hook": target.hook.name,
                     "corpus": "neuronpedia", "features": self.features}  # fmt: skip
        self._d_sae = target.d_sae
        self._rows: list[list[int]] = []
        self._acts: list[list[float]] = []
        self._top: dict[int, list[int]] = {}
        self._samples: dict[int, list[int]] = {}
        self._max: dict[int, float] = {}
        for feature in self.features:
            record = target.record(feature)
            self._max[feature] = record.max_activation
            self._top[feature], self._samples[feature] = [], []
            seen: set[tuple[str, ...]] = set()
            for act in record.activations:
                if tuple(act.tokens) in seen:
                    continue
                seen.add(tuple(act.tokens))
                (self._top if act.is_top else self._samples)[feature].append(len(self._rows))
                self._rows.append(target.vocab.ids(act.tokens))
                self._acts.append(list(act.values))
        width = min((len(r) for r in self._rows), default=0)
        self.contexts = np.zeros((len(self._rows), width + 1), dtype=np.int64)
        for i, row in enumerate(self._rows):
            self.contexts[i, 1:] = row[:width]

    def __repr__(self) -> str:
        return f"NeuronpediaIndex(features={self.features}, contexts={len(self._rows)})"

    @property
    def d_sae(self) -> int | None:
        return self._d_sae

    def _check(self, feature: int) -> None:
        if feature not in self._top:
            raise IndexError(
                f"feature {feature!r} is not in this Neuronpedia index (built for {self.features}); "
                "build one with target.exemplar_index([...]) that includes it"
            )

    def _peak(self, row: int) -> float:
        return max(self._acts[row], default=0.0)

    def _window(self, row: int, token_strings: TokenStrings) -> Exemplar:
        acts = self._acts[row]
        peak = max(range(len(acts)), key=acts.__getitem__)
        lo, hi = max(0, peak - WINDOW_BEFORE), min(len(acts), peak + WINDOW_AFTER + 1)
        return Exemplar(row, token_strings(self._rows[row][lo:hi]), [round(a, 4) for a in acts[lo:hi]], peak - lo)

    def exemplars(self, feature: int, token_strings: TokenStrings, k: int | None = None) -> list[Exemplar]:
        """The feature's top stored activations as windows around their peak token, strongest first."""
        self._check(feature)
        rows = [r for r in self._top[feature] if self._peak(r) > 0]
        rows.sort(key=self._peak, reverse=True)
        return [self._window(r, token_strings) for r in rows[:k]]

    def quantile_samples(
        self, feature: int, token_strings: TokenStrings, bands: int = 4
    ) -> list[tuple[str, list[Exemplar]]]:
        """The feature's interval samples split into ``bands`` bands by activation, weakest band first."""
        self._check(feature)
        rows = sorted((r for r in self._samples[feature] if self._peak(r) > 0), key=self._peak)
        top = self._max[feature]
        if not rows or top <= 0:
            return []
        out = []
        for group in np.array_split(np.array(rows), min(bands, len(rows))):
            group = [int(r) for r in group]
            label = band_label(self._peak(group[0]), self._peak(group[-1]), top)
            out.append((label, [self._window(r, token_strings) for r in group]))
        return out

    def feature_data(self, target: Any, feature: int, k: int = 10) -> FeatureData:
        """Everything the feature view and the explainers need for one feature, from its stored record."""
        self._check(feature)
        record = target.record(feature)
        edges, counts = record.histogram()
        promoted, suppressed = target.top_output_tokens(feature)
        return FeatureData(
            index=feature,
            max_activation=record.max_activation,
            density=record.density,
            hist_edges=edges,
            hist_counts=counts,
            top=self.exemplars(feature, target.token_strings, k),
            quantiles=self.quantile_samples(feature, target.token_strings),
            promoted=promoted,
            suppressed=suppressed,
        )


__all__ = ["NeuronpediaIndex", "TokenVocab"]
