"""The explainer tests use the evaluation tests' mined digit feature (``digit``) and the agent tests' scripted
backend."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent / "evaluate"))
sys.path.insert(0, str(Path(__file__).parent.parent / "agent"))
