"""Shared fixtures: the embedded target with the shipped SAE, and a small mined index (both cached)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def target():
    from sage_nb.target import load_target

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
