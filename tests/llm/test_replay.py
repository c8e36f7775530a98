"""Recording a run to JSONL and replaying it deterministically."""

from __future__ import annotations

import json

import pytest
from llm_test_servers import reply
from pydantic import BaseModel, field_validator

from sage_nb.llm import LLMRequest, ReplayMissing, make_llm


class Answer(BaseModel):
    answer: str


LOGPROBS = [
    {"token": "a", "logprob": -0.5, "top_logprobs": [{"token": "a", "logprob": -0.5}, {"token": "b", "logprob": -1.5}]}
]


def _record_run(remote, fault_server):
    fault_server.push(
        reply('{"answer": "one"}', prompt_tokens=10, completion_tokens=3, cached_tokens=2),
        reply('{"answer": "two"}', logprobs=LOGPROBS),
        reply("no json"),
        reply("still no json"),
    )
    return [
        remote.complete("first", Answer, role="explainer", feature="f1", temperature=0.0, seed=1),
        remote.complete("second", Answer, role="simulation", feature="f1", logprobs=2),
        remote.complete("third", Answer, role="analyzer", feature="f2"),
    ]


def test_replay_reproduces_every_recorded_call(remote, fault_server, tmp_path):
    originals = _record_run(remote, fault_server)
    assert [r.ok for r in originals] == [True, True, False]

    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    assert replay.name == "replay:openai-compatible" and replay.model == "fake-model"
    replayed = [
        replay.complete("first", Answer, role="explainer", feature="f1", temperature=0.0, seed=1),
        replay.complete("second", Answer, role="simulation", feature="f1", logprobs=2),
        replay.complete("third", Answer, role="analyzer", feature="f2"),
    ]
    for old, new in zip(originals, replayed, strict=True):
        assert new.replayed and not old.replayed
        assert new.backend == "replay:openai-compatible"
        assert (new.ok, new.parsed, new.raw_text, new.raw_turns) == (old.ok, old.parsed, old.raw_text, old.raw_turns)
        assert (new.error, new.error_kind, new.usage, new.turns) == (old.error, old.error_kind, old.usage, old.turns)
        assert new.logprobs == old.logprobs and new.request_key == old.request_key
    assert replayed[1].logprobs[0].top == (("a", -0.5), ("b", -1.5))
    assert len(fault_server.requests) == 4  # the replay never touched the server

    usage = replay.tracker.total()
    assert usage.calls == 3 and usage.prompt_tokens == sum(r.usage.prompt_tokens for r in originals)
    assert usage.cost_usd == 0.0 and replay.tracker.to_frame()["replayed"].all()


def test_a_request_that_was_not_recorded_is_a_clear_error(remote, fault_server, tmp_path):
    _record_run(remote, fault_server)
    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    with pytest.raises(ReplayMissing, match="role='explainer'.*schema=Answer"):
        replay.complete("first", Answer, role="explainer", feature="f1", temperature=0.7, seed=1)  # other temperature
    with pytest.raises(ReplayMissing):
        replay.complete("never asked", Answer, role="explainer")


def test_identical_requests_replay_in_recorded_order(remote, fault_server, tmp_path):
    fault_server.push(reply('{"answer": "a"}'), reply('{"answer": "b"}'))
    assert [remote.complete("same", Answer, role="r").parsed.answer for _ in range(2)] == ["a", "b"]
    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    assert [replay.complete("same", Answer, role="r").parsed.answer for _ in range(3)] == ["a", "b", "b"]


def test_replay_is_keyed_by_content_not_tags_and_works_concurrently(remote, fault_server, tmp_path):
    fault_server.default = reply('{"answer": "z"}')
    requests = [LLMRequest(f"q{i}", Answer, role="r", feature=f"f{i}") for i in range(6)]
    remote.complete_many(requests)
    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    retagged = [LLMRequest(r.messages, Answer, role="other", feature=None) for r in reversed(requests)]
    results = replay.complete_many(retagged)
    assert all(r.ok and r.replayed and r.role == "other" for r in results)


def test_a_stricter_schema_rejects_a_recorded_reply_with_a_note(remote, fault_server, tmp_path):
    fault_server.push(reply('{"answer": "lowercase"}'))
    remote.complete("q", Answer, role="r")

    class Answer2(BaseModel):  # same JSON schema and name, stricter validation
        answer: str

        @field_validator("answer")
        @classmethod
        def upper(cls, v: str) -> str:
            if v != v.upper():
                raise ValueError("must be upper case")
            return v

    Answer2.__name__ = "Answer"
    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    result = replay.complete("q", Answer2, role="r")
    assert not result.ok and result.error_kind == "invalid" and "upper case" in result.error
    assert "the recorded reply no longer validates with the current schema" in result.notes


def test_bad_recordings_are_reported(tmp_path):
    with pytest.raises(FileNotFoundError):
        make_llm(f"replay:{tmp_path / 'missing.jsonl'}")
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"key": "k", "reply": {}, "usage": {}, "backend": "x", "model": "m"}) + "\n{oops\n")
    with pytest.raises(ValueError, match="bad.jsonl:2 is not a call record"):
        make_llm(f"replay:{bad}")
