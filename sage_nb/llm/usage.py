"""Token and cost accounting per call, role, feature and run; the single price table of the LLM layer."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from sage_nb.llm.base import LLMResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more calls. ``cached_tokens`` is the part of ``prompt_tokens`` served from a prompt cache."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens. ``cached_input`` defaults to ``input`` when a provider has no cache discount."""

    input: float
    output: float
    cached_input: float | None = None

    def cost(self, usage: Usage) -> float:
        cached = min(usage.cached_tokens, usage.prompt_tokens)
        cached_rate = self.input if self.cached_input is None else self.cached_input
        return (
            (usage.prompt_tokens - cached) * self.input + cached * cached_rate + usage.completion_tokens * self.output
        ) / 1e6


#: Default prices (USD per 1M tokens, OpenAI list prices for standard processing, checked 2025-08). Override them
#: with ``UsageTracker(prices={...})`` or ``make_llm(..., prices={...})``; a model name matches its longest listed
#: prefix, so dated snapshots ("gpt-4o-2024-08-06") use their family's price. "local" is the embedded model.
DEFAULT_PRICES: dict[str, Price] = {
    "gpt-4o": Price(2.50, 10.00, 1.25),
    "gpt-4o-mini": Price(0.15, 0.60, 0.075),
    "gpt-4.1": Price(2.00, 8.00, 0.50),
    "gpt-4.1-mini": Price(0.40, 1.60, 0.10),
    "gpt-4.1-nano": Price(0.10, 0.40, 0.025),
    "gpt-5": Price(1.25, 10.00, 0.125),
    "gpt-5-mini": Price(0.25, 2.00, 0.025),
    "gpt-5-nano": Price(0.05, 0.40, 0.005),
    "local": Price(0.0, 0.0, 0.0),
}

#: Backends whose calls cost nothing whatever the model name.
FREE_BACKENDS = frozenset({"local", "llamacpp"})


def find_price(model: str, prices: Mapping[str, Price]) -> Price | None:
    """The price of ``model``: an exact entry, else the longest entry that is a prefix followed by ``-``."""
    if model in prices:
        return prices[model]
    best = None
    for name in prices:
        if model.startswith(name + "-") and (best is None or len(name) > len(best)):
            best = name
    return prices[best] if best is not None else None


@dataclass(frozen=True)
class CallRecord:
    """One call as the tracker stores it (one row of :meth:`UsageTracker.to_frame`)."""

    role: str
    feature: str | None
    backend: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_usd: float | None
    ok: bool
    replayed: bool
    turns: int
    latency_s: float
    time: float


@dataclass
class UsageSummary:
    """Totals over a group of calls. ``cost_usd`` sums the calls whose price is known; see ``unpriced_calls``."""

    calls: int = 0
    failed_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    unpriced_models: list[str] = field(default_factory=list)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, record: CallRecord) -> None:
        self.calls += 1
        self.failed_calls += 0 if record.ok else 1
        self.prompt_tokens += record.prompt_tokens
        self.completion_tokens += record.completion_tokens
        self.cached_tokens += record.cached_tokens
        if record.cost_usd is None:
            self.unpriced_calls += 1
            if record.model not in self.unpriced_models:
                self.unpriced_models.append(record.model)
        else:
            self.cost_usd += record.cost_usd

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "total_tokens": self.total_tokens}


def _summarise(records: Iterable[CallRecord]) -> UsageSummary:
    summary = UsageSummary()
    for record in records:
        summary.add(record)
    return summary


class UsageTracker:
    """Collects one :class:`CallRecord` per call (thread-safe) and sums them per role, feature and run.

    Replayed calls keep their recorded tokens but cost nothing (nothing was spent); models without a price get
    ``cost_usd=None`` and are listed in the summaries' ``unpriced_models``.
    """

    def __init__(self, prices: Mapping[str, Price] | None = None, run_id: str | None = None) -> None:
        self.prices: dict[str, Price] = {**DEFAULT_PRICES, **(prices or {})}
        self.run_id = run_id
        self._records: list[CallRecord] = []
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def cost(self, backend: str, model: str, usage: Usage) -> float | None:
        """Cost of ``usage`` on ``model`` served by ``backend`` (None when the model has no price)."""
        if backend in FREE_BACKENDS:
            return 0.0
        price = find_price(model, self.prices)
        if price is None:
            if model not in self._warned:
                self._warned.add(model)
                log.info("No price for model %r; its calls are counted without cost", model)
            return None
        return price.cost(usage)

    def add(self, result: LLMResult[Any]) -> CallRecord:
        """Record one finished call and return its record (the cost is also set on ``result.cost_usd``)."""
        base_backend = result.backend.removeprefix("replay:")
        cost = 0.0 if result.replayed else self.cost(base_backend, result.model, result.usage)
        record = CallRecord(
            role=result.role,
            feature=result.feature,
            backend=result.backend,
            model=result.model,
            prompt_tokens=result.usage.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            cached_tokens=result.usage.cached_tokens,
            cost_usd=cost,
            ok=result.ok,
            replayed=result.replayed,
            turns=result.turns,
            latency_s=result.latency_s,
            time=time.time(),
        )
        with self._lock:
            self._records.append(record)
        result.cost_usd = cost
        return record

    @property
    def records(self) -> list[CallRecord]:
        with self._lock:
            return list(self._records)

    def total(self) -> UsageSummary:
        """Totals of the run."""
        return _summarise(self.records)

    def by_role(self) -> dict[str, UsageSummary]:
        return self._group(lambda r: r.role)

    def by_feature(self) -> dict[str, UsageSummary]:
        """Totals per feature; calls without a feature are under ``"(none)"``."""
        return self._group(lambda r: "(none)" if r.feature is None else str(r.feature))

    def _group(self, key) -> dict[str, UsageSummary]:
        groups: dict[str, UsageSummary] = {}
        for record in self.records:
            groups.setdefault(key(record), UsageSummary()).add(record)
        return groups

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run": self.total().to_dict(),
            "per_role": {k: v.to_dict() for k, v in self.by_role().items()},
            "per_feature": {k: v.to_dict() for k, v in self.by_feature().items()},
            "prices_usd_per_mtok": {k: asdict(v) for k, v in sorted(self.prices.items())},
            "calls": [asdict(r) for r in self.records],
        }

    def to_json(self, path: str | Path) -> Path:
        """Write the totals, groups, prices and calls to ``path`` (conventionally ``token_usage.json``)."""
        path = Path(path)
        if path.is_dir():
            path = path / "token_usage.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    def to_frame(self) -> pd.DataFrame:
        """One row per call (the fields of :class:`CallRecord`)."""
        import pandas as pd

        columns = list(CallRecord.__dataclass_fields__)
        return pd.DataFrame([asdict(r) for r in self.records], columns=columns)
