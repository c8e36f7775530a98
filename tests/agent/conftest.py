from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scripted import planted_feature_data  # noqa: E402


@pytest.fixture(scope="session")
def weekday(planted):
    """(index, FeatureData) of the planted weekday feature over the scripted corpus."""
    return planted_feature_data(planted, "weekday")
