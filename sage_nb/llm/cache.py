"""A backend wrapper that answers repeated requests from a JSONL cache and records new successful calls.

``CachedBackend(make_llm("local"), "cache.jsonl")`` behaves like the wrapped backend, except that a request whose
key (messages, schema, sampling parameters) is already in the file, answered by the same model, is answered from it at
no cost (marked ``replayed``); another model's answer to the same request is never returned. Only successful calls
are cached, so a failed call is retried next time. The file has the format of
:class:`~sage_nb.llm.replay.CallRecorder`, so it also works with ``make_llm("replay:PATH")``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sage_nb.llm.base import LLMBackend, LLMRequest, LLMResult, Message, Reply
from sage_nb.llm.replay import CallRecorder, load_records, result_from_record


class CachedBackend(LLMBackend):
    """``inner`` with a persistent cache of successful calls at ``path``."""

    def __init__(self, inner: LLMBackend, path: str | Path) -> None:
        super().__init__(inner.model, tracker=inner.tracker, max_workers=inner.max_workers)
        self.inner = inner
        self.name = inner.name
        self.path = Path(path)
        self._records: dict[tuple[str, str], dict[str, Any]] = {}  # (request key, model) -> record
        if self.path.exists():
            for record in load_records(self.path):
                if record["reply"]["ok"]:
                    self._records.setdefault((record["key"], record.get("model")), record)
        self._writer = CallRecorder(self.path)
        self.hits = 0
        self.misses = 0

    def __repr__(self) -> str:
        return f"CachedBackend({self.inner!r}, path={str(self.path)!r}, cached={len(self._records)})"

    def _turn(self, messages: list[Message], request: LLMRequest[Any]) -> Reply:  # pragma: no cover - unused
        raise NotImplementedError("CachedBackend delegates whole calls to its inner backend")

    def _hit(self, request: LLMRequest[Any]) -> LLMResult[Any] | None:
        with self._lock:
            record = self._records.get((request.key(), self.inner.backend_for(request.role).model))
        if record is None:  # never asked, or asked of another model only: ask this one
            return None
        result = result_from_record(record, request, self.name)
        if not result.ok:  # recorded under an older schema: ask again
            return None
        self.tracker.add(result)
        with self._lock:
            self.hits += 1
        return result

    def _store(self, request: LLMRequest[Any], result: LLMResult[Any]) -> None:
        with self._lock:
            self.misses += 1
        if result.ok:
            line = self._writer.write(request, result)
            with self._lock:
                self._records[(result.request_key, result.model)] = line

    def run(self, request: LLMRequest[Any]) -> LLMResult[Any]:
        hit = self._hit(request)
        if hit is not None:
            return hit
        result = self.inner.run(request)
        self._store(request, result)
        return result

    def complete_many(
        self,
        requests: Sequence[LLMRequest[Any]],
        *,
        max_workers: int | None = None,
        raise_unavailable: bool = True,
    ) -> list[LLMResult[Any]]:
        """Cached requests are answered from the file; the rest go to the inner backend in batches of
        :meth:`chunk_size`, each written to the file as soon as it returns, so an interrupted call of many requests
        keeps the answers it already had."""
        requests = list(requests)
        results: list[LLMResult[Any] | None] = [self._hit(r) for r in requests]
        todo = [i for i, r in enumerate(results) if r is None]
        size = self.chunk_size(max_workers)
        for start in range(0, len(todo), size):
            chunk = todo[start : start + size]
            fresh = self.inner.complete_many(
                [requests[i] for i in chunk], max_workers=max_workers, raise_unavailable=raise_unavailable
            )
            for i, result in zip(chunk, fresh, strict=True):
                self._store(requests[i], result)
                results[i] = result
        return [r for r in results if r is not None]

    def chunk_size(self, max_workers: int | None = None) -> int:
        """Requests sent to the inner backend at once: as many as it batches or runs in parallel, at least one."""
        return max(1, getattr(self.inner, "batch_size", 1) or 1, max_workers or self.inner.max_workers or 1)
