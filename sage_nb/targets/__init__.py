"""What is being explained: a model, an SAE at one of its hook points, and how to measure features."""

from sage_nb.targets.hooks import HookPoint, UnknownHookError
from sage_nb.targets.models import EMBEDDED_MODELS, EmbeddedModelMissing, load_hf_model
from sage_nb.targets.saes import load_sae, shipped_saes
from sage_nb.targets.target import Target, load_target

__all__ = [
    "EMBEDDED_MODELS",
    "EmbeddedModelMissing",
    "HookPoint",
    "Target",
    "UnknownHookError",
    "load_hf_model",
    "load_sae",
    "load_target",
    "shipped_saes",
]
