"""The evaluation tests import their samples (eval_samples) and the agent tests' scripted backend; the planted
target and its mined digit feature are fixtures of tests/conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "agent"))
