"""Bounded retries with exponential backoff and jitter: the single place that holds the retry and timeout defaults.

A call is bounded three ways: connecting takes at most ``connect_timeout_s``, one attempt at most ``timeout_s``, and
no retry starts once the call has spent ``budget_s`` (all attempts and waits together). While a call waits, notes
say so every so often (:func:`waiting_notes`, logged at INFO; ``sage-nb`` prints them).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sage_nb.core.retry import RetryPolicy
from sage_nb.llm.errors import LLMUnavailable, redact

log = logging.getLogger(__name__)
R = TypeVar("R")


#: Quick policy for tests and interactive checks: 3 attempts, a few milliseconds apart, 5 s per attempt.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_delay_s=0.01, max_delay_s=0.05, timeout_s=5.0, connect_timeout_s=2.0)
#: Seconds before the first note that a call is still waiting, and between the later ones.
NOTE_AFTER_S, NOTE_EVERY_S = 10.0, 30.0


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

    Non-transient exceptions propagate at once. After ``policy.max_attempts`` transient failures, or once the next
    wait would take the call past ``policy.budget_s``, raise :class:`LLMUnavailable` naming ``what`` and the last
    reason (redacted).
    """
    reason = ""
    start = time.monotonic()
    attempt = 0
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
            spent = time.monotonic() - start
            if policy.budget_s is not None and spent + wait >= policy.budget_s:
                reason += f" (no retry left in the call's budget of {policy.budget_s:g} s, {spent:.0f} s spent)"
                break
            log.warning(
                "%s failed (%s); retry %d/%d in %.2f s",
                what,
                redact(reason),
                attempt,
                policy.max_attempts - 1,
                wait,
            )
            sleep(wait)
    times = "once" if attempt == 1 else f"{attempt} times"
    raise LLMUnavailable(f"{what} failed {times}; last error: {reason}")


@contextmanager
def waiting_notes(what: str, after_s: float = NOTE_AFTER_S, every_s: float = NOTE_EVERY_S) -> Iterator[None]:
    """Log (INFO) that the program is still waiting on ``what`` after ``after_s`` seconds, then every ``every_s``."""
    done = threading.Event()
    start = time.monotonic()

    def note() -> None:
        wait = after_s
        while not done.wait(wait):
            log.info("still waiting on %s after %.0f s", what, time.monotonic() - start)
            wait = every_s

    thread = threading.Thread(target=note, name="llm-waiting-notes", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
