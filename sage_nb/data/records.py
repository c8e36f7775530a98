"""Records that cross module boundaries: token activations, exemplars and the feature view's data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class TokenActivations:
    """One text as the model saw it: its tokens (BOS excluded) and one feature's activation on each."""

    text: str
    tokens: list[str]
    acts: list[float]

    @property
    def max_act(self) -> float:
        return max(self.acts, default=0.0)

    @property
    def argmax(self) -> int:
        return max(range(len(self.acts)), key=self.acts.__getitem__) if self.acts else -1


@dataclass(frozen=True)
class Exemplar:
    """A corpus window around the token where a feature peaked in one context."""

    context_index: int  # row in the mined contexts
    tokens: list[str]  # the window's tokens
    acts: list[float]  # the feature's activation on each window token
    peak: int  # position of the maximum inside the window

    @property
    def max_act(self) -> float:
        return self.acts[self.peak]


@dataclass
class FeatureData:
    """Everything the feature view shows about one feature, from one mining pass."""

    index: int
    max_activation: float  # largest activation seen in the mined corpus
    density: float  # fraction of mined tokens where the feature is > 0
    hist_edges: list[float]  # histogram bin edges of positive activations
    hist_counts: list[int]
    top: list[Exemplar]  # strongest contexts, strongest first
    quantiles: list[tuple[str, list[Exemplar]]] = field(default_factory=list)  # (label, exemplars) by activation band
    promoted: list[tuple[str, float]] = field(default_factory=list)  # output tokens the decoder direction raises
    suppressed: list[tuple[str, float]] = field(default_factory=list)  # ... and lowers


@runtime_checkable
class ExemplarSource(Protocol):
    """Where a feature's exemplars come from: a mined :class:`~sage_nb.data.index.FeatureIndex`, or the activations
    a service stores (:class:`~sage_nb.targets.neuronpedia.NeuronpediaIndex`)."""

    def feature_data(self, target: Any, feature: int, k: int = 10) -> FeatureData:
        """The feature's data (top exemplars, quantile samples, histogram) for ``target``."""
        ...
