"""How patiently a client retries a service (an LLM server, Neuronpedia): the one policy record they share."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a transient failure.

    Attempt ``n`` (1-based) that fails waits ``min(max_delay_s, initial_delay_s * multiplier**(n-1))``, reduced by a
    random fraction up to ``jitter``, or the server's ``Retry-After`` when that is shorter than ``max_delay_s``.
    ``timeout_s`` bounds each HTTP attempt (generation included), ``connect_timeout_s`` its connecting, and
    ``budget_s`` the whole call: no retry starts once the attempts and waits so far, plus the wait, reach it (None:
    no budget). A server that never answers at all is found before the first call (see
    :meth:`~sage_nb.llm.openai_backend.OpenAIBackend.check_reachable`), so these bound a server that answers but
    then stalls.
    """

    max_attempts: int = 4  # a failure that outlasts 1 + 2 + 4 s of waiting is rarely transient
    initial_delay_s: float = 1.0
    multiplier: float = 2.0
    max_delay_s: float = 30.0
    jitter: float = 0.25
    timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    budget_s: float | None = 240.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0.0 <= self.jitter <= 1.0:
            raise ValueError("jitter must be within [0, 1]")
        if self.timeout_s <= 0 or self.connect_timeout_s <= 0 or (self.budget_s is not None and self.budget_s <= 0):
            raise ValueError("timeouts and the budget must be positive")

    def delay(self, attempt: int, rng: random.Random | None = None, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based)."""
        if retry_after is not None and 0 <= retry_after <= self.max_delay_s:
            return retry_after
        base = min(self.max_delay_s, self.initial_delay_s * self.multiplier ** (attempt - 1))
        return base * (1.0 - self.jitter * (rng or random).random())
