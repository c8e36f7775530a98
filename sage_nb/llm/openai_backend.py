"""OpenAI and OpenAI-compatible chat servers through the ``openai`` client.

The API key comes from an environment variable: ``OPENAI_API_KEY`` for OpenAI, ``SAGE_NB_LLM_API_KEY`` for any other
server (so an OpenAI key never travels elsewhere; no key is sent when it is unset), or ``api_key_env=``. It is handed
to the client only and scrubbed from everything we log, store or raise. Base URLs of common servers (all speak
``/v1/chat/completions``; use ``make_llm("openai-compatible:MODEL@URL")``):

==============================  ========================================================  =============================
server                          base_url                                                  key variable
==============================  ========================================================  =============================
OpenAI (``openai:MODEL``)       (default) https://api.openai.com/v1                       OPENAI_API_KEY
vLLM (``vllm serve M``)         http://127.0.0.1:8000/v1                                  SAGE_NB_LLM_API_KEY, optional
Ollama                          http://127.0.0.1:11434/v1                                 SAGE_NB_LLM_API_KEY, optional
llama.cpp ``llama-server``      http://127.0.0.1:8080/v1                                  SAGE_NB_LLM_API_KEY, optional
LM Studio                       http://127.0.0.1:1234/v1                                  SAGE_NB_LLM_API_KEY, optional
``transformers serve [MODEL]``  http://127.0.0.1:8000/v1 (model: the served path)         none
Claude (``anthropic:MODEL``)    https://api.anthropic.com/v1/                             ANTHROPIC_API_KEY
Gemini (``gemini:MODEL``)       https://generativelanguage.googleapis.com/v1beta/openai/  GEMINI_API_KEY
==============================  ========================================================  =============================

Structured output: ``structured="json_schema"`` sends the role's schema as a (strict) ``json_schema``
``response_format``; ``"json_object_schema"`` sends ``{"type": "json_object", "schema": ...}`` (the form llama.cpp's
Python server, ``sage-nb serve-llm``, constrains by); ``"json_object"`` asks for JSON mode; ``"none"`` sends neither.
``"auto"`` (the default) starts with ``json_schema`` and steps down once per HTTP 400/422 that mentions the response
format or schema, or per HTTP 500 that rejects ``response_format`` (what that server answers to ``json_schema``;
checked in tests/llm/test_llamacpp_server.py). Whatever the
mode, the reply is validated with pydantic; a failure gets one repair turn that shows the error, then an
``ok=False`` result. Unless OpenAI itself enforces the schema, it is also described in the system message
(``schema_in_prompt=None``; True/False force it), because servers differ: vLLM, llama.cpp, LM Studio, Ollama and
Gemini document ``json_schema`` support, while Claude's compat layer documents that it ignores ``response_format``
(neither checked here).

Checked here against ``transformers serve`` 5.23 (tests/llm/test_transformers_serve.py): chat completions with
usage, ``max_tokens``, ``seed`` and concurrent clients work; ``response_format`` and ``logprobs``/``top_logprobs``
are accepted but ignored (results carry a note when logprobs are missing); ``temperature`` alone does not turn
sampling on (pass ``extra_body={"generation_config": json.dumps({"do_sample": True, "temperature": T})}``); ``GET
/v1/models`` fails with HTTP 500 when no Hugging Face cache folder exists. Serve the embedded model with
``transformers serve ~/.cache/sage_nb/models/smollm2-135m-instruct`` and use that path as the model name.

Transient failures (timeouts, refused or dropped connections, HTTP 408/409/425/429/5xx) are retried per
:class:`~sage_nb.llm.retry.RetryPolicy`, then raise :class:`~sage_nb.llm.errors.LLMUnavailable`; other HTTP errors
raise :class:`~sage_nb.llm.errors.LLMRequestError`. An answer that is not a chat completion (broken JSON, an HTML
error page with status 200, missing choices) becomes an ``ok=False`` result with ``error_kind="malformed_response"``.

Hangs are bounded: before its first call a backend checks that anything answers at its URL (``GET /models``; any
HTTP answer will do) within a few seconds (:meth:`OpenAIBackend.check_reachable`), so a server that is down, or
accepts connections and never answers, is reported at once, naming the URL. After that, connecting, each attempt
and the whole call are bounded by the :class:`~sage_nb.llm.retry.RetryPolicy`, and a call that waits long says so.
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import openai
from pydantic import BaseModel

from sage_nb.llm.base import (
    LLMBackend,
    LLMRequest,
    Message,
    Reply,
    clean_text,
    logprobs_from_choice,
    with_schema_instruction,
)
from sage_nb.llm.errors import LLMRequestError, LLMUnavailable, redact, register_secret
from sage_nb.llm.llamacpp_backend import grammar_schema
from sage_nb.llm.parsing import json_schema
from sage_nb.llm.retry import RetryPolicy, Transient, call_with_retry, waiting_notes
from sage_nb.llm.usage import Usage, UsageTracker

STRUCTURED_MODES = ("json_schema", "json_object_schema", "json_object", "none")
#: Key variable for OpenAI itself.
OPENAI_KEY_ENV = "OPENAI_API_KEY"
#: Key variable for other servers (never OPENAI_API_KEY, so that an OpenAI key does not travel to them).
COMPATIBLE_KEY_ENV = "SAGE_NB_LLM_API_KEY"
#: Placeholder key for servers that need none (the client insists on some value).
NO_KEY = "not-needed"
_RETRY_STATUS = frozenset({408, 409, 425, 429})
# OpenAI reasoning models accept only the default temperature.
_FIXED_TEMPERATURE_PREFIXES = ("gpt-5", "o1", "o3", "o4")
_MAX_RAW_CHARS = 4000


def format_rejected(status: int, detail: str) -> bool:
    """Whether an HTTP error rejects the request's ``response_format``. Besides 400/422 that mention it, llama.cpp's
    server (llama-cpp-python) answers OpenAI's ``json_schema`` with HTTP 500 and a pydantic ``literal_error`` about
    ``response_format.type`` (it accepts only "text" and "json_object"): that 500 is not transient."""
    text = detail.lower()
    about_format = any(w in text for w in ("response_format", "json", "schema", "format"))
    if status in (400, 422):
        return about_format
    return status == 500 and "response_format" in text and ("literal_error" in text or "json_object" in text)


def _classify(err: BaseException) -> Transient | None:
    """Which client errors are worth retrying."""
    if isinstance(err, openai.APITimeoutError):
        return Transient("timeout")
    if isinstance(err, openai.APIConnectionError):
        cause = err.__cause__ or err.__context__
        return Transient(f"connection error ({type(cause).__name__ if cause else 'no detail'})")
    if isinstance(err, openai.APIStatusError):
        status = err.status_code
        if format_rejected(status, str(err)):
            return None  # retrying the same response_format cannot help: the caller steps down
        if status in _RETRY_STATUS or status >= 500:
            return Transient(f"HTTP {status}", _retry_after(err.response.headers.get("retry-after")))
    return None


#: Seconds a server has to answer the reachability check (at most the policy's ``timeout_s``).
REACHABLE_TIMEOUT_S = 8.0
#: Tries of the reachability check when the connection is refused (a server restarting), ~1.5 s apart in all.
REACHABLE_TRIES = 3


def check_base_url(url: str) -> str:
    """``url`` when it reads as a server URL (``http(s)://HOST[:PORT]/...``); ValueError naming the fix otherwise."""
    text = url.strip()
    try:
        parts = urllib.parse.urlsplit(text)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname) and not any(c.isspace() for c in text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            f"{url!r} is not a server URL: expected http(s)://HOST[:PORT]/v1, e.g. "
            "'openai-compatible:MODEL@http://127.0.0.1:8000/v1'"
        )
    return text


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0


