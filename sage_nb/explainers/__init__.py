"""Explainers that need no agent loop: the one-shot LLM baseline and the sentence computed from the evidence.

>>> OneShotExplainer(llm).explain(index.feature_data(target, 123))  # doctest: +SKIP
>>> TopTokensExplainer().explain(index.feature_data(target, 123))  # doctest: +SKIP
"""

from sage_nb.explainers.base import Explainer, ExplainError
from sage_nb.explainers.one_shot import OneShotExplainer
from sage_nb.explainers.top_tokens import TopTokensExplainer

__all__ = ["ExplainError", "Explainer", "OneShotExplainer", "TopTokensExplainer"]
