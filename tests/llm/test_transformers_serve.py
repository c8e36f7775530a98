"""The OpenAI-compatible backend against a real `transformers serve` (5.23) serving the embedded model on 127.0.0.1.

What that server supports, as these tests pin down: chat completions with usage, ``max_tokens``, ``seed``, and
concurrent clients (it answers them one after the other). It accepts but ignores ``response_format`` (no
constrained decoding: validation and the repair turn do the work) and ``logprobs``/``top_logprobs`` (none come
back). ``temperature`` alone does not switch on sampling (the model's generation config keeps ``do_sample=False``);
sampling needs the server's own ``generation_config`` field (passed with ``extra_body``). ``GET /v1/models``
fails with HTTP 500 when no Hugging Face cache folder exists.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from sage_nb.llm import LLMRequest, make_llm

pytestmark = pytest.mark.slow


class Colour(BaseModel):
    colour: str


class Verdict(BaseModel):
    verdict: str
    reason: str


REPEAT = 'Repeat exactly: {"colour": "blue"}'


@pytest.fixture(scope="module")
def served(transformers_serve, served_model_dir):
    """A plain-prompt client (the tiny model copies a schema description instead of following it)."""
    spec = f"openai-compatible:{served_model_dir}@{transformers_serve.base_url}"
    return spec, make_llm(spec, structured="none", schema_in_prompt=False)


def test_a_real_server_answer_is_parsed_validated_and_counted(served):
    _, llm = served
    result = llm.complete(REPEAT, Colour, role="explainer", feature="f1", temperature=0, max_tokens=30)
    assert result.ok, result.raw_turns
    assert result.parsed == Colour(colour="blue")
    assert result.backend == "openai-compatible" and result.turns == 1
    assert result.usage.prompt_tokens > 10 and 0 < result.usage.completion_tokens <= 30
    assert result.finish_reason == "stop"
    assert llm.tracker.by_feature()["f1"].calls == 1


def test_response_format_is_accepted_but_not_enforced(served):
    spec, _ = served
    llm = make_llm(spec, structured="json_schema")
    result = llm.complete("What is the capital of France?", Verdict, role="analyzer", temperature=0, max_tokens=24)
    assert llm.structured == "json_schema"  # no HTTP 400: the field is accepted...
    assert not result.ok and result.turns == 2  # ...but the reply is free text; one repair turn, then a failure
    assert result.error_kind in {"not_json", "invalid", "truncated"} and result.raw_text
    assert result.usage.completion_tokens > 0


def test_logprobs_are_not_returned(served):
    _, llm = served
    result = llm.complete(REPEAT, Colour, role="simulation", temperature=0, max_tokens=30, logprobs=3)
    assert result.ok and result.logprobs is None
    assert "logprobs were requested but the server returned none" in result.notes


def test_max_tokens_is_honoured(served):
    _, llm = served
    result = llm.complete("Tell me a long story about a dragon.", Colour, role="r", temperature=0, max_tokens=8)
    assert result.finish_reason == "length" and result.usage.completion_tokens == 8 * result.turns
    assert result.error_kind == "truncated"


def test_temperature_alone_stays_greedy_but_generation_config_samples_with_seeds(served):
    spec, llm = served
    plain = [
        llm.complete("Write one word.", Colour, role="r", temperature=1.0, seed=s, max_tokens=12).raw_turns[0]
        for s in (5, 6)
    ]
    assert plain[0] == plain[1]  # temperature is ignored without do_sample
    sampler = make_llm(
        spec,
        structured="none",
        schema_in_prompt=False,
        extra_body={"generation_config": json.dumps({"do_sample": True, "temperature": 1.0, "max_new_tokens": 12})},
    )
    texts = [sampler.complete("Write one word.", Colour, role="r", seed=s).raw_turns[0] for s in (5, 5, 6)]
    assert texts[0] == texts[1] != texts[2]


def test_concurrent_requests_all_come_back_in_order(served):
    _, llm = served
    requests = [
        LLMRequest(f'Repeat exactly: {{"colour": "{c}"}}', Colour, role="r", temperature=0, max_tokens=20)
        for c in ("red", "green", "blue")
    ]
    results = llm.complete_many(requests, max_workers=3)
    assert [r.parsed.colour if r.ok else None for r in results] == ["red", "green", "blue"]


def test_record_and_replay_a_real_server_run(served, tmp_path):
    spec, _ = served
    path = tmp_path / "serve.jsonl"
    llm = make_llm(spec, structured="none", schema_in_prompt=False, record=path)
    original = llm.complete(REPEAT, Colour, role="explainer", temperature=0, max_tokens=30)
    replayed = make_llm(f"replay:{path}").complete(REPEAT, Colour, role="explainer", temperature=0, max_tokens=30)
    assert replayed.replayed and replayed.backend == "replay:openai-compatible"
    assert (replayed.parsed, replayed.raw_text, replayed.usage) == (original.parsed, original.raw_text, original.usage)
