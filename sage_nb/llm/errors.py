"""Exceptions of the LLM layer (their messages pass through :func:`~sage_nb.core.secrets.redact`).

A bad *reply* never raises: it becomes an :class:`~sage_nb.llm.base.LLMResult` with ``ok=False``. Exceptions are
for the cases a caller must act on: the service is unreachable after retries (checkpoint and resume later), the
request itself is wrong (fix the configuration), or a replay file lacks a call.
"""

from __future__ import annotations

from sage_nb.core.secrets import REDACTED, redact, register_secret

__all__ = ["REDACTED", "LLMError", "LLMRequestError", "LLMUnavailable", "ReplayMissing", "redact", "register_secret"]


class LLMError(Exception):
    """Base class of the LLM layer's exceptions. Messages are redacted when the exception is built."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class LLMUnavailable(LLMError):
    """The service could not be reached or kept failing (timeouts, 429, 5xx, refused connections) after retries.

    Raised only after the retry policy is exhausted; the caller should checkpoint and resume later.
    """


class LLMRequestError(LLMError):
    """The request was rejected for a reason retrying cannot fix (bad model name, bad key, bad parameter)."""


class ReplayMissing(LLMError):
    """A replay file holds no recorded call for this request."""
