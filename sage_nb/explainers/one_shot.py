"""A one-shot baseline explainer: one LLM call from the top exemplars (and the same evidence SAGE's agent gets).

The prompt shows the top-``k`` exemplars as token/activation pairs on a 0-10 scale (Neuronpedia's
``oai_token-act-pair`` style) and, with ``use_evidence``, the :class:`~sage_nb.evidence.Evidence` text the SAGE
agent sees, so a comparison of the two differs only in the agent's testing loop. The reply is a one-sentence
description with 1-3 labels: the same representation SAGE's explanation is scored on.

A failed call raises :class:`ExplainError` (a ``ValueError`` holding the recorded error): there is no
explanation to score. :meth:`OneShotExplainer.explain_many` returns such errors in place instead of raising.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sage_nb.core.records import Candidate
from sage_nb.core.text import unvisible
from sage_nb.data.records import FeatureData
from sage_nb.evidence import feature_scale
from sage_nb.explainers import prompts
from sage_nb.explainers.base import ExplainError
from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult

#: The explainer name on the candidates this module returns.
EXPLAINER = "baseline"
#: The LLM role tag of the baseline's calls.
ROLE = "baseline"


class OneShotExplainer:
    """Explain a feature in one LLM call from its top-``top_k`` exemplars (plus the evidence when ``use_evidence``)."""

    name = EXPLAINER

    def __init__(self, llm: LLMBackend, top_k: int = prompts.BASELINE_TOP_K, use_evidence: bool = True) -> None:
        if top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {top_k}")
        self.llm = llm
        self.top_k = top_k
        self.use_evidence = use_evidence

    def __repr__(self) -> str:
        return f"OneShotExplainer(llm={self.llm!r}, top_k={self.top_k}, use_evidence={self.use_evidence})"

    def request(self, feature_data: FeatureData) -> LLMRequest[Any]:
        """The call for one feature; raises :class:`ExplainError` when the feature never fired."""
        if not feature_data.top or feature_scale(feature_data) <= 0:
            raise ExplainError(
                feature_data.index, "the feature never fired in the mined corpus: no exemplars", EXPLAINER
            )
        return LLMRequest(
            messages=prompts.baseline_messages(feature_data, self.top_k, self.use_evidence),
            schema=prompts.BaselineReply,
            role=ROLE,
            feature=str(feature_data.index),
            max_tokens=prompts.BASELINE_REPLY_TOKENS,
        )

    def explain(self, feature_data: FeatureData) -> Candidate:
        """The baseline's explanation of one feature; raises :class:`ExplainError` when the call fails."""
        return _candidate(feature_data.index, self.llm.run(self.request(feature_data)))

    def explain_many(self, feature_datas: Sequence[FeatureData]) -> list[Candidate | ExplainError]:
        """Explain several features in one batch (:meth:`LLMBackend.complete_many`), in order.

        A feature that could not be explained gets its :class:`ExplainError` in place of a candidate.
        """
        out: list[Candidate | ExplainError | None] = [None] * len(feature_datas)
        todo: list[tuple[int, LLMRequest[Any]]] = []
        for i, fd in enumerate(feature_datas):
            try:
                todo.append((i, self.request(fd)))
            except ExplainError as err:
                out[i] = err
        results = self.llm.complete_many([r for _, r in todo], raise_unavailable=False) if todo else []
        for (i, _), result in zip(todo, results, strict=True):
            try:
                out[i] = _candidate(feature_datas[i].index, result)
            except ExplainError as err:
                out[i] = err
        return [c for c in out if c is not None]


def _candidate(feature: int, result: LLMResult[Any]) -> Candidate:
    if not result.ok or result.parsed is None:
        raise ExplainError(feature, f"{result.error_kind}: {result.error}", EXPLAINER)
    reply: prompts.BaselineReply = result.parsed
    description = " ".join(unvisible(reply.description).split())
    labels = [label for label in (" ".join(unvisible(x).split()) for x in reply.labels) if label]
    return Candidate(feature, EXPLAINER, description, list(dict.fromkeys(labels)))


__all__ = ["EXPLAINER", "ExplainError", "OneShotExplainer"]
