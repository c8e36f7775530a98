"""Secrets (API keys) are registered once and redacted from every text the package logs, stores or raises."""

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
