"""sage_nb: explain sparse-autoencoder features of language models in notebooks.

The public API: the names below, and the namespaces ``sage_nb.agent``, ``sage_nb.evaluate``, ``sage_nb.explainers``,
``sage_nb.llm``, ``sage_nb.causal``, ``sage_nb.viz``, ``sage_nb.widgets``, ``sage_nb.saeexplainer``,
``sage_nb.evidence`` and ``sage_nb.exercises``. Tutorials, notebooks, the README and the CLI use only these; deeper
module paths may change between versions::

    from sage_nb import load_target, default_corpus, corpus_contexts, load_or_mine, make_llm, explain, evaluate
    target = load_target()                      # embedded SmolLM2-135M + shipped SAE, offline
    acts = target.activations("def f(x):", feature=123)
    state = explain(target, 123, make_llm("local-capable"), index=index)
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_nb.agent import AgentConfig, Bounds, RunState, explain, explain_features, load_run
    from sage_nb.core.records import Candidate
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import Corpus, corpus_from, default_corpus
    from sage_nb.data.index import FeatureIndex, load_or_mine, mine
    from sage_nb.data.records import Exemplar, FeatureData, TokenActivations
    from sage_nb.evaluate.report import evaluate
    from sage_nb.explainers import OneShotExplainer, TopTokensExplainer
    from sage_nb.llm import make_llm, recorded_llm
    from sage_nb.targets import HookPoint, Target, load_target
    from sage_nb.targets.planted import load_planted_target

#: Where each public name lives; imported on first use, so that ``sage-nb --help`` never loads torch.
_LAZY = {
    "corpus_contexts": "sage_nb.data.contexts",
    "Corpus": "sage_nb.data.corpus",
    "corpus_from": "sage_nb.data.corpus",
    "default_corpus": "sage_nb.data.corpus",
    "FeatureIndex": "sage_nb.data.index",
    "load_or_mine": "sage_nb.data.index",
    "mine": "sage_nb.data.index",
    "Exemplar": "sage_nb.data.records",
    "FeatureData": "sage_nb.data.records",
    "TokenActivations": "sage_nb.data.records",
    "HookPoint": "sage_nb.targets",
    "Target": "sage_nb.targets",
    "load_target": "sage_nb.targets",
    "load_planted_target": "sage_nb.targets.planted",
    "AgentConfig": "sage_nb.agent",
    "Bounds": "sage_nb.agent",
    "RunState": "sage_nb.agent",
    "explain": "sage_nb.agent",
    "explain_features": "sage_nb.agent",
    "load_run": "sage_nb.agent",
    "Candidate": "sage_nb.core.records",
    "evaluate": "sage_nb.evaluate.report",
    "OneShotExplainer": "sage_nb.explainers",
    "TopTokensExplainer": "sage_nb.explainers",
    "make_llm": "sage_nb.llm",
    "recorded_llm": "sage_nb.llm",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sage_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


def _evidence_html(evidence: Any) -> str:
    from sage_nb.viz.evidence_view import EvidenceView

    return EvidenceView(evidence).to_html()


def register_notebook_displays() -> bool:
    """In a running IPython, display records as their views: an :class:`~sage_nb.evidence.Evidence` as its panel.

    The records stay free of display code (the viz layer sits above them); this hook connects the two, and runs
    when ``sage_nb`` is imported inside a notebook. Returns whether a shell was found.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None:
        return False
    html = shell.display_formatter.formatters["text/html"]
    html.for_type_by_name("sage_nb.evidence", "Evidence", _evidence_html)
    return True


register_notebook_displays()

__version__ = "0.1.0"

__all__ = [
    "AgentConfig",
    "Bounds",
    "Candidate",
    "OneShotExplainer",
    "RunState",
    "TopTokensExplainer",
    "Corpus",
    "Exemplar",
    "FeatureData",
    "FeatureIndex",
    "HookPoint",
    "Target",
    "TokenActivations",
    "corpus_contexts",
    "corpus_from",
    "default_corpus",
    "evaluate",
    "explain",
    "explain_features",
    "load_or_mine",
    "load_planted_target",
    "load_run",
    "make_llm",
    "recorded_llm",
    "load_target",
    "mine",
]
