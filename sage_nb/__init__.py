"""sage_nb: explain sparse-autoencoder features of language models in notebooks.

The few names a notebook needs::

    from sage_nb import load_target, default_corpus, corpus_contexts, load_or_mine
    target = load_target()                      # embedded SmolLM2-135M + shipped SAE, offline
    acts = target.activations("def f(x):", feature=123)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import Corpus, corpus_from, default_corpus
    from sage_nb.data.index import FeatureIndex, load_or_mine, mine
    from sage_nb.data.records import Exemplar, FeatureData, TokenActivations
    from sage_nb.target import HookPoint, Target, load_target

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
    "HookPoint": "sage_nb.target",
    "Target": "sage_nb.target",
    "load_target": "sage_nb.target",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sage_nb' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__version__ = "0.1.0"

__all__ = [
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
    "load_or_mine",
    "load_target",
    "mine",
]
