"""Fixtures of the Neuronpedia tests: a fake server on 127.0.0.1, and clients and targets pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "agent"))

from fake_neuronpedia import MODEL, QUICK, SOURCE, FakeNeuronpedia  # noqa: E402


@pytest.fixture
def server():
    fake = FakeNeuronpedia()
    yield fake
    fake.close()


@pytest.fixture(autouse=True)
def no_real_key(monkeypatch):
    """No key or server address from the environment leaks into a test."""
    monkeypatch.delenv("NEURONPEDIA_API_KEY", raising=False)
    monkeypatch.delenv("NEURONPEDIA_URL", raising=False)


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def client(server, tmp_path, sleeps):
    from sage_nb.targets.neuronpedia import NeuronpediaClient

    with NeuronpediaClient(server.url, cache_dir=tmp_path / "np-cache", retry=QUICK, sleep=sleeps.append) as c:
        yield c


@pytest.fixture
def np_target(client):
    from sage_nb.targets.neuronpedia import NeuronpediaTarget

    return NeuronpediaTarget(MODEL, SOURCE, client=client)
