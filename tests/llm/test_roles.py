"""Per-role LLMs: role spec strings, routing calls by role, and one loaded model per distinct spec."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from sage_nb.llm import make_llm
from sage_nb.llm.replay import CallRecorder
from sage_nb.llm.roles import RoleRouter, parse_role_spec


class Word(BaseModel):
    word: str


def test_role_spec_strings():
    assert parse_role_spec("openai:gpt-4o-mini") is None
    assert parse_role_spec("openai-compatible:m@http://127.0.0.1:8000/v1?a=b") is None  # '=' in a URL is no role
    assert parse_role_spec("explainer, synthesis=openai:gpt-4o;replay:x.jsonl") == {
        "explainer": "openai:gpt-4o",
        "synthesis": "openai:gpt-4o",
        "default": "replay:x.jsonl",
    }
    with pytest.raises(ValueError, match="needs a default LLM"):
        parse_role_spec("explainer=openai:gpt-4o")
    with pytest.raises(ValueError, match="two LLMs"):
        parse_role_spec("explainer=a:b;explainer=c:d;e:f")


def _recording(tmp_path, name, model, words):
    from sage_nb.llm.base import LLMRequest, LLMResult

    path = tmp_path / f"{name}.jsonl"
    recorder = CallRecorder(path)
    for role, word in words.items():
        request = LLMRequest(f"say a word for {role}", Word, role=role)
        text = Word(word=word).model_dump_json()
        result = LLMResult(True, Word(word=word), text, role, None, "llamacpp", model, request.key())
        recorder.write(request, result)
    return path


def test_calls_go_to_their_roles_backend_in_order(tmp_path):
    small = _recording(tmp_path, "small", "smollm2-135m", {"analyzer": "small-a", "designer": "small-d"})
    capable = _recording(tmp_path, "capable", "qwen2.5-coder-1.5b", {"explainer": "big-e"})
    llm = make_llm({"explainer": f"replay:{capable}", "default": f"replay:{small}"})
    assert isinstance(llm, RoleRouter)
    from sage_nb.llm.base import LLMRequest

    requests = [LLMRequest(f"say a word for {r}", Word, role=r) for r in ("analyzer", "explainer", "designer")]
    results = llm.complete_many(requests)
    assert [r.parsed.word for r in results] == ["small-a", "big-e", "small-d"]
    assert llm.size_for("explainer") == "capable" and llm.size_for("analyzer") == "small"
    assert llm.identity() == {
        "default": "replay:llamacpp:smollm2-135m",
        "explainer": "replay:llamacpp:qwen2.5-coder-1.5b",
    }
    assert llm.complete("say a word for explainer", Word, role="explainer").parsed.word == "big-e"


def test_one_backend_per_distinct_spec(tmp_path):
    small = _recording(tmp_path, "small", "smollm2-135m", {"analyzer": "a"})
    llm = make_llm(f"explainer,synthesis=replay:{small};replay:{small}")
    assert not isinstance(llm, RoleRouter)  # every role answered by the same backend: no router needed
    both = make_llm({"explainer": f"replay:{small}", "synthesis": f"replay:{small}", "default": f"replay:{small} "})
    assert not isinstance(both, RoleRouter)


def test_unknown_roles_are_refused(tmp_path):
    small = _recording(tmp_path, "small", "smollm2-135m", {"analyzer": "a"})
    with pytest.raises(ValueError, match="unknown role"):
        make_llm({"explainr": "openai:x", "default": f"replay:{small}"})
