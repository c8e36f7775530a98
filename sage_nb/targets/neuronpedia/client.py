"""A small, read-only, cached HTTP client for the Neuronpedia API.

It can do two things and nothing else (:data:`ROUTES`, checked before every request and again by an httpx hook on
everything the underlying connection sends):

- ``GET /api/feature/{modelId}/{source}/{index}``: a feature's stored data (top activations, explanations, logits);
- ``POST /api/activation/new``: one feature's per-token activations on texts (``customText`` as a list; the
  server takes at most :data:`MAX_BATCH_TEXTS` texts per call, so longer lists are sent in chunks).

Every response is cached on disk (:class:`~sage_nb.targets.neuronpedia.cache.ResponseCache`); a batch is cached
text by text, so a text measured once never costs another call. HTTP 429 and 5xx are retried with exponential
backoff, honouring ``Retry-After`` (bounded attempts; ``sleep`` is injectable). Activation calls also count against
a client-side hourly budget (:data:`ACTIVATION_CALLS_PER_HOUR`, Neuronpedia's own limit for that endpoint), so a
long run stops with a clear error instead of being throttled. The API key comes from ``$NEURONPEDIA_API_KEY`` and
is only ever sent as the ``x-api-key`` header: never logged, never in a cache file, never in a repr or error.
"""

from __future__ import annotations

import email.utils
import logging
import os
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote

import httpx

from sage_nb.core.retry import RetryPolicy
from sage_nb.core.secrets import redact, register_secret
from sage_nb.targets.neuronpedia.cache import ResponseCache
from sage_nb.targets.neuronpedia.errors import (
    NeuronpediaAuthError,
    NeuronpediaNotFound,
    NeuronpediaRateLimited,
    NeuronpediaRequestError,
    NeuronpediaUnavailable,
    ReadOnlyViolation,
)

log = logging.getLogger(__name__)

#: The public server; ``$NEURONPEDIA_URL`` or ``base_url=`` point the client elsewhere.
DEFAULT_URL = "https://www.neuronpedia.org"
URL_ENV, KEY_ENV = "NEURONPEDIA_URL", "NEURONPEDIA_API_KEY"
#: Header that carries the API key.
KEY_HEADER = "x-api-key"
#: Neuronpedia's limit on ``/api/activation/new`` calls per hour (per IP, without a raised limit).
ACTIVATION_CALLS_PER_HOUR = 1000
#: Texts the server measures in one activation call (its inference server rejects larger batches).
MAX_BATCH_TEXTS = 4
#: Retries: 5 attempts, 2 s doubling to 60 s; a ``Retry-After`` longer than 60 s ends the call at once.
DEFAULT_RETRY = RetryPolicy(max_attempts=5, initial_delay_s=2.0, max_delay_s=60.0, timeout_s=60.0)

ACTIVATION_PATH = "/api/activation/new"


@dataclass(frozen=True)
class Route:
    """One request the client may send: an HTTP method and a path pattern (matched in full)."""

    method: str
    pattern: re.Pattern[str]
    purpose: str

    def allows(self, method: str, path: str) -> bool:
        return method.upper() == self.method and self.pattern.fullmatch(path) is not None


#: The allow-list: reading a feature and measuring activations. No write, vote or delete is possible.
ROUTES: tuple[Route, ...] = (
    Route("GET", re.compile(r"/api/feature/[^/?#]+/[^/?#]+/\d+"), "a feature's stored data"),
    Route("POST", re.compile(re.escape(ACTIVATION_PATH)), "one feature's activations on texts"),
)


def check_allowed(method: str, path: str) -> None:
    """Raise :class:`ReadOnlyViolation` unless ``method path`` is on the allow-list (:data:`ROUTES`)."""
    if not any(route.allows(method, path) for route in ROUTES):
        allowed = ", ".join(f"{r.method} {r.pattern.pattern}" for r in ROUTES)
        raise ReadOnlyViolation(f"refusing {method.upper()} {path}: this client is read-only (allowed: {allowed})")


