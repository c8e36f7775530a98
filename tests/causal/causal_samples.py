"""Shared constants of the causal tests (a module with a unique name; the embedded target is the session fixture)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "agent"))

#: Short neutral prompts of different lengths (so batches need padding).
PROMPTS = ["I think that", "The weather today is"]
#: Feature 755 of the shipped SAE fires on ' None' (36.7 at both ' None' tokens of NONE_TEXT) and never on
#: PLAIN_TEXT.
NONE_FEATURE = 755
NONE_TEXT = "if value is None:\n    return None"
PLAIN_TEXT = "The weather today is sunny and warm."
