"""The OpenAI-compatible backend against a real scripted HTTP server on 127.0.0.1: requests, repairs and faults."""

from __future__ import annotations

import json
import random
import time
from typing import Literal

import pytest
from fuzz_replies import fuzz_replies
from llm_test_servers import FAST, Action, completion_body, drop, echo, free_port, hang, raw, reply, status
from pydantic import BaseModel, Field

from sage_nb.llm import LLMRequest, LLMRequestError, LLMUnavailable, RetryPolicy, make_llm


class Verdict(BaseModel):
    verdict: Literal["accept", "refute"]
    reason: str = Field(max_length=40)


class Answer(BaseModel):
    answer: str


GOOD = '{"verdict": "accept", "reason": "fits"}'


def test_request_carries_schema_sampling_parameters_and_key(remote, fault_server, api_key):
    fault_server.push(reply(GOOD, prompt_tokens=30, completion_tokens=9, cached_tokens=12))
    result = remote.complete(
        [{"role": "system", "content": "You judge."}, {"role": "user", "content": "Verdict?"}],
        Verdict,
        role="analyzer",
        feature="f7",
        temperature=0.3,
        seed=11,
        max_tokens=50,
    )
    assert result.ok and result.parsed == Verdict(verdict="accept", reason="fits")
    assert (result.usage.prompt_tokens, result.usage.completion_tokens, result.usage.cached_tokens) == (30, 9, 12)
    assert (result.role, result.feature, result.backend, result.model) == (
        "analyzer",
        "f7",
        "openai-compatible",
        "fake-model",
    )
    assert result.turns == 1 and not result.replayed and result.logprobs is None

    sent = fault_server.requests[0]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["headers"]["authorization"] == f"Bearer {api_key}"
    body = sent["body"]
    assert (body["model"], body["temperature"], body["seed"], body["max_tokens"]) == ("fake-model", 0.3, 11, 50)
    assert "logprobs" not in body
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["name"] == "Verdict"
    assert fmt["json_schema"]["strict"] is True
    assert set(fmt["json_schema"]["schema"]["properties"]) == {"verdict", "reason"}
    # For a compatible server the schema is also described in the system message (after the caller's text).
    system = body["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("You judge.")
    assert '"verdict"' in system["content"] and body["messages"][1] == {"role": "user", "content": "Verdict?"}


def test_logprobs_are_requested_and_returned(remote, fault_server):
    tokens = [
        {"token": '{"', "logprob": -0.01, "top_logprobs": [{"token": '{"', "logprob": -0.01}]},
        {
            "token": "7",
            "logprob": -0.4,
            "top_logprobs": [{"token": "7", "logprob": -0.4}, {"token": "8", "logprob": -1.2}],
        },
    ]
    fault_server.push(reply('{"answer": "7"}', logprobs=tokens))
    result = remote.complete("score?", Answer, role="simulation", logprobs=2)
    body = fault_server.requests[0]["body"]
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    assert [t.token for t in result.logprobs] == ['{"', "7"]
    assert result.logprobs[1].top == (("7", -0.4), ("8", -1.2))


def test_missing_logprobs_are_noted(remote, fault_server):
    result = remote.complete("score?", Answer, role="simulation", logprobs=3)
    assert result.ok and result.logprobs is None
    assert "logprobs were requested but the server returned none" in result.notes


def test_one_repair_turn_shows_the_validation_error(remote, fault_server):
    fault_server.push(
        reply('{"verdict": "maybe", "reason": "unsure"}', prompt_tokens=20), reply(GOOD, prompt_tokens=45)
    )
    result = remote.complete("Verdict?", Verdict, role="analyzer")
    assert result.ok and result.parsed.verdict == "accept"
    assert result.turns == 2 and result.raw_turns == ['{"verdict": "maybe", "reason": "unsure"}', GOOD]
    assert result.usage.prompt_tokens == 65  # both turns are counted
    repair = fault_server.requests[1]["body"]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"verdict": "maybe", "reason": "unsure"}'}
    assert repair[-1]["role"] == "user" and "verdict" in repair[-1]["content"]
    assert any(n.startswith("repair turn after: verdict") for n in result.notes)


def test_failed_repair_is_a_recorded_failure_not_an_exception(remote, fault_server):
    fault_server.push(reply("I cannot answer in JSON."), reply('{"verdict": "accept"}'))
    result = remote.complete("Verdict?", Verdict, role="analyzer")
    assert not result.ok and result.parsed is None
    assert result.error_kind == "invalid" and "reason" in result.error
    assert result.raw_text == '{"verdict": "accept"}'
    assert result.raw_turns[0] == "I cannot answer in JSON."
    with pytest.raises(ValueError, match="invalid"):
        result.unwrap()
    assert len(fault_server.requests) == 2  # exactly one repair turn


