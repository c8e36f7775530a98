"""Forced readings under llama.cpp: logprobs along a given reply, read in one pass with the embedded SmolLM2."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sage_nb.llm import LLMRequest, LLMRequestError
from sage_nb.llm.base import ForcedReading, LLMBackend, Reply
from sage_nb.llm.cache import CachedBackend
from sage_nb.llm.llamacpp_forced import chat_prompt, forced_tokens
from sage_nb.llm.replay import ReplayBackend

MESSAGES = [
    {"role": "system", "content": "You rate how much each word is about food, from 0 to 9."},
    {"role": "user", "content": "Words: bread, chair, apple."},
]
SEGMENTS = ("bread\t", "9\nchair\t", "0\napple\t")


def forced(segments=SEGMENTS, messages=MESSAGES) -> LLMRequest:
    return LLMRequest(messages, ForcedReading, role="simulation", logprobs=5, forced=segments)


def reference_logprobs(backend, tokens: list[int], at: int) -> np.ndarray:
    """Log-softmax after token ``at`` from llama-cpp-python's own every-position logits context."""
    import llama_cpp

    reference = llama_cpp.Llama(model_path=str(backend.path), n_ctx=2048, n_threads=1, logits_all=True,
                                verbose=False)  # fmt: skip
    reference.eval(tokens)
    logits = np.array(reference.scores[at], dtype=np.float64)
    reference.close()
    return logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))


def test_a_forced_reading_gives_one_reading_per_segment_with_the_numbers(llamacpp_llm):
    result = llamacpp_llm.run(forced())
    assert result.ok and result.parsed == ForcedReading(readings=3)
    assert result.usage.completion_tokens == 0 and result.finish_reason == "forced"
    assert len(result.logprobs) == 3
    for reading in result.logprobs:
        shown = dict(reading.top)
        assert all(str(i) in shown for i in range(10))  # the numbers are always reported, beyond the top 5
        assert sum(math.exp(lp) for lp in shown.values()) <= 1.0 + 1e-6


def test_readings_equal_llama_cpp_python_s_every_position_logits(llamacpp_llm):
    """The selective decode (logits only at the reading points, prefix reused from an earlier reading) reads what a
    context that keeps every position's logits reads at the same tokens."""
    llamacpp_llm.run(forced(("soup\t",)))  # leaves a shared prefix in the context
    result = llamacpp_llm.run(forced())
    assert result.usage.cached_tokens > 0.5 * result.usage.prompt_tokens
    llm = llamacpp_llm.load()
    tokens, ends = forced_tokens(llm, chat_prompt(llm, MESSAGES), SEGMENTS)
    assert len(tokens) == result.usage.prompt_tokens
    for reading, end in zip(result.logprobs, ends, strict=True):
        theirs = reference_logprobs(llamacpp_llm, tokens, end)
        for token, logprob in reading.top[:5]:
            ids = llm.tokenize(token.encode(), add_bos=False, special=False)
            assert logprob == pytest.approx(theirs[ids[0]], abs=2e-3), token
        assert reading.top[0][1] == pytest.approx(theirs.max(), abs=2e-3)


def test_a_forced_reading_is_cached_and_replayed(llamacpp_llm, tmp_path):
    cached = CachedBackend(llamacpp_llm, tmp_path / "calls.jsonl")
    first = cached.run(forced())
    again = cached.run(forced())
    assert again.replayed and again.logprobs == first.logprobs and cached.hits == 1
    replayed = ReplayBackend(tmp_path / "calls.jsonl").run(forced())
    assert replayed.replayed and replayed.logprobs == first.logprobs
    other = forced(("bread\t", "9\nsoup\t"))
    assert other.key() != forced().key()


class Generating(LLMBackend):
    name = "generating"

    def _turn(self, messages, request) -> Reply:  # pragma: no cover - never reached for a forced reading
        return Reply(text="{}")


def test_a_backend_that_only_generates_names_the_engine_that_reads():
    with pytest.raises(LLMRequestError, match="llama.cpp engine.*all_at_once"):
        Generating("m").run(forced())


def test_a_forced_request_needs_segments_and_its_schema():
    with pytest.raises(ValueError, match="ForcedReading"):
        LLMRequest(MESSAGES, ForcedReading, role="simulation", forced=())
    with pytest.raises(ValueError, match="ForcedReading"):
        LLMRequest(MESSAGES, Reply, role="simulation", forced=("a",))  # type: ignore[type-var]
