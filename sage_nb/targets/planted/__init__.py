"""Planted ground-truth features: a stand-in for an SAE whose features are known functions of the tokens.

Real SAE features have no answer key, so nobody can say whether an explanation is right. A
:class:`PlantedTarget` has the same interface as :class:`~sage_nb.targets.target.Target` (``activations``,
``measure``, ``encode``, ``check_features``, ...), so the explaining agent, the feature index
(:func:`~sage_nb.data.index.mine`) and the widgets run on it unchanged, but each of its "features" is a
hand-written rule such as "weekday names" or "tokens inside a ``#`` comment". Learners can check their
own explanations against the truth, and tests and benchmarks can count how many planted concepts an
agent recovers (:meth:`PlantedFeature.matches`).

Only a tokenizer is needed, never a model forward pass. Activations mimic SAE features: non-negative,
zero almost everywhere, graded by a stated rule and at most 10. Every rule reads the text that the tokens
spell, so leading-space tokens (``' Monday'``) and words split into pieces (``' sund'`` + ``'ay'``) are
handled alike. Unlike a causal model, a rule may look a few characters ahead to tell a whole word.
"""

from sage_nb.targets.planted.catalogue import PLANTED_VERSION, TOKEN_LEVEL, PlantedFeature, planted_features
from sage_nb.targets.planted.target import PlantedHook, PlantedTarget, load_planted_target

__all__ = [
    "PLANTED_VERSION",
    "TOKEN_LEVEL",
    "PlantedFeature",
    "PlantedHook",
    "PlantedTarget",
    "load_planted_target",
    "planted_features",
]
