"""The results folder of a run, laid out as the original SAGE code lays it out, plus a resumable checkpoint.

``{output_dir}/{agent_llm}/{target_llm}/layer_{L}/feature_{F}/`` (``/`` in model names becomes ``_``) holds
``structured_results.json``, ``description.txt``, ``evidence.txt``, ``labels.txt``, ``token_usage.json``,
``log.json`` and ``state.json`` (the checkpoint, written atomically after every step).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sage_nb.agent.records import RunState

STATE_FILE = "state.json"
RESULT_FILES = (
    "structured_results.json",
    "description.txt",
    "evidence.txt",
    "labels.txt",
    "token_usage.json",
    "log.json",
)


def safe_name(name: str) -> str:
    """A model name as a folder name: ``/`` and ``:`` become ``_``."""
    return name.replace("/", "_").replace(":", "_").strip() or "unnamed"


def run_dir(output_dir: str | Path, agent_llm: str, target_llm: str, layer: int | str, feature: int) -> Path:
    """The folder of one feature's run (the original SAGE layout)."""
    return Path(output_dir) / safe_name(agent_llm) / safe_name(target_llm) / f"layer_{layer}" / f"feature_{feature}"


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a temporary file renamed over ``path``), so a kill never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


class RunFolder:
    """One feature's results folder: checkpoint after each step, SAGE-compatible files at the end."""

    def __init__(self, path: str | Path, meta: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.meta = dict(meta or {})

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @property
    def state_path(self) -> Path:
        return self.path / STATE_FILE

    @property
    def finished(self) -> bool:
        """Whether a finished run's results are here."""
        return (self.path / "structured_results.json").exists()

    def load(self) -> RunState | None:
        """The checkpointed state, or None when there is none."""
        if not self.state_path.exists():
            return None
        with self.state_path.open(encoding="utf-8") as f:
            return RunState.from_dict(json.load(f))

    def remove_stale(self) -> None:
        """Delete temporary files a killed writer left behind (call only as the folder's one writer).

        The files they were meant to replace are whole, because every write is a rename.
        """
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    def save(self, state: RunState) -> None:
        """Checkpoint ``state`` and the turn log; write the result files once the run is done."""
        write_json(self.state_path, state.to_dict())
        write_json(self.path / "log.json", log_entries(state))
        if state.done:
            self.write_results(state)

    def write_results(self, state: RunState) -> None:
        """``structured_results.json``, the text files and ``token_usage.json`` of a finished run."""
        write_json(self.path / "structured_results.json", structured_results(state, self.meta))
        expl = state.explanation
        _write_text(self.path / "description.txt", (expl.description if expl else "") + "\n")
        _write_text(self.path / "labels.txt", "\n".join(expl.labels if expl else []) + "\n")
        _write_text(self.path / "evidence.txt", (expl.evidence_text() if expl else state.stop_reason or "") + "\n")
        write_json(self.path / "token_usage.json", token_usage(state))


def log_entries(state: RunState) -> list[dict[str, Any]]:
    """Every turn: role, request, structured reply, decision and measurements (the ``log.json`` content)."""
    entries = []
    for t in state.turns:
        entries.append(
            {
                "turn": t.index,
                "role": t.role,
                "hypothesis": t.hypothesis,
                "request": t.prompt,
                "reply": t.reply,
                "ok": t.ok,
                "error": t.error,
                "decision": t.decision,
                "measurements": [
                    {
                        "text": m.text,
                        "expect": m.expect,
                        "max_act": m.max_act,
                        "fraction": m.fraction,
                        "level": m.level,
                        "verdict": m.verdict,
                        "peak": m.peak_token,
                    }
                    for m in t.measurements
                ],  # fmt: skip
                "effects": [asdict(e) for e in t.effects],
                "board": t.board,
                "tokens": t.tokens,
                "seconds": t.seconds,
            }
        )
    return entries


def token_usage(state: RunState) -> dict[str, Any]:
    """Calls and tokens of this feature's run, in total and per role."""
    prompt = sum(r["prompt_tokens"] for r in state.usage.values())
    completion = sum(r["completion_tokens"] for r in state.usage.values())
    return {
        "feature": state.feature,
        "llm_calls": state.llm_calls,
        "failed_calls": state.failures,
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "by_role": state.usage,
    }


def structured_results(state: RunState, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hypotheses with statuses and measured tests, the explanation, rounds, timings and usage."""
    data = state.to_dict()
    expl = data.pop("explanation")
    wall = (state.finished or state.started) - state.started if state.started else 0.0
    return {
        "meta": dict(meta or {}),
        "feature": state.feature,
        "final_state": state.phase,
        "stop_reason": state.stop_reason,
        "explanation": expl,
        "hypotheses": data["hypotheses"],
        "rounds": {
            "review_rounds": state.review_rounds,
            "design_rounds": {h.id: h.rounds for h in state.hypotheses},
            "turns": len(state.turns),
        },
        "timings": {"wall_s": round(wall, 3), "generation_s": state.generation_s, "by_phase": state.seconds},
        "token_usage": token_usage(state),
        "notes": state.notes,
    }
