"""CachedBackend: repeated requests are answered from the file; failures are not cached."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from sage_nb.llm import make_llm
from sage_nb.llm.base import LLMBackend, LLMRequest, Message, Reply
from sage_nb.llm.cache import CachedBackend
from sage_nb.llm.usage import Usage


class Word(BaseModel):
    word: str


class Counting(LLMBackend):
    name = "counting"

    def __init__(self, broken: bool = False) -> None:
        super().__init__("counter")
        self.calls = 0
        self.broken = broken

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        self.calls += 1
        text = "oops" if self.broken else json.dumps({"word": f"w{self.calls}"})
        return Reply(text=text, usage=Usage(prompt_tokens=10, completion_tokens=3), finish_reason="stop")


def test_second_run_costs_nothing_and_returns_the_same(tmp_path):
    path = tmp_path / "cache.jsonl"
    inner = Counting()
    cached = CachedBackend(inner, path)
    first = cached.complete("a word please", Word, role="gen", feature="1")
    batch = cached.complete_many(
        [LLMRequest("a word please", Word, role="gen"), LLMRequest("another", Word, role="gen")]
    )
    assert inner.calls == 2 and cached.hits == 1
    assert batch[0].parsed == first.parsed and batch[0].replayed

    again = CachedBackend(Counting(), path)  # a new session reads the file
    result = again.complete("another", Word, role="gen")
    assert again.inner.calls == 0 and result.parsed == batch[1].parsed
    assert make_llm(f"replay:{path}").complete("another", Word, role="gen").parsed == batch[1].parsed


def test_failures_are_not_cached(tmp_path):
    path = tmp_path / "cache.jsonl"
    broken = CachedBackend(Counting(broken=True), path)
    assert not broken.complete("x", Word, role="gen").ok
    fixed = CachedBackend(Counting(), path)
    assert fixed.complete("x", Word, role="gen").ok and fixed.inner.calls == 1


def test_different_sampling_parameters_are_different_entries(tmp_path):
    cached = CachedBackend(Counting(), tmp_path / "c.jsonl")
    a = cached.complete("x", Word, role="gen", temperature=0.0)
    b = cached.complete("x", Word, role="gen", temperature=0.9, seed=1)
    assert a.parsed != b.parsed and cached.inner.calls == 2


def test_another_models_cached_answer_is_never_returned(tmp_path):
    from pydantic import BaseModel

    from sage_nb.llm.base import LLMRequest, LLMResult
    from sage_nb.llm.cache import CachedBackend
    from sage_nb.llm.replay import CallRecorder

    class Word(BaseModel):
        word: str

    path = tmp_path / "cache.jsonl"
    request = LLMRequest("a word", Word, role="generator")
    answer = LLMResult(True, Word(word="big"), '{"word":"big"}', "generator", None, "llamacpp", "big-model",
                       request.key())  # fmt: skip
    CallRecorder(path).write(request, answer)
    small = tmp_path / "small.jsonl"
    CallRecorder(small).write(request, LLMResult(True, Word(word="small"), '{"word":"small"}', "generator", None,
                                                 "llamacpp", "small-model", request.key()))  # fmt: skip
    cached = CachedBackend(make_llm(f"replay:{small}"), path)
    result = cached.complete("a word", Word, role="generator")
    assert result.parsed.word == "small" and cached.misses == 1 and cached.hits == 0
    again = CachedBackend(make_llm(f"replay:{small}"), path).complete("a word", Word, role="generator")
    assert again.parsed.word == "small"  # both answers are kept, each for its own model


class Interrupted(Counting):
    """Answers ``stop_after`` requests, then the session is interrupted (as by Ctrl-C)."""

    def __init__(self, stop_after: int) -> None:
        super().__init__()
        self.max_workers = 1
        self.stop_after = stop_after

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        if self.calls == self.stop_after:
            raise KeyboardInterrupt
        return super()._turn(messages, request)


def test_an_interrupted_batch_keeps_the_answers_it_had(tmp_path):
    """A teacher stage sends all its features in one call of many requests: interrupted after three answers, the
    next session asks only for the rest."""
    path = tmp_path / "cache.jsonl"
    requests = [LLMRequest(f"word {i}", Word, role="gen") for i in range(6)]
    cached = CachedBackend(Interrupted(stop_after=3), path)
    assert cached.chunk_size() == 1
    try:
        cached.complete_many(requests)
    except KeyboardInterrupt:
        pass
    assert len(path.read_text().splitlines()) == 3
    resumed = CachedBackend(Counting(), path)
    results = resumed.complete_many(requests)
    assert resumed.hits == 3 and resumed.inner.calls == 3 and all(r.ok for r in results)
    assert [r.replayed for r in results] == [True] * 3 + [False] * 3