@pytest.mark.parametrize(
    ("first", "kind"),
    [
        (reply(None), "empty"),
        (reply(""), "empty"),
        (reply('{"verdict": "acc', finish_reason="length"), "truncated"),
        (reply([{"type": "text", "text": "no json here"}]), "not_json"),
    ],
)
def test_empty_truncated_and_odd_replies(remote, fault_server, first, kind):
    fault_server.push(first, first)
    result = remote.complete("Verdict?", Verdict, role="analyzer")
    assert not result.ok and result.error_kind == kind and result.turns == 2


def test_refusal_text_is_kept(remote, fault_server):
    body = completion_body(None)
    body["choices"][0]["message"]["refusal"] = "I will not do that."
    fault_server.push(Action("json", body=body), Action("json", body=body))
    result = remote.complete("Verdict?", Verdict, role="analyzer")
    assert not result.ok and result.raw_text == "I will not do that." and "the model refused" in result.notes


@pytest.mark.parametrize(
    "body",
    [b'{"choices": [ broken', b"", b"<html>502</html>", b'{"error": {"message": "oops"}}', b'{"choices": []}'],
)
def test_answer_that_is_not_a_chat_completion_is_recorded(remote, fault_server, body):
    fault_server.push(raw(body))
    result = remote.complete("Verdict?", Verdict, role="analyzer")
    assert not result.ok and result.error_kind == "malformed_response"
    assert result.raw_text == body.decode()
    assert len(fault_server.requests) == 1  # neither retried nor repaired


def test_transient_errors_are_retried_then_succeed(remote, fault_server):
    fault_server.push(status(429), status(503))
    result = remote.complete("Verdict?", Answer, role="r")
    assert result.ok and len(fault_server.requests) == 3


def test_dropped_connection_is_retried(remote, fault_server):
    fault_server.push(drop())
    assert remote.complete("Verdict?", Answer, role="r").ok
    assert len(fault_server.requests) == 2


def test_retry_after_header_sets_the_wait(fault_server):
    policy = RetryPolicy(max_attempts=2, initial_delay_s=5.0, max_delay_s=10.0, jitter=0.0, timeout_s=1.0)
    waits: list[float] = []
    llm = make_llm(f"openai-compatible:m@{fault_server.base_url}", retry=policy, sleep=waits.append)
    fault_server.push(status(429, headers={"Retry-After": "0.25"}))
    assert llm.complete("q", Answer, role="r").ok
    assert waits == [0.25]


def test_persistent_5xx_raises_llm_unavailable_after_the_policy(remote, fault_server):
    fault_server.default = status(500)
    with pytest.raises(LLMUnavailable, match="failed 3 times; last error: HTTP 500"):
        remote.complete("q", Answer, role="r")
    assert len(fault_server.requests) == FAST.max_attempts


def test_hanging_server_times_out_then_raises(fault_server):
    policy = RetryPolicy(max_attempts=2, initial_delay_s=0.01, jitter=0.0, timeout_s=0.3)
    llm = make_llm(f"openai-compatible:m@{fault_server.base_url}", retry=policy)
    fault_server.default = hang(3.0)
    start = time.monotonic()
    with pytest.raises(LLMUnavailable, match="timeout"):
        llm.complete("q", Answer, role="r")
    assert time.monotonic() - start < 2.0  # two 0.3 s attempts, not the server's 3 s
    assert len(fault_server.requests) == 2


def test_hang_once_then_recover(remote, fault_server):
    fault_server.push(hang(2.0))
    assert remote.complete("q", Answer, role="r").ok


def test_refused_connection_raises_llm_unavailable():
    llm = make_llm(f"openai-compatible:m@http://127.0.0.1:{free_port()}/v1", retry=FAST)
    with pytest.raises(LLMUnavailable, match="connection error"):
        llm.complete("q", Answer, role="r")


def test_client_errors_raise_request_error_without_retry(remote, fault_server):
    fault_server.push(status(404, "model not found"))
    with pytest.raises(LLMRequestError, match="HTTP 404"):
        remote.complete("q", Answer, role="r")
    assert len(fault_server.requests) == 1


def test_auto_mode_steps_down_when_the_response_format_is_rejected(remote, fault_server):
    fault_server.push(
        status(400, "response_format json_schema is not supported"),
        status(400, "response_format schema is not supported"),
        status(400, "response_format json_object is not supported"),
    )
    result = remote.complete("q", Answer, role="r")
    assert result.ok
    formats = [r["body"].get("response_format", {}).get("type") for r in fault_server.requests]
    assert formats == ["json_schema", "json_object", "json_object", None]
    assert "schema" in fault_server.requests[1]["body"]["response_format"]
    assert "schema" not in fault_server.requests[2]["body"]["response_format"]
    assert remote.structured == "none" and "structured output mode: none" in result.notes
    assert "JSON schema" in fault_server.requests[-1]["body"]["messages"][0]["content"]
    remote.complete("q", Answer, role="r")
    assert "response_format" not in fault_server.requests[-1]["body"]  # the choice is remembered