def feature_path(model_id: str, source: str, index: int) -> str:
    """``/api/feature/{modelId}/{source}/{index}`` with each part URL-quoted."""
    return f"/api/feature/{quote(model_id, safe='')}/{quote(source, safe='')}/{int(index)}"


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """A ``Retry-After`` header in seconds (it may be a number or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


class _Secret:
    """A string that never shows itself in a repr."""

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "_Secret(***)"


class HourlyBudget:
    """A sliding one-hour window of calls; :meth:`take` raises :class:`NeuronpediaRateLimited` when it is full."""

    def __init__(self, limit: int, window_s: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        if limit < 1:
            raise ValueError("the hourly budget must allow at least one call")
        self.limit, self.window_s, self.clock = limit, window_s, clock
        self._calls: deque[float] = deque()
        self._lock = threading.Lock()

    @property
    def used(self) -> int:
        """Calls in the current window."""
        with self._lock:
            self._prune(self.clock())
            return len(self._calls)

    def _prune(self, now: float) -> None:
        while self._calls and now - self._calls[0] >= self.window_s:
            self._calls.popleft()

    def take(self) -> None:
        """Count one call, or raise when ``limit`` calls were made in the last ``window_s`` seconds."""
        with self._lock:
            now = self.clock()
            self._prune(now)
            if len(self._calls) >= self.limit:
                wait = self.window_s - (now - self._calls[0])
                raise NeuronpediaRateLimited(
                    f"this client has made {self.limit} activation calls in the last hour (Neuronpedia's limit); "
                    f"the next is allowed in {wait:.0f} s. Cached texts cost nothing: re-run later to resume."
                )
            self._calls.append(now)


class NeuronpediaClient:
    """Read-only access to a Neuronpedia server, with a disk cache, retries and an hourly activation budget.

    ``base_url`` defaults to ``$NEURONPEDIA_URL`` or :data:`DEFAULT_URL`; ``api_key`` to ``$NEURONPEDIA_API_KEY``
    (optional for public models). ``cache_dir`` defaults to ``~/.cache/sage_nb/neuronpedia``; ``use_cache=False``
    turns the cache off. ``retry`` bounds the attempts and waits; ``activation_calls_per_hour`` is the client's own
    budget. ``sleep``, ``clock`` and ``seed`` (of the backoff jitter) are injectable for tests.

    >>> client = NeuronpediaClient()  # doctest: +SKIP
    >>> client.activations("gemma-2-2b", "20-gemmascope-res-16k", 10956, ["We met on Monday."])  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        cache_dir: str | Path | None = None,
        use_cache: bool = True,
        retry: RetryPolicy = DEFAULT_RETRY,
        activation_calls_per_hour: int = ACTIVATION_CALLS_PER_HOUR,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        seed: int | None = None,
    ) -> None:
        self.base_url = (base_url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")
        key = api_key if api_key is not None else os.environ.get(KEY_ENV)
        self._key = _Secret(key) if key else None
        register_secret(key)
        self.cache = ResponseCache(cache_dir) if use_cache else None
        self.retry = retry
        self.budget = HourlyBudget(activation_calls_per_hour, clock=clock)
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.http_requests = 0  # requests handed to the network (every attempt counts)
        self.cache_hits = 0
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=retry.timeout_s,
            headers={"user-agent": "sage_nb"},
            event_hooks={"request": [self._guard]},
        )

    def __repr__(self) -> str:
        cache = str(self.cache.folder) if self.cache is not None else None
        key = "set" if self._key is not None else "not set"
        return f"NeuronpediaClient(base_url={self.base_url!r}, api_key={key}, cache={cache!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> NeuronpediaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the two calls -----------------------------------------------------------------------------------------------
    def feature(self, model_id: str, source: str, index: int, *, refresh: bool = False) -> dict[str, Any]:
        """A feature's stored data (``GET /api/feature/...``), from the cache unless ``refresh``.

        Raises :class:`NeuronpediaNotFound` naming ``model_id``, ``source`` and ``index`` when the server has no
        such feature.
        """
        path = feature_path(model_id, source, index)
        request = {"method": "GET", "url": self.base_url + path}
        if not refresh:
            hit, data = self._cached(request)
            if hit:
                return data
        data = self._send("GET", path, None, _feature_name(model_id, source, index))
        if not isinstance(data, dict) or "index" not in data:
            # older servers answer an unknown feature with 200 and `null` (or an error object)
            message = str(data.get("error", "")) if isinstance(data, dict) else ""
            raise NeuronpediaNotFound(_not_found(model_id, source, index, message))
        self._store(request, data)
        return data

    def activations(self, model_id: str, source: str, index: int, texts: Sequence[str]) -> list[dict[str, Any]]:
        """One feature's activations on each text (``POST /api/activation/new``): the server's result objects
        (``tokens``, ``values``, ``maxValue`` ...), in the order of ``texts``.

        Cached texts cost nothing; the others are sent :data:`MAX_BATCH_TEXTS` at a time as a ``customText`` list,
        each call counting against the hourly budget.
        """
        texts = list(texts)
        out: list[dict[str, Any] | None] = [None] * len(texts)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            hit, data = self._cached(self._activation_request(model_id, source, index, text))
            if hit:
                out[i] = data
            else:
                todo.setdefault(text, []).append(i)
        pending = list(todo)
        what = _feature_name(model_id, source, index)
        for start in range(0, len(pending), MAX_BATCH_TEXTS):
            chunk = pending[start : start + MAX_BATCH_TEXTS]
            body = _activation_body(model_id, source, index, chunk)
            data = self._send("POST", ACTIVATION_PATH, body, what)
            items = data if isinstance(data, list) else [data]
            if len(items) != len(chunk) or not all(isinstance(item, dict) for item in items):
                raise NeuronpediaRequestError(
                    f"{what}: expected {len(chunk)} activation results, got {type(data).__name__} "
                    f"of length {len(items)}"
                )
            for item in items:  # an error object in place of a result is reported, never cached
                if not isinstance(item.get("tokens"), list):
                    raise NeuronpediaRequestError(f"{what}: the server could not measure a text: {_item_error(item)}")
            for text, item in zip(chunk, items, strict=True):
                self._store(self._activation_request(model_id, source, index, text), item)
                for i in todo[text]:
                    out[i] = item
        return cast(list[dict[str, Any]], out)

    # -- plumbing ----------------------------------------------------------------------------------------------------
    def _activation_request(self, model_id: str, source: str, index: int, text: str) -> dict[str, Any]:
        """The cache description of measuring one text (as if sent alone)."""
        body = _activation_body(model_id, source, index, [text])
        return {"method": "POST", "url": self.base_url + ACTIVATION_PATH, "body": body}

    def _cached(self, request: dict[str, Any]) -> tuple[bool, Any]:
        if self.cache is None:
            return False, None
        hit, data = self.cache.get(request)
        if hit:
            with self._lock:
                self.cache_hits += 1
        return hit, data

    def _store(self, request: dict[str, Any], data: Any) -> None:
        if self.cache is not None:
            self.cache.put(request, data)

    def _guard(self, request: httpx.Request) -> None:
        """httpx hook: every request the connection sends must be on the allow-list (paths below the base URL's)."""
        path, base = request.url.path, self._http.base_url.path.rstrip("/")
        check_allowed(request.method, path[len(base) :] if base and path.startswith(base + "/") else path)

    def _send(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> Any:
        """Send one allowed request with bounded retries; return its JSON or raise a clear error."""
        check_allowed(method, path)
        headers = {KEY_HEADER: self._key.value} if self._key is not None else {}
        policy = self.retry
        reason, rate_limited = "", False
        for attempt in range(1, policy.max_attempts + 1):
            if method == "POST":
                self.budget.take()
            retry_after: float | None = None
            with self._lock:
                self.http_requests += 1
            try:
                response = self._http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as err:
                reason, rate_limited = f"cannot reach {self.base_url} ({type(err).__name__}: {err})", False
            else:
                status = response.status_code
                if 300 <= status < 400:  # redirects are not followed: the allow-list checks one server's paths
                    location = response.headers.get("location", "?")
                    raise NeuronpediaRequestError(
                        f"{what}: HTTP {status} redirect to {location}; point {URL_ENV} (or base_url) at that server"
                    )
                if status < 400:
                    try:
                        return response.json()
                    except ValueError as err:
                        raise NeuronpediaRequestError(f"{what}: the server's reply is not JSON ({err})") from err
                message = _server_message(response)
                if status == 429:
                    retry_after = retry_after_seconds(response.headers.get("retry-after"))
                    reason, rate_limited = f"HTTP 429 rate limited: {message}", True
                    if retry_after is not None and retry_after > policy.max_delay_s:
                        raise NeuronpediaRateLimited(
                            f"{what}: Neuronpedia's rate limit is spent; it asks to retry after {retry_after:.0f} s "
                            f"({message}). Cached texts cost nothing: re-run later to resume."
                        )
                elif status >= 500:
                    reason, rate_limited = f"HTTP {status}: {message}", False
                elif status in (401, 403):
                    hint = "" if self._key is not None else f" No API key is set: export {KEY_ENV}."
                    raise NeuronpediaAuthError(f"{what}: HTTP {status} from {self.base_url}: {message}.{hint}")
                elif status == 404:
                    model_id, source, index = _parts(method, path, body)
                    raise NeuronpediaNotFound(_not_found(model_id, source, index, message))
                else:
                    raise NeuronpediaRequestError(f"{what} was rejected (HTTP {status}): {message}")
            if attempt == policy.max_attempts:
                break
            wait = policy.delay(attempt, self._rng, retry_after)
            log.warning("%s failed (%s); retry %d/%d in %.2f s", what, redact(reason), attempt,
                        policy.max_attempts - 1, wait)  # fmt: skip
            self._sleep(wait)
        error = NeuronpediaRateLimited if rate_limited else NeuronpediaUnavailable
        hint = "" if rate_limited else f" Check the connection and {URL_ENV}; cached responses still work offline."
        raise error(f"{what} failed {policy.max_attempts} times; last error: {reason}.{hint}")


def _activation_body(model_id: str, source: str, index: int, texts: list[str]) -> dict[str, Any]:
    return {
        "feature": {"modelId": model_id, "source": source, "index": str(int(index))},
        "customText": texts,
        "ignoreBos": True,
    }


def _feature_name(model_id: str, source: str, index: int) -> str:
    return f"Neuronpedia feature {model_id}/{source}/{index}"


def _not_found(model_id: str, source: str, index: Any, message: str) -> str:
    detail = f" ({message})" if message else ""
    return (
        f"Neuronpedia has no feature modelId={model_id!r}, source={source!r}, index={index}{detail}. Check the "
        "model and source names (e.g. 'gemma-2-2b', '20-gemmascope-res-16k') and that the index is below the "
        "SAE's width."
    )


def _parts(method: str, path: str, body: dict[str, Any] | None) -> tuple[str, str, Any]:
    """(modelId, source, index) of a request, for error messages."""
    if method == "POST" and body is not None:
        feature = body.get("feature", {})
        return feature.get("modelId", "?"), feature.get("source", "?"), feature.get("index", "?")
    _, _, model_id, source, index = path.strip("/").split("/")[:5]
    return model_id, source, index


def _item_error(item: dict[str, Any]) -> str:
    message = item.get("error") or item.get("message") or f"no tokens in {sorted(item)}"
    return redact(str(message))


def _server_message(response: httpx.Response) -> str:
    """The ``error`` or ``message`` of an error reply (Neuronpedia sends both), else a short piece of its text."""
    try:
        data = response.json()
    except ValueError:
        return redact(response.text[:200].strip()) or response.reason_phrase
    if isinstance(data, dict):
        for field in ("error", "message"):
            if isinstance(data.get(field), str) and data[field]:
                return redact(data[field])
    return redact(str(data)[:200])


__all__ = [
    "ACTIVATION_CALLS_PER_HOUR",
    "DEFAULT_RETRY",
    "DEFAULT_URL",
    "KEY_ENV",
    "KEY_HEADER",
    "MAX_BATCH_TEXTS",
    "ROUTES",
    "URL_ENV",
    "HourlyBudget",
    "NeuronpediaClient",
    "Route",
    "check_allowed",
    "feature_path",
    "retry_after_seconds",
]
