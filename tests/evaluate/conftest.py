"""Shared fixtures of the evaluation tests: the planted target, a mined digit feature, the scripted backend."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "agent"))

from eval_samples import mined_feature_data  # noqa: E402


@pytest.fixture(scope="session")
def planted():
    from sage_nb.target.planted import load_planted_target

    return load_planted_target()


@pytest.fixture(scope="session")
def digit(planted):
    """FeatureData of the planted digit feature (top 10 exemplars) over eval_samples.DIGIT_CORPUS."""
    return mined_feature_data(planted, "digit")[1]
