"""Backoff arithmetic and the retry loop."""

from __future__ import annotations

import random

import pytest

from sage_nb.llm import LLMUnavailable, RetryPolicy
from sage_nb.llm.retry import Transient, call_with_retry


def test_delays_grow_exponentially_with_bounded_jitter_and_a_cap():
    policy = RetryPolicy(initial_delay_s=1.0, multiplier=2.0, max_delay_s=5.0, jitter=0.25)
    rng = random.Random(0)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [policy.delay(attempt, rng) for _ in range(200)]
        assert all(0.75 * base <= d <= base for d in delays)
        assert max(delays) - min(delays) > 0.1 * base  # jitter really varies the wait


def test_retry_after_is_honoured_only_below_the_cap():
    policy = RetryPolicy(initial_delay_s=1.0, max_delay_s=5.0, jitter=0.0)
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 1.0


def test_invalid_policies_are_rejected():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(jitter=1.5)


def _flaky(failures: list[BaseException]):
    calls = []

    def fn():
        calls.append(1)
        if failures:
            raise failures.pop(0)
        return "done"

    return fn, calls


def _classify(err: BaseException) -> Transient | None:
    return Transient(str(err)) if isinstance(err, TimeoutError) else None


def test_transient_failures_are_retried_with_the_policy_delays():
    waits: list[float] = []
    fn, calls = _flaky([TimeoutError("t1"), TimeoutError("t2")])
    policy = RetryPolicy(max_attempts=3, initial_delay_s=0.5, multiplier=3.0, jitter=0.0)
    assert call_with_retry(fn, policy, _classify, what="x", sleep=waits.append) == "done"
    assert len(calls) == 3
    assert waits == [0.5, 1.5]


def test_exhausted_retries_raise_llm_unavailable_naming_the_last_error():
    fn, calls = _flaky([TimeoutError("first"), TimeoutError("second")])
    policy = RetryPolicy(max_attempts=2, initial_delay_s=0.0, jitter=0.0)
    with pytest.raises(LLMUnavailable, match="svc failed 2 times; last error: second"):
        call_with_retry(fn, policy, _classify, what="svc", sleep=lambda s: None)
    assert len(calls) == 2


def test_non_transient_errors_are_not_retried():
    fn, calls = _flaky([KeyError("bad")])
    with pytest.raises(KeyError):
        call_with_retry(fn, RetryPolicy(), _classify, what="svc", sleep=lambda s: None)
    assert len(calls) == 1
