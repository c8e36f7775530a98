"""llama.cpp's own OpenAI-compatible server on loopback, reached through the ``openai-compatible:`` path.

That server rejects OpenAI's ``json_schema`` response format with HTTP 500 (a pydantic ``literal_error``); the client
must recognise the rejection at once (not retry it as a server fault) and go on schema-constrained."""

from __future__ import annotations

import time

import pytest
from role_schemas import ROLE_SCHEMAS, AnalyzerReply, role_prompt

from sage_nb.llm import make_llm
from sage_nb.llm.retry import RetryPolicy

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")
    from sage_nb.llm.server import LlamaServer

    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    with LlamaServer("smollm2-135m", n_threads=1, n_ctx=4096, log=log) as server:
        yield server


def test_schema_constrained_calls_through_the_server(llama_server):
    llm = make_llm(llama_server.spec, retry=RetryPolicy(max_attempts=5, initial_delay_s=5.0, timeout_s=120.0))
    assert llm.structured == "json_schema"
    start = time.perf_counter()
    result = llm.complete(role_prompt("analyzer", 0), AnalyzerReply, role="analyzer", max_tokens=64)
    assert result.ok, (result.error, result.raw_text)
    assert time.perf_counter() - start < 60  # a retried 500 would have waited 5 + 10 + 20 + 40 s
    assert llm.structured == "json_object_schema"
    assert "structured output mode: json_object_schema" in result.notes
    for role in ("explainer", "designer", "simulation"):
        again = llm.complete(role_prompt(role, 1), ROLE_SCHEMAS[role], role=role, max_tokens=200)
        assert again.ok, (role, again.raw_text)
    assert llm.tracker.by_role()["analyzer"].prompt_tokens > 50