def test_a_500_rejecting_the_response_format_steps_down_without_retrying(remote, fault_server):
    # llama-cpp-python's server answers OpenAI's json_schema format so (its request model allows text/json_object)
    body = (
        "[{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), "
        "'msg': \"Input should be 'text' or 'json_object'\", 'input': 'json_schema'}]"
    )
    fault_server.push(status(500, body))
    result = remote.complete("q", Answer, role="r")
    assert result.ok and remote.structured == "json_object_schema"
    assert len(fault_server.requests) == 2  # no retry of the rejected format
    assert fault_server.requests[1]["body"]["response_format"]["schema"]["properties"]["answer"]


def test_a_plain_500_is_still_retried(remote, fault_server):
    fault_server.push(status(500, "internal error"))
    assert remote.complete("q", Answer, role="r").ok
    assert remote.structured == "json_schema" and len(fault_server.requests) == 2


def test_a_400_about_something_else_does_not_step_down(remote, fault_server):
    fault_server.push(status(400, "temperature out of range"))
    with pytest.raises(LLMRequestError):
        remote.complete("q", Answer, role="r", temperature=9)
    assert remote.structured == "json_schema"


def test_complete_many_runs_calls_concurrently_in_order(remote, fault_server):
    fault_server.default = echo(delay=0.4)
    requests = [LLMRequest(f"text {i}", Answer, role="simulation", feature=f"f{i}") for i in range(8)]
    start = time.monotonic()
    results = remote.complete_many(requests, max_workers=8)
    elapsed = time.monotonic() - start
    assert [r.parsed.answer for r in results] == [f"text {i}" for i in range(8)]
    assert [r.feature for r in results] == [f"f{i}" for i in range(8)]
    assert elapsed < 1.6, elapsed  # sequential would take 8 x 0.4 = 3.2 s
    assert remote.tracker.total().calls == 8


def test_complete_many_can_return_unavailable_as_results(fault_server):
    llm = make_llm(f"openai-compatible:m@{fault_server.base_url}", retry=FAST)
    fault_server.default = status(503)
    requests = [LLMRequest("q", Answer, role="r") for _ in range(3)]
    with pytest.raises(LLMUnavailable):
        llm.complete_many(requests)
    results = llm.complete_many(requests, raise_unavailable=False)
    assert [r.error_kind for r in results] == ["unavailable"] * 3
    assert all(not r.ok and "HTTP 503" in r.error for r in results)


def test_fuzzed_model_replies_over_http_never_crash(remote, fault_server, tmp_path):
    """100 malformed model replies through the whole client path (HTTP, parse, repair, accounting, recording)."""
    valid = {"verdict": "refute", "reason": "too broad"}
    replies = [text for _, text in fuzz_replies(valid, n=100, seed=7)]
    replies = [t for t in replies if len(t) < 200_000]  # keep the HTTP bodies modest
    for text in replies:
        fault_server.push(reply(text), reply(text))
    results = [remote.complete("Verdict?", Verdict, role="fuzz") for _ in replies]
    assert len(results) == len(replies) >= 95
    for result in results:
        assert result.ok == (result.parsed is not None)
        assert result.ok or (result.error and result.error_kind in {"empty", "not_json", "invalid"})
    assert sum(not r.ok for r in results) > 50
    lines = (tmp_path / "calls.jsonl").read_text().splitlines()
    assert len(lines) == len(replies)


def test_fuzzed_http_bodies_never_crash(remote, fault_server):
    """100 corrupted chat-completion bodies (status 200): each gives a result, none raises."""
    rng = random.Random(3)
    good = json.dumps(completion_body('{"answer": "x"}'))
    bodies = []
    for _ in range(100):
        obj = json.loads(good)
        choice = rng.random()
        if choice < 0.3:
            text = good[: rng.randrange(len(good))]
        elif choice < 0.6:
            path = rng.choice(
                [["choices"], ["choices", 0], ["choices", 0, "message"], ["usage"], ["choices", 0, "logprobs"]]
            )
            target = obj
            for p in path[:-1]:
                target = target[p]
            target[path[-1]] = rng.choice([None, 5, "s", [], {}, [1, 2], {"content": 3}, -7.5])
            text = json.dumps(obj)
        elif choice < 0.8:
            obj["usage"] = {"prompt_tokens": rng.choice([-5, "12", None, 1e30, True]), "completion_tokens": [1]}
            text = json.dumps(obj)
        else:
            text = rng.choice(["[]", "null", '"str"', "{}", '{"choices": [{"message": {}}]}', "\x00\x01"])
        bodies.append(text)
        fault_server.push(raw(text.encode("utf-8", "surrogatepass")), raw(text.encode("utf-8", "surrogatepass")))
    results = [remote.complete("q", Answer, role="fuzz") for _ in bodies]
    assert len(results) == 100
    assert all(r.ok or r.error_kind for r in results)
    assert any(r.error_kind == "malformed_response" for r in results)
