"""sage_nb: explain sparse-autoencoder features of language models in notebooks.

The few names a notebook needs::

    from sage_nb import load_target, default_corpus, corpus_contexts, load_or_mine
    target = load_target()                      # embedded SmolLM2-135M + shipped SAE, offline
    acts = target.activations("def f(x):", feature=123)
"""

from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import Corpus, corpus_from, default_corpus
from sage_nb.data.index import FeatureIndex, load_or_mine, mine
from sage_nb.data.records import Exemplar, FeatureData, TokenActivations
from sage_nb.target import HookPoint, Target, load_target

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
