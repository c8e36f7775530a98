"""Bounded retries with exponential backoff and jitter: the single place that holds the retry defaults."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sage_nb.llm.errors import LLMUnavailable, redact

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Attempt ``n`` (1-based) that fails waits ``min(max_delay_s, initial_delay_s * multiplier**(n-1))``, reduced by a
    random fraction up to ``jitter``, or the server's ``Retry-After`` when that is shorter than ``max_delay_s``.
    ``timeout_s`` bounds each HTTP attempt.
    """

    max_attempts: int = 5
    initial_delay_s: float = 1.0
    multiplier: float = 2.0
    max_delay_s: float = 30.0
    jitter: float = 0.25
    timeout_s: float = 120.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")

    def delay(self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        if retry_after is not None and 0 <= retry_after <= self.max_delay_s:
            return retry_after
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (attempt - 1))
        return base * (1.0 - self.jitter * (rng or random).random())


#: Quick policy for tests and interactive checks: 3 attempts, a few milliseconds apart, 5 s per attempt.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0)


@dataclass(frozen=True)
class Transient:
    """Why an attempt failed in a way worth retrying (from a backend's classifier)."""

    reason: str
    retry_after: float | None = None


def call_with_retry(
    fn: Callable[[], R],
    policy: RetryPolicy,
    classify: Callable[[BaseException], Transient | None],
    *,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    rng: random.Random | None = None,
) -> R:
    """Call ``fn`` until it succeeds, retrying failures that ``classify`` calls transient.

    Non-transient exceptions propagate at once. After ``policy.max_attempts`` transient failures raise
    :class:`LLMUnavailable` naming ``what`` and the last reason (redacted).
    """
    reason = ""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return fn()
        except Exception as err:
            transient = classify(err)
            if transient is None:
                raise
            reason = transient.reason
            if attempt == policy.max_attempts:
                break
            wait = policy.delay(attempt, rng, transient.retry_after)
            log.warning(
                "%s failed (%s); retry %d/%d in %.2f s",
                what,
                redact(reason),
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            sleep(wait)
    raise LLMUnavailable(f"{what} failed {policy.max_attempts} times; last error: {reason}")