def _usage(body: Mapping[str, Any]) -> Usage:
    usage = body.get("usage")
    if not isinstance(usage, Mapping):
        return Usage()
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return Usage(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")), _count(cached))


def _content_text(message: Mapping[str, Any]) -> tuple[str, list[str]]:
    content = message.get("content")
    if isinstance(content, str):
        return content, []
    if isinstance(content, list):  # content parts
        texts = [p.get("text", "") for p in content if isinstance(p, Mapping) and isinstance(p.get("text"), str)]
        return "".join(texts), []
    if content is None:
        refusal = message.get("refusal")
        if isinstance(refusal, str) and refusal:
            return refusal, ["the model refused"]
        return "", []
    return json.dumps(content), ["the server sent non-text content"]


def reply_from_body(body_text: str, want_logprobs: bool) -> Reply:
    """Build a :class:`Reply` from the raw HTTP body of a chat completion; never raises."""
    try:
        body = json.loads(body_text)
        choices = body.get("choices") if isinstance(body, Mapping) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
            raise ValueError("no choices in the answer")
        choice = choices[0]
        message = choice.get("message")
        if not isinstance(message, Mapping):
            raise ValueError("the choice has no message")
        text, notes = _content_text(message)
        usage = _usage(body)
        if not isinstance(body.get("usage"), Mapping):
            notes.append("the server reported no token usage")
        logprobs = logprobs_from_choice(choice)
        if want_logprobs and logprobs is None:
            notes.append("logprobs were requested but the server returned none")
        finish = choice.get("finish_reason")
        return Reply(
            text=redact(clean_text(text)),
            usage=usage,
            finish_reason=finish if isinstance(finish, str) else None,
            logprobs=logprobs,
            notes=notes,
        )
    except Exception as err:
        return Reply(
            text=redact(clean_text(body_text[:_MAX_RAW_CHARS])),
            malformed=f"the server's answer is not a chat completion ({type(err).__name__}: {redact(str(err))[:200]})",
        )


def strict_response_format(schema: type[BaseModel]) -> dict[str, Any]:
    """The ``json_schema`` response format that OpenAI's own ``parse()`` helper would send."""
    try:
        from openai.lib._parsing._completions import type_to_response_format_param

        return dict(type_to_response_format_param(schema))
    except Exception:  # the helper is private; fall back to the plain schema
        return {
            "type": "json_schema",
            "json_schema": {"name": schema.__name__, "schema": json_schema(schema), "strict": False},
        }


class OpenAIBackend(LLMBackend):
    """Chat completions from OpenAI or any OpenAI-compatible server."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key_env: str | None = None,
        require_key: bool | None = None,
        structured: str = "auto",
        schema_in_prompt: bool | None = None,
        retry: RetryPolicy | None = None,
        default_max_tokens: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        name: str | None = None,
        tracker: UsageTracker | None = None,
        recorder: Any | None = None,
        max_workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(model, tracker=tracker, recorder=recorder, max_workers=max_workers)
        if structured != "auto" and structured not in STRUCTURED_MODES:
            raise ValueError(f"structured must be 'auto' or one of {STRUCTURED_MODES}, got {structured!r}")
        official = base_url is None
        base_url = check_base_url(base_url) if base_url is not None else None
        self.name = name or ("openai" if official else "openai-compatible")
        self.base_url = base_url
        self.api_key_env = api_key_env or (OPENAI_KEY_ENV if official else COMPATIBLE_KEY_ENV)
        key = os.environ.get(self.api_key_env)
        if not key:
            if official if require_key is None else require_key:
                raise LLMRequestError(f"{self.name} needs an API key in the environment variable {self.api_key_env}")
            key = NO_KEY
        if key != NO_KEY:  # the placeholder is no secret (and "not-needed" is a phrase replies may hold)
            register_secret(key)
        self.retry = retry or RetryPolicy()
        timeout = openai.Timeout(self.retry.timeout_s, connect=min(self.retry.connect_timeout_s, self.retry.timeout_s))
        self._client = openai.OpenAI(api_key=key, base_url=base_url, timeout=timeout, max_retries=0)
        self.url = str(self._client.base_url).rstrip("/")
        self._reachable = False
        self._reachable_lock = threading.Lock()
        self._ladder = list(STRUCTURED_MODES) if structured == "auto" else [structured]
        self._mode_index = 0
        # None: describe the schema in the prompt unless OpenAI itself enforces it (json_schema mode).
        self.schema_in_prompt_setting = schema_in_prompt
        self.schema_in_prompt = False  # the base class's rendering; _request_kwargs decides per mode
        self._official = official
        self.default_max_tokens = default_max_tokens
        self.extra_body = dict(extra_body or {})
        self._max_tokens_param = "max_completion_tokens" if official else "max_tokens"
        self._fixed_temperature = official and model.startswith(_FIXED_TEMPERATURE_PREFIXES)
        self._sleep = sleep

    def __repr__(self) -> str:
        return (
            f"OpenAIBackend(name={self.name!r}, model={self.model!r}, base_url={self.base_url!r}, "
            f"structured={self.structured!r}, key_from={self.api_key_env!r})"
        )

    def check_reachable(self) -> None:
        """Raise :class:`~sage_nb.llm.errors.LLMUnavailable` naming the URL when nothing answers there: the
        connection is refused, or accepted with no answer to ``GET /models`` within :data:`REACHABLE_TIMEOUT_S`.
        Any HTTP answer counts, an error status too. Checked once, before the first call; callers may check early
        (``sage-nb`` does, before loading and mining)."""
        if self._reachable:
            return
        with self._reachable_lock:
            if self._reachable:
                return
            seconds = min(REACHABLE_TIMEOUT_S, self.retry.timeout_s)
            timeout = openai.Timeout(seconds, connect=min(self.retry.connect_timeout_s, seconds))
            client = self._client.with_options(timeout=timeout, max_retries=0)

            def ask() -> None:
                try:
                    client.models.with_raw_response.list()
                except openai.APIStatusError:
                    pass  # an answer, if not a happy one

            reason = ""
            for attempt in range(1, REACHABLE_TRIES + 1):
                try:
                    ask()
                    break
                except openai.APITimeoutError:
                    raise LLMUnavailable(
                        f"the {self.name} server at {self.url} did not answer within {seconds:g} s (it is "
                        "unreachable, or accepts connections and never answers): restart it, or fix the URL in the "
                        "LLM spec"
                    ) from None
                except openai.APIConnectionError as err:
                    cause = err.__cause__ or err.__context__
                    reason = f"connection error ({type(cause).__name__ if cause else 'no detail'})"
                    if attempt < REACHABLE_TRIES:
                        self._sleep(0.5 * attempt)
                except openai.OpenAIError:
                    break  # something answered, in a way the client could not read: the calls will say more
            else:
                raise LLMUnavailable(
                    f"nothing answers at {self.url} ({reason}, {REACHABLE_TRIES} tries): start the {self.name} "
                    "server, or fix the URL in the LLM spec"
                )
            self._reachable = True

    def _execute(self, request: LLMRequest[Any]) -> Any:
        """The base class's call, once the server is known to answer, with notes while it waits; an
        :class:`~sage_nb.llm.errors.LLMUnavailable` names the URL."""
        self.check_reachable()
        with waiting_notes(f"the LLM at {self.url} ({self.model}, {request.role})"):
            try:
                return super()._execute(request)
            except LLMUnavailable as err:
                if self.url in str(err):
                    raise
                raise LLMUnavailable(f"{err} (server: {self.url})") from None

    @property
    def structured(self) -> str:
        """The structured-output mode now in use."""
        return self._ladder[self._mode_index]

    def _request_kwargs(self, messages: list[Message], request: LLMRequest[Any], mode: str) -> dict[str, Any]:
        describe = self.schema_in_prompt_setting
        if describe is None:
            describe = not (self._official and mode == "json_schema")
        if describe:
            messages = with_schema_instruction(messages, request.schema)
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages}
        if mode == "json_schema":
            kwargs["response_format"] = strict_response_format(request.schema)
        elif mode == "json_object_schema":  # llama.cpp's server: JSON mode constrained by a schema grammar
            kwargs["response_format"] = {"type": "json_object", "schema": grammar_schema(json_schema(request.schema))}
        elif mode == "json_object":
            kwargs["response_format"] = {"type": "json_object"}
        if request.temperature is not None and not self._fixed_temperature:
            kwargs["temperature"] = request.temperature
        if request.seed is not None:
            kwargs["seed"] = request.seed
        max_tokens = request.max_tokens if request.max_tokens is not None else self.default_max_tokens
        if max_tokens is not None:
            kwargs[self._max_tokens_param] = max_tokens
        if request.logprobs:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = request.logprobs
        if self.extra_body:
            kwargs["extra_body"] = self.extra_body
        return kwargs

    def _step_down(self, mode: str) -> bool:
        """Use the next structured-output mode after ``mode`` was rejected; False when none is left."""
        with self._lock:
            if self.structured != mode:  # another thread already stepped down
                return True
            if self._mode_index + 1 >= len(self._ladder):
                return False
            self._mode_index += 1
            return True

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        while True:
            mode = self.structured
            kwargs = self._request_kwargs(messages, request, mode)
            create = self._client.chat.completions.with_raw_response.create
            try:
                raw = call_with_retry(
                    lambda create=create, kwargs=kwargs: create(**kwargs),
                    self.retry,
                    _classify,
                    what=f"{self.name} call to {self.model}",
                    sleep=self._sleep,
                )
            except openai.APIStatusError as err:
                status, detail = err.status_code, redact(str(err))[:500]
                if mode != "none" and format_rejected(status, str(err)) and self._step_down(mode):
                    continue
                raise LLMRequestError(
                    f"{self.name} rejected the request to {self.model} (HTTP {status}): {detail}"
                ) from None
            except openai.OpenAIError as err:
                raise LLMRequestError(
                    f"{self.name} client error: {type(err).__name__}: {redact(str(err))[:500]}"
                ) from None
            reply = reply_from_body(raw.http_response.text, bool(request.logprobs))
            if self._fixed_temperature and request.temperature is not None:
                reply.notes.append(f"{self.model} accepts only its default temperature; temperature was not sent")
            if mode != self._ladder[0]:
                reply.notes.append(f"structured output mode: {mode}")
            return reply
