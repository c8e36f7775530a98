"""``make_llm`` maps spec strings to backends."""

from __future__ import annotations

import pytest

from sage_nb.llm import LLMRequestError, UsageTracker, make_llm
from sage_nb.llm.local_backend import DEFAULT_LOCAL_MODEL, LocalBackend
from sage_nb.llm.openai_backend import OpenAIBackend


def test_transformers_specs_build_lazily():
    llm = make_llm("transformers:smollm2-135m-instruct")
    assert isinstance(llm, LocalBackend) and llm.name == "local" and llm.model == DEFAULT_LOCAL_MODEL
    assert llm._compiler is None  # nothing loaded before the first call
    assert make_llm("local:some/other-model").model == "some/other-model"  # a Hub id or folder: transformers


def test_local_runs_under_transformers_with_a_warning_when_llama_cpp_is_missing(monkeypatch, caplog):
    import sage_nb.llm.factory as factory

    monkeypatch.setattr(factory, "llama_cpp_available", lambda: False)
    with caplog.at_level("WARNING"):
        llm = make_llm("local")
    assert isinstance(llm, LocalBackend) and llm.model == DEFAULT_LOCAL_MODEL
    assert "llama.cpp is not installed" in caplog.text and "llama-cpp-python==0.3.36" in caplog.text


def test_openai_spec(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-factorytest-0000000000000000")
    llm = make_llm("openai:gpt-4o-mini")
    assert isinstance(llm, OpenAIBackend) and llm.name == "openai" and llm.model == "gpt-4o-mini"
    assert llm.base_url is None and llm.structured == "json_schema"
    assert "sk-factorytest" not in repr(llm)


def test_openai_compatible_spec_splits_at_the_last_at_sign(monkeypatch):
    llm = make_llm("openai-compatible:/models/x@main@http://127.0.0.1:8000/v1")
    assert llm.name == "openai-compatible" and llm.model == "/models/x@main"
    assert llm.base_url == "http://127.0.0.1:8000/v1"


def test_openai_compatible_servers_never_get_the_openai_key(monkeypatch, fault_server):
    from pydantic import BaseModel

    class Answer(BaseModel):
        answer: str

    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-000000000000")
    monkeypatch.delenv("SAGE_NB_LLM_API_KEY", raising=False)
    make_llm(f"openai-compatible:m@{fault_server.base_url}").complete("q", Answer, role="r")
    monkeypatch.setenv("SAGE_NB_LLM_API_KEY", "local-server-key-123")
    make_llm(f"openai-compatible:m@{fault_server.base_url}").complete("q", Answer, role="r")
    sent = [r["headers"]["authorization"] for r in fault_server.requests]
    assert sent == ["Bearer not-needed", "Bearer local-server-key-123"]


@pytest.mark.parametrize(
    ("spec", "env", "url"),
    [
        ("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY", "https://api.anthropic.com/v1/"),
        ("gemini:gemini-2.5-flash", "GEMINI_API_KEY", "https://generativelanguage.googleapis.com/v1beta/openai/"),
    ],
)
def test_hosted_compat_endpoints(monkeypatch, spec, env, url):
    monkeypatch.delenv(env, raising=False)
    with pytest.raises(LLMRequestError, match=env):
        make_llm(spec)
    monkeypatch.setenv(env, "k" * 30)
    llm = make_llm(spec)
    assert llm.base_url == url and llm.name == spec.split(":")[0] and llm.api_key_env == env


@pytest.mark.parametrize("spec", ["", "gpt-4o", "openai:", "openai-compatible:model-without-url", "replay:", "x:y"])
def test_bad_specs_are_rejected(spec):
    with pytest.raises(ValueError):
        make_llm(spec)


def test_a_shared_tracker_collects_from_several_backends():
    tracker = UsageTracker()
    assert make_llm("transformers:smollm2-135m-instruct", tracker=tracker).tracker is tracker
    assert make_llm("openai-compatible:m@http://127.0.0.1:1/v1", tracker=tracker).tracker is tracker
