"""Exceptions of the Neuronpedia client. Messages are redacted (no API key ever appears in one).

Each also derives from the builtin a caller would expect, so code written for other targets handles it:
an unknown feature is an ``IndexError`` (as for any target), a refused key a ``PermissionError``, a server that
cannot be reached a ``ConnectionError``, a request the server rejects a ``ValueError``.
"""

from __future__ import annotations

from sage_nb.core.secrets import redact


class NeuronpediaError(Exception):
    """Base class of the Neuronpedia client's exceptions."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


class NeuronpediaUnavailable(NeuronpediaError, ConnectionError):
    """The server could not be reached, or kept failing (5xx, timeouts) after the bounded retries."""


class NeuronpediaRateLimited(NeuronpediaUnavailable):
    """The rate limit is spent: the server said 429 too often, or the client's own hourly budget is used up."""


class NeuronpediaAuthError(NeuronpediaError, PermissionError):
    """HTTP 401/403: the API key is missing, wrong, or not allowed to see this model or source."""


class NeuronpediaNotFound(NeuronpediaError, IndexError):
    """HTTP 404: no such model, source or feature on this server."""


class NeuronpediaRequestError(NeuronpediaError, ValueError):
    """The server rejected the request for a reason retrying cannot fix (HTTP 400, a malformed response ...)."""


class ReadOnlyViolation(NeuronpediaError, PermissionError):
    """A request outside the client's allow-list (anything but reading features and measuring activations)."""


__all__ = [
    "NeuronpediaAuthError",
    "NeuronpediaError",
    "NeuronpediaNotFound",
    "NeuronpediaRateLimited",
    "NeuronpediaRequestError",
    "NeuronpediaUnavailable",
    "ReadOnlyViolation",
]
