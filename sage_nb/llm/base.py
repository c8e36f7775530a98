"""The backend interface and the records every backend returns.

A call is ``backend.complete(messages, Schema, role=..., feature=...)``. The backend renders the conversation,
asks its model for one reply (a *turn*), parses and validates it with :func:`~sage_nb.llm.parsing.parse_reply`, and
on a validation failure (when the backend allows repairs) sends one more turn that shows the error. The outcome is
an :class:`LLMResult`: ``ok=True`` with ``parsed`` set, or ``ok=False`` with the raw text and the error. Only an
unreachable service (:class:`~sage_nb.llm.errors.LLMUnavailable`) or a rejected request raises.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from sage_nb.llm.embedded import ModelSize, model_size
from sage_nb.llm.errors import LLMRequestError, LLMUnavailable
from sage_nb.llm.parsing import Parsed, json_schema, parse_reply, repair_message, schema_instruction
from sage_nb.llm.usage import Usage, UsageTracker

T = TypeVar("T", bound=BaseModel)
Message = dict[str, str]


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token, its log-probability and the ``top`` alternatives at its position (best first)."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "logprob": self.logprob, "top": [list(t) for t in self.top]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenLogprob:
        return cls(str(data["token"]), float(data["logprob"]), tuple((str(t), float(lp)) for t, lp in data["top"]))


def logprobs_from_choice(choice: Mapping[str, Any]) -> list[TokenLogprob] | None:
    """The token logprobs of an OpenAI-style chat completion choice (``choice["logprobs"]["content"]``), or None."""
    block = choice.get("logprobs")
    if not isinstance(block, Mapping) or not isinstance(block.get("content"), list):
        return None
    out = []
    for item in block["content"]:
        top = tuple((str(t["token"]), float(t["logprob"])) for t in item.get("top_logprobs") or [])
        out.append(TokenLogprob(str(item["token"]), float(item["logprob"]), top))
    return out


def clean_text(text: str) -> str:
    """``text`` with characters UTF-8 cannot encode (lone surrogates from hostile JSON) replaced by ``?``."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def normalise_messages(messages: str | Sequence[Mapping[str, str]]) -> list[Message]:
    """Accept a plain string (one user turn) or role/content mappings; return a fresh list of plain dicts."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    out = []
    for m in messages:
        if "role" not in m or "content" not in m:
            raise ValueError(f"each message needs 'role' and 'content', got keys {sorted(m)}")
        out.append({"role": str(m["role"]), "content": clean_text(str(m["content"]))})
    if not out:
        raise ValueError("messages is empty")
    return out


class ForcedReading(BaseModel):
    """The reply of a forced reading: how many points were read (the readings are the result's ``logprobs``)."""

    readings: int


@dataclass(frozen=True)
class LLMRequest(Generic[T]):
    """Everything that defines one call. ``role`` and ``feature`` are accounting tags, not part of :meth:`key`.

    ``messages`` may be given as a plain string (one user turn) or role/content mappings; it is stored normalised.
    ``forced``: the assistant's reply is given, in segments, instead of generated (a *forced reading*, with
    ``schema=ForcedReading``); the result's ``logprobs`` hold one entry per segment, whose ``top`` are the
    ``logprobs`` most likely next tokens at the segment's end. Only backends with ``reads_forced`` answer it.
    """

    messages: list[Message]
    schema: type[T]
    role: str
    feature: str | None = None
    temperature: float | None = None
    seed: int | None = None
    max_tokens: int | None = None
    logprobs: int | None = None
    forced: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", normalise_messages(self.messages))
        if self.forced is not None:
            if not self.forced or self.schema is not ForcedReading:
                raise ValueError("a forced reading needs at least one segment and schema=ForcedReading")
            object.__setattr__(self, "forced", tuple(str(s) for s in self.forced))

    def key(self) -> str:
        """Stable hash of the request's content (messages, schema, sampling parameters): the replay key."""
        payload = {
            "messages": self.messages,
            "schema_name": self.schema.__name__,
            "schema": json_schema(self.schema),
            "temperature": self.temperature,
            "seed": self.seed,
            "max_tokens": self.max_tokens,
            "logprobs": self.logprobs,
        }
        if self.forced is not None:  # absent otherwise, so generating requests keep their keys
            payload["forced"] = list(self.forced)
        text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
        return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Reply:
    """What one turn of a backend produced, before parsing."""

    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    notes: list[str] = field(default_factory=list)
    generation_s: float | None = None
    #: Set when the transport itself returned garbage (e.g. an HTTP body that is not a chat completion).
    malformed: str | None = None


@dataclass
class LLMResult(Generic[T]):
    """The outcome of one call: a validated object (``ok=True``) or a recorded failure with the raw text.

    ``error_kind`` is one of ``empty``, ``not_json``, ``invalid``, ``truncated`` (ran out of ``max_tokens``),
    ``malformed_response`` (the server's answer was not a chat completion) or ``unavailable`` (only from
    :meth:`LLMBackend.complete_many` with ``raise_unavailable=False``).
    """

    ok: bool
    parsed: T | None
    raw_text: str
    role: str
    feature: str | None
    backend: str
    model: str
    request_key: str
    usage: Usage = field(default_factory=Usage)
    error: str | None = None
    error_kind: str | None = None
    finish_reason: str | None = None
    logprobs: list[TokenLogprob] | None = None
    turns: int = 1
    raw_turns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    replayed: bool = False
    latency_s: float = 0.0
    generation_s: float | None = None
    cost_usd: float | None = None

    def unwrap(self) -> T:
        """The parsed object; raises ValueError (with the recorded error) when the call failed."""
        if not self.ok or self.parsed is None:
            raise ValueError(f"LLM call ({self.role}) failed: {self.error_kind}: {self.error}")
        return self.parsed


def with_schema_instruction(messages: list[Message], schema: type[BaseModel]) -> list[Message]:
    """Append the JSON-schema instruction to the system message (or add a system message)."""
    instruction = schema_instruction(schema)
    if messages and messages[0]["role"] == "system":
        first = {"role": "system", "content": f"{messages[0]['content']}\n\n{instruction}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": instruction}, *messages]


