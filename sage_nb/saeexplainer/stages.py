"""A run's output folder as a sequence of resumable stages, and atomic writers for its tables.

A stage writes its files, then :class:`StageStore` records it (name, seconds, summary) in ``stages.json``, written
atomically. Only recorded stages count as finished: a run that was killed mid-stage redoes that stage (its partial
files are overwritten) and skips every recorded one. The run's config is stored once; resuming with a different
config raises instead of mixing two runs in one folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sage_nb.core.io import write_json
from sage_nb.saeexplainer.config import CONFIG_FILE, STAGES_FILE


class ConfigMismatch(ValueError):
    """The output folder holds a run with another config."""


class StageStore:
    """The finished stages of one output folder (see the module docstring).

    >>> store = StageStore("run", config.to_dict())  # doctest: +SKIP
    >>> summary = store.run("split", lambda: {"train": 16})  # computed once, then read back
    """

    def __init__(self, root: str | Path, config: dict[str, Any]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        saved = self.root / CONFIG_FILE
        if saved.exists():
            old = json.loads(saved.read_text(encoding="utf-8"))
            diff = sorted(k for k in set(old) | set(config) if old.get(k) != config.get(k))
            if diff:
                raise ConfigMismatch(
                    f"{self.root} holds a run with another config (fields {diff}); use a new output folder"
                )
        else:
            write_json(saved, config)
        path = self.root / STAGES_FILE
        self.records: dict[str, dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        self.ran: list[str] = []
        self.skipped: list[str] = []

    def finished(self, name: str) -> bool:
        return name in self.records

    def folder(self, name: str) -> Path:
        """The folder of stage ``name`` (created; ``dpo1/pairs`` -> ``ROOT/dpo1``)."""
        path = self.root / name.split("/")[0] if "/" in name else self.root / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def run(self, name: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        """The summary of stage ``name``: read back when recorded, else computed by ``compute`` and recorded."""
        if name in self.records:
            self.skipped.append(name)
            return self.records[name]["summary"]
        start = time.perf_counter()
        summary = compute()
        self.records[name] = {
            "seconds": round(time.perf_counter() - start, 2),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "summary": summary,
        }
        write_json(self.root / STAGES_FILE, self.records)
        self.ran.append(name)
        return summary

    def seconds(self) -> float:
        """Seconds spent in all recorded stages (over every invocation that contributed to this folder)."""
        return float(sum(r["seconds"] for r in self.records.values()))


def write_table(path: str | Path, rows: Sequence[Any], columns: Sequence[str] | None = None) -> Path:
    """Write records (dataclasses or dicts) to a parquet file atomically; ``columns`` fixes an empty table's schema."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = [asdict(r) if is_dataclass(r) else dict(r) for r in rows]
    frame = pd.DataFrame(data, columns=list(columns) if columns is not None and not data else None)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_table(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a parquet table as plain dicts (numpy scalars and arrays turned into Python values)."""
    import pandas as pd

    frame = pd.read_parquet(path)
    return json.loads(frame.to_json(orient="records"))


__all__ = ["ConfigMismatch", "StageStore", "read_table", "write_table"]
