"""Shared fixtures: the embedded target with the shipped SAE, and a small mined index (both cached)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def planted():
    """The planted ground-truth target (tokenizer only, no model)."""
    from sage_nb.targets.planted import load_planted_target

    return load_planted_target()


@pytest.fixture(scope="session")
def digit(planted):
    """FeatureData of the planted digit feature (top 10 exemplars) over ``eval_samples.DIGIT_CORPUS``."""
    sys.path.insert(0, str(Path(__file__).parent / "evaluate"))
    from eval_samples import mined_feature_data

    return mined_feature_data(planted, "digit")[1]


@pytest.fixture(scope="session")
def target():
    from sage_nb.targets import load_target

    return load_target()


@pytest.fixture(scope="session")
def small_contexts(target):
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus

    return corpus_contexts(default_corpus().split(held_out=False), target.tokenizer, max_contexts=48)


@pytest.fixture(scope="session")
def small_index(target, small_contexts):
    from sage_nb.data.index import mine

    return mine(target, small_contexts, top_k=5, samples=4, batch_size=16, progress=False)
