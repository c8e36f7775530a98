"""Record every call of a run to JSONL, and replay such a file deterministically.

One line per call: the request (messages, schema, sampling parameters, tags), the reply (final raw text, all turns,
error, logprobs) and its usage, keyed by :meth:`LLMRequest.key`. The replay backend answers a request with the
recorded reply of the same key, re-validated by the caller's schema, and marks it ``replayed=True`` with the backend
name ``replay:<original>``. The n-th identical request gets the n-th recording of that key (the last one once they
run out); a request with no recording raises :class:`~sage_nb.llm.errors.ReplayMissing`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, Message, Reply, TokenLogprob
from sage_nb.llm.embedded import ModelSize, model_size
from sage_nb.llm.errors import ReplayMissing, redact
from sage_nb.llm.parsing import Parsed, json_schema, parse_reply
from sage_nb.llm.usage import Usage, UsageTracker

RECORD_VERSION = 1


class CallRecorder:
    """Appends one JSON line per finished call to ``path`` (thread-safe; the file is flushed after each line)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"CallRecorder({str(self.path)!r})"

    def write(self, request: LLMRequest[Any], result: LLMResult[Any]) -> dict[str, Any]:
        """Append the call's record (secrets redacted) and return it."""
        line = record_line(request, result)
        text = redact(json.dumps(line, ensure_ascii=True)) + "\n"
        with self._lock, self.path.open("a", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
        return line


def record_line(request: LLMRequest[Any], result: LLMResult[Any]) -> dict[str, Any]:
    """One call as a JSON-serialisable record: request, reply, usage and timing, keyed by the request."""
    return {
        "v": RECORD_VERSION,
        "key": result.request_key,
        "time": time.time(),
        "backend": result.backend,
        "model": result.model,
        "role": request.role,
        "feature": request.feature,
        "request": {
            "messages": request.messages,
            "schema_name": request.schema.__name__,
            "schema": json_schema(request.schema),
            "temperature": request.temperature,
            "seed": request.seed,
            "max_tokens": request.max_tokens,
            "logprobs": request.logprobs,
            **({"forced": list(request.forced)} if request.forced is not None else {}),
        },
        "reply": {
            "ok": result.ok,
            "raw_text": result.raw_text,
            "raw_turns": result.raw_turns,
            "error": result.error,
            "error_kind": result.error_kind,
            "finish_reason": result.finish_reason,
            "notes": result.notes,
            "logprobs": None if result.logprobs is None else [t.to_dict() for t in result.logprobs],
        },
        "usage": {
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "cached_tokens": result.usage.cached_tokens,
        },
        "turns": result.turns,
        "latency_s": result.latency_s,
        "generation_s": result.generation_s,
        "cost_usd": result.cost_usd,
    }


def load_records(path: str | Path) -> list[dict[str, Any]]:
    """Read a recording; raises ValueError naming the line that is not a record."""
    records = []
    with Path(path).open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                record["key"], record["reply"], record["usage"]  # noqa: B018 - check the fields exist
            except (ValueError, KeyError, TypeError) as err:
                raise ValueError(f"{path}:{number} is not a call record ({type(err).__name__})") from None
            records.append(record)
    return records


class ReplayBackend(LLMBackend):
    """Answers from a recording made with ``make_llm(..., record=path)``; never calls a model."""

    repair_turns = 0
    schema_in_prompt = False

    def __init__(self, path: str | Path, *, tracker: UsageTracker | None = None, max_workers: int = 4) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"replay file {self.path} does not exist")
        records = load_records(self.path)
        self._by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for record in records:
            self._by_key[record["key"]].append(record)
        self._used: dict[str, int] = defaultdict(int)
        originals = sorted({r["backend"] for r in records}) or ["unknown"]
        models = sorted({r["model"] for r in records}) or ["unknown"]
        self.original_backend = originals[0] if len(originals) == 1 else "+".join(originals)
        super().__init__(models[0] if len(models) == 1 else "+".join(models), tracker=tracker, max_workers=max_workers)
        self.name = f"replay:{self.original_backend}"
        #: The recorded backend and model of each role (a per-role run records several).
        self.recorded_roles: dict[str, tuple[str, str]] = {}
        for record in records:
            self.recorded_roles.setdefault(str(record.get("role")), (record["backend"], record["model"]))

    def size_for(self, role: str) -> ModelSize | None:
        """The size class of the model that answered ``role`` in the recording (so a replay runs as the original)."""
        backend, model = self.recorded_roles.get(role, (self.original_backend, self.model))
        return model_size(model)

    def identity(self) -> dict[str, str]:
        roles = {role: f"{self.name}:{model}" for role, (_, model) in sorted(self.recorded_roles.items())}
        return roles if len(set(roles.values())) > 1 else {"*": f"{self.name}:{self.model}"}

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_key.values())

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:  # pragma: no cover - unused
        raise NotImplementedError("ReplayBackend answers whole calls, not turns")

    def _lookup(self, request: LLMRequest[Any]) -> dict[str, Any]:
        key = request.key()
        with self._lock:
            found = self._by_key.get(key)
            if not found:
                raise ReplayMissing(
                    f"{self.path} has no recorded call for this request (role={request.role!r}, "
                    f"feature={request.feature!r}, schema={request.schema.__name__}, key={key}); the messages, "
                    "schema or sampling parameters differ from the recorded run"
                )
            index = min(self._used[key], len(found) - 1)
            self._used[key] += 1
            return found[index]

    def _execute(self, request: LLMRequest[Any]) -> LLMResult[Any]:
        return result_from_record(self._lookup(request), request, self.name)


def result_from_record(record: dict[str, Any], request: LLMRequest[Any], backend: str) -> LLMResult[Any]:
    """The result a recorded call stands for, re-validated with ``request``'s schema and marked ``replayed``."""
    reply = record["reply"]
    usage = Usage(**record["usage"])
    raw = reply["raw_text"]
    notes = list(reply.get("notes") or [])
    if reply["ok"]:
        parsed = parse_reply(raw, request.schema)
        if not parsed.ok:
            notes.append("the recorded reply no longer validates with the current schema")
    else:
        parsed = Parsed(error=reply["error"], error_kind=reply["error_kind"])
    logprobs = reply.get("logprobs")
    return LLMResult(
        ok=parsed.ok,
        parsed=parsed.value,
        raw_text=raw,
        role=request.role,
        feature=request.feature,
        backend=backend,
        model=record["model"],
        request_key=record["key"],
        usage=usage,
        error=parsed.error,
        error_kind=parsed.error_kind,
        finish_reason=reply.get("finish_reason"),
        logprobs=None if logprobs is None else [TokenLogprob.from_dict(t) for t in logprobs],
        turns=int(record.get("turns", 1)),
        raw_turns=list(reply.get("raw_turns") or [raw]),
        notes=notes,
        replayed=True,
        generation_s=record.get("generation_s"),
    )
