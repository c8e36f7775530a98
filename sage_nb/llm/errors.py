"""Exceptions of the LLM layer and the redaction of secrets from any text we log, store or raise.

A bad *reply* never raises: it becomes an :class:`~sage_nb.llm.base.LLMResult` with ``ok=False``. Exceptions are
for the cases a caller must act on: the service is unreachable after retries (checkpoint and resume later), the
request itself is wrong (fix the configuration), or a replay file lacks a call.
"""

from __future__ import annotations

import re
import threading

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
# Key shapes of common providers, also in the masked form servers echo ("sk-abc***wxyz").
_KEY_PATTERNS = re.compile(
    r"(?<![A-Za-z0-9])(sk-[A-Za-z0-9_\-*.]{12,}|AIza[0-9A-Za-z_\-*]{20,}|(?i:bearer)\s+[A-Za-z0-9_\-*.~+/=]{12,})"
)
REDACTED = "[REDACTED]"


def register_secret(secret: str | None) -> None:
    """Remember a secret (an API key) so that :func:`redact` removes it from every text."""
    if secret and len(secret) >= 4:
        with _SECRETS_LOCK:
            _SECRETS.add(secret)


def redact(text: str) -> str:
    """Return ``text`` with registered secrets and anything shaped like an API key replaced by ``[REDACTED]``."""
    if not text:
        return text
    with _SECRETS_LOCK:
        secrets = sorted(_SECRETS, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, REDACTED)
    return _KEY_PATTERNS.sub(REDACTED, text)


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
