"""What every explainer is: it turns a feature's mined data into one :class:`~sage_nb.core.records.Candidate`.

The one-shot baseline (:class:`~sage_nb.explainers.one_shot.OneShotExplainer`), the computed top-tokens sentence
(:class:`~sage_nb.explainers.top_tokens.TopTokensExplainer`), the SAGE agent
(:class:`~sage_nb.agent.SageExplainer`) and a trained explainer all answer the same two calls, so a notebook, the
CLI and the benchmarks can put any of them side by side and hand the candidates to the scorers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sage_nb.core.records import Candidate
from sage_nb.data.records import FeatureData

#: Why a feature without exemplars has no explanation.
NEVER_FIRED = "the feature never fired in the mined corpus: no exemplars"


class ExplainError(ValueError):
    """An explainer could not explain a feature; ``error`` is the recorded reason (LLM error, no exemplars ...)."""

    def __init__(self, feature: int, error: str, explainer: str = "baseline") -> None:
        super().__init__(f"{explainer} explanation of feature {feature} failed: {error}")
        self.feature = feature
        self.error = error
        self.explainer = explainer


@runtime_checkable
class Explainer(Protocol):
    """Explains features one at a time or in a batch; failures come back as :class:`ExplainError` in the batch."""

    #: The name on the candidates it makes ('baseline', 'top-tokens', 'sage', ...).
    name: str

    def explain(self, feature_data: FeatureData) -> Candidate:
        """The explanation of one feature; raises :class:`ExplainError` when there is none."""
        ...

    def explain_many(self, features: Sequence[FeatureData]) -> list[Candidate | ExplainError]:
        """One candidate (or the error) per feature, in order."""
        ...
