"""The local backend with the embedded SmolLM2 chat model and xgrammar-constrained decoding."""

from __future__ import annotations

import math
import time

import pytest
from role_schemas import ROLE_SCHEMAS, AnalyzerReply, SimulationReply, role_prompt

from sage_nb.llm import LLMRequest, make_llm


def test_constrained_call_returns_a_valid_object_with_usage_and_timing(local_llm):
    result = local_llm.complete(role_prompt("analyzer", 0), AnalyzerReply, role="analyzer", feature="f0", max_tokens=48)
    assert result.ok, (result.error, result.raw_text)
    assert isinstance(result.parsed, AnalyzerReply)
    assert AnalyzerReply.model_validate_json(result.raw_text) == result.parsed  # the raw text itself is the JSON
    assert result.backend == "local" and result.model == "smollm2-135m-instruct" and not result.replayed
    assert result.finish_reason == "stop" and result.turns == 1
    assert result.usage.prompt_tokens > 50 and 5 < result.usage.completion_tokens <= 48
    assert 0 < result.generation_s < result.latency_s
    assert result.cost_usd == 0.0
    assert local_llm.tracker.by_role()["analyzer"].completion_tokens >= result.usage.completion_tokens


def test_logprobs_come_from_the_constrained_scores(local_llm):
    result = local_llm.complete(role_prompt("simulation", 1), SimulationReply, role="simulation", logprobs=5)
    assert result.ok and result.logprobs is not None
    assert "".join(t.token for t in result.logprobs) == result.raw_text
    digit_positions = [t for t in result.logprobs if t.token.strip().isdigit()]
    assert digit_positions, result.raw_text
    first_digit = digit_positions[0]
    assert all(alt.strip().isdigit() for alt, _ in first_digit.top)  # the grammar allows only digits there
    assert len(first_digit.top) == 5
    for t in result.logprobs:
        assert t.top[0][1] == pytest.approx(t.logprob)  # greedy: the chosen token is the best one
        assert sum(math.exp(lp) for _, lp in t.top) <= 1.0 + 1e-5


def test_batched_calls_keep_order_and_seeded_sampling_repeats(local_llm):
    requests = [
        LLMRequest(role_prompt("simulation", i), SimulationReply, role="simulation", max_tokens=12) for i in range(3)
    ]
    requests.insert(1, LLMRequest(role_prompt("analyzer", 2), AnalyzerReply, role="analyzer"))
    results = local_llm.complete_many(requests)
    assert [r.role for r in results] == ["simulation", "analyzer", "simulation", "simulation"]
    assert all(r.ok for r in results), [r.raw_text for r in results]
    assert isinstance(results[1].parsed, AnalyzerReply)
    one = [
        local_llm.complete(role_prompt("simulation", 4), SimulationReply, role="s", temperature=1.5, seed=s)
        for s in (7, 7)
    ]
    assert one[0].raw_text == one[1].raw_text


def test_grammar_is_compiled_once_per_schema(local_llm):
    first = local_llm.compiled_grammar(SimulationReply)
    start = time.perf_counter()
    assert local_llm.compiled_grammar(SimulationReply) is first
    assert time.perf_counter() - start < 0.05


def test_running_out_of_tokens_is_a_recorded_truncation(local_llm):
    result = local_llm.complete(role_prompt("analyzer", 3), AnalyzerReply, role="analyzer", max_tokens=3)
    assert not result.ok and result.error_kind == "truncated" and result.finish_reason == "length"
    assert result.usage.completion_tokens == 3 and result.raw_text


def test_local_calls_record_and_replay(local_llm, tmp_path):
    path = tmp_path / "local.jsonl"
    llm = make_llm("transformers:smollm2-135m-instruct", record=path, model=local_llm._model, tokenizer=local_llm._tok)
    original = llm.complete(role_prompt("simulation", 5), SimulationReply, role="simulation", feature="f5", logprobs=2)
    replay = make_llm(f"replay:{path}")
    again = replay.complete(role_prompt("simulation", 5), SimulationReply, role="simulation", feature="f5", logprobs=2)
    assert replay.name == "replay:local" and again.replayed and again.backend == "replay:local"
    assert (again.parsed, again.raw_text, again.usage, again.logprobs) == (
        original.parsed,
        original.raw_text,
        original.usage,
        original.logprobs,
    )


@pytest.mark.slow
@pytest.mark.parametrize("role", list(ROLE_SCHEMAS))
def test_fifty_constrained_calls_per_role_all_parse(local_llm, role):
    """50 calls per role schema (batched): every reply parses and validates."""
    schema = ROLE_SCHEMAS[role]
    requests = [LLMRequest(role_prompt(role, i), schema, role=role, feature=f"f{i}", max_tokens=320) for i in range(50)]
    results = local_llm.complete_many(requests)
    unparseable = [(r.error_kind, r.raw_text) for r in results if not r.ok]
    print(f"{role}: {len(results)} calls, {len(unparseable)} unparseable")
    assert len(results) == 50 and unparseable == []
    assert all(isinstance(r.parsed, schema) for r in results)