class LLMBackend(ABC):
    """A chat model that answers with validated structured objects.

    Subclasses implement :meth:`_turn` (one model reply for a rendered conversation). This class adds the schema
    instruction, parsing, the repair turn, accounting, recording and the thread pool of :meth:`complete_many`.
    """

    #: Backend family ("local", "openai", "openai-compatible", "replay:<original>").
    name: str = "base"
    #: Repair turns after a reply that fails validation (the issue asks for one).
    repair_turns: int = 1
    #: Whether the schema is also described in the prompt (needed unless the server enforces it).
    schema_in_prompt: bool = True
    #: Size class of the model when known ("small" / "capable"); None: looked up by model name.
    size: ModelSize | None = None
    #: Whether the backend answers forced readings (``LLMRequest.forced``: logprobs along a given reply).
    reads_forced: bool = False

    def __init__(
        self,
        model: str,
        *,
        tracker: UsageTracker | None = None,
        recorder: Any | None = None,
        max_workers: int = 4,
    ) -> None:
        self.model = model
        self.tracker = tracker if tracker is not None else UsageTracker()
        self.recorder = recorder
        self.max_workers = max_workers
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r})"

    # ----- roles -----

    def backend_for(self, role: str) -> LLMBackend:
        """The backend that answers ``role``'s calls (itself; a :class:`~sage_nb.llm.roles.RoleRouter` differs)."""
        return self

    def size_for(self, role: str) -> ModelSize | None:
        """The size class of the model answering ``role`` ("small", "capable"), or None when it is not an embedded
        model. The agent gives a small model more help (see :class:`~sage_nb.agent.loop.AgentConfig`)."""
        backend = self.backend_for(role)
        return backend.size or model_size(backend.model)

    def identity(self) -> dict[str, str]:
        """Backend and model per role, for a run's identity; one entry ``"*"`` when every role uses this backend."""
        return {"*": f"{self.name}:{self.model}"}

    # ----- public API -----

    def complete(
        self,
        messages: str | Sequence[Mapping[str, str]],
        schema: type[T],
        *,
        role: str,
        feature: str | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        max_tokens: int | None = None,
        logprobs: int | None = None,
    ) -> LLMResult[T]:
        """Ask for one reply that validates as ``schema``; tag it with ``role`` and ``feature`` for accounting.

        ``logprobs=k`` asks for the top-``k`` alternatives at each generated position (``result.logprobs``;
        None with a note when the backend cannot provide them). ``temperature``/``seed``/``max_tokens`` left at
        None use the backend's defaults. Bad replies give ``ok=False``; raises only
        :class:`~sage_nb.llm.errors.LLMUnavailable`, :class:`~sage_nb.llm.errors.LLMRequestError` or, when
        replaying, :class:`~sage_nb.llm.errors.ReplayMissing`.
        """
        request = LLMRequest(
            messages=messages,  # type: ignore[arg-type]  # normalised by LLMRequest
            schema=schema,
            role=role,
            feature=feature,
            temperature=temperature,
            seed=seed,
            max_tokens=max_tokens,
            logprobs=logprobs,
        )
        return self.run(request)

    def run(self, request: LLMRequest[T]) -> LLMResult[T]:
        """Execute a prepared :class:`LLMRequest` (what :meth:`complete` builds)."""
        start = time.perf_counter()
        result = self._execute(request)
        result.latency_s = time.perf_counter() - start
        self._account(request, result)
        return result

    def complete_many(
        self,
        requests: Sequence[LLMRequest[Any]],
        *,
        max_workers: int | None = None,
        raise_unavailable: bool = True,
    ) -> list[LLMResult[Any]]:
        """Run several requests concurrently; results come back in the order of ``requests``.

        With ``raise_unavailable=False`` a request whose service stayed unavailable becomes an ``ok=False`` result
        with ``error_kind="unavailable"`` instead of raising after the others finished.
        """
        requests = list(requests)
        workers = max(1, min(max_workers or self.max_workers, len(requests) or 1))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"llm-{self.name}") as pool:
            futures = [pool.submit(self.run, r) for r in requests]
            outcomes: list[LLMResult[Any] | BaseException] = []
            for f in futures:
                try:
                    outcomes.append(f.result())
                except LLMUnavailable as err:
                    outcomes.append(err)
        return self._settle(requests, outcomes, raise_unavailable)

    # ----- for subclasses -----

    @abstractmethod
    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:
        """Produce one model reply for the rendered ``messages``."""

    def _render(self, request: LLMRequest[Any]) -> list[Message]:
        if self.schema_in_prompt:
            return with_schema_instruction(request.messages, request.schema)
        return list(request.messages)

    def _execute(self, request: LLMRequest[T]) -> LLMResult[T]:
        if request.forced is not None and not self.reads_forced:
            raise LLMRequestError(
                f"{self.name}:{self.model} cannot read logprobs along a given reply (a forced reading): use the "
                "llama.cpp engine (make_llm('llamacpp:...') or 'local-capable'), or "
                "SimulationScorer(mode='all_at_once')"
            )
        messages = request.messages if request.forced is not None else self._render(request)
        replies: list[Reply] = []
        notes: list[str] = []
        while True:
            reply = self._turn(messages, request)
            replies.append(reply)
            parsed = self._parse(reply, request)
            if parsed.ok or len(replies) > self.repair_turns or reply.malformed is not None:
                parsed.notes = notes + parsed.notes
                return self._result(request, replies, parsed)
            notes.append(f"repair turn after: {parsed.error}")
            messages = [
                *messages,
                {"role": "assistant", "content": reply.text},
                {"role": "user", "content": repair_message(parsed.error or "invalid reply")},
            ]

    @staticmethod
    def _parse(reply: Reply, request: LLMRequest[T]) -> Parsed[T]:
        if reply.malformed is not None:
            return Parsed(error=reply.malformed, error_kind="malformed_response")
        parsed = parse_reply(reply.text, request.schema)
        if not parsed.ok and reply.finish_reason == "length":
            parsed.error = f"reply cut off at max_tokens ({parsed.error})"
            parsed.error_kind = "truncated"
        return parsed

    def _result(self, request: LLMRequest[T], replies: list[Reply], parsed: Parsed[T]) -> LLMResult[T]:
        last = replies[-1]
        usage = Usage()
        for r in replies:
            usage = usage + r.usage
        gen = [r.generation_s for r in replies if r.generation_s is not None]
        notes = [n for r in replies for n in r.notes] + parsed.notes
        return LLMResult(
            ok=parsed.ok,
            parsed=parsed.value,
            raw_text=last.text,
            role=request.role,
            feature=request.feature,
            backend=self.name,
            model=self.model,
            request_key=request.key(),
            usage=usage,
            error=parsed.error,
            error_kind=parsed.error_kind,
            finish_reason=last.finish_reason,
            logprobs=last.logprobs,
            turns=len(replies),
            raw_turns=[r.text for r in replies],
            notes=notes,
            generation_s=sum(gen) if gen else None,
        )

    def _account(self, request: LLMRequest[Any], result: LLMResult[Any]) -> None:
        self.tracker.add(result)
        if self.recorder is not None:
            self.recorder.write(request, result)

    def _settle(
        self,
        requests: list[LLMRequest[Any]],
        outcomes: list[LLMResult[Any] | BaseException],
        raise_unavailable: bool,
    ) -> list[LLMResult[Any]]:
        results: list[LLMResult[Any]] = []
        for request, outcome in zip(requests, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                if raise_unavailable:
                    raise outcome
                results.append(
                    LLMResult(
                        ok=False,
                        parsed=None,
                        raw_text="",
                        role=request.role,
                        feature=request.feature,
                        backend=self.name,
                        model=self.model,
                        request_key=request.key(),
                        error=str(outcome),
                        error_kind="unavailable",
                        turns=0,
                    )
                )
            else:
                results.append(outcome)
        return results
