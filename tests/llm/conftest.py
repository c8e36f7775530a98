"""Fixtures for the LLM-layer tests: real loopback servers, a test API key, and the embedded chat model."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from llm_test_servers import FAST, KEY_ENV, FaultServer, TransformersServe

from sage_nb.llm import make_llm


@pytest.fixture
def fault_server():
    server = FaultServer().start()
    yield server
    server.stop()


@pytest.fixture
def api_key(monkeypatch) -> str:
    key = "sk-sagetest-" + secrets.token_hex(20)
    monkeypatch.setenv(KEY_ENV, key)
    return key


@pytest.fixture
def remote(fault_server, api_key, tmp_path):
    """An OpenAI-compatible backend pointed at the fault server, recording to ``tmp_path/calls.jsonl``."""
    return make_llm(
        f"openai-compatible:fake-model@{fault_server.base_url}",
        retry=FAST,
        api_key_env=KEY_ENV,
        require_key=True,
        record=tmp_path / "calls.jsonl",
    )


def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the machine's 2 cores are shared; 2 threads thrash under contention
    return before


@pytest.fixture(scope="module")
def local_llm():
    """The embedded SmolLM2 chat model behind the local backend (skips when its weights are not installed)."""
    import torch

    from sage_nb.llm.local_backend import LocalBackend
    from sage_nb.targets.models import EmbeddedModelMissing

    before = _one_thread()
    backend = LocalBackend()
    try:
        backend.load()
    except EmbeddedModelMissing as err:
        pytest.skip(str(err))
    yield backend
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def served_model_dir() -> Path:
    from sage_nb.targets.models import EmbeddedModelMissing, _dequantised_dir, load_hf_model

    try:
        load_hf_model("smollm2-135m-instruct")  # creates the dequantised directory on first use
    except EmbeddedModelMissing as err:
        pytest.skip(str(err))
    return _dequantised_dir("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def transformers_serve(served_model_dir, tmp_path_factory):
    """`transformers serve` on a free loopback port serving the embedded model directory."""
    import shutil
    import sys

    if shutil.which("transformers", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the transformers CLI is not installed")
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        pytest.skip("transformers[serving] is not installed")
    server = TransformersServe(served_model_dir, tmp_path_factory.mktemp("serve") / "serve.log").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def llamacpp_llm():
    """The embedded SmolLM2 under llama.cpp, one thread (the machine's 2 cores are shared)."""
    pytest.importorskip("llama_cpp", reason="the llama.cpp engine is not installed (scripts/setup.sh installs it)")
    from sage_nb.llm.llamacpp_backend import LlamaCppBackend

    backend = LlamaCppBackend("smollm2-135m", n_threads=1, n_ctx=4096)
    yield backend
    backend.close()
