"""The results folder of a run, laid out as the original SAGE code lays it out, plus a resumable checkpoint.

``{output_dir}/{agent_llm}/{target_llm}/layer_{L}/feature_{F}/`` (``/`` and ``:`` in model names become ``_``) holds
``structured_results.json``, ``description.txt``, ``evidence.txt``, ``labels.txt``, ``token_usage.json``,
``log.json``, ``state.json`` (the checkpoint, written atomically after every step) and ``settings.json``.

**Identity rule.** The folder path is the original SAGE layout and does not name the SAE, the agent's settings or the
exemplars; ``settings.json`` does (:class:`~sage_nb.agent.settings.RunSettings`: target model, hook and SAE, the
exemplars' corpus and contexts, every ``AgentConfig`` field, the backend and model of each role, and their
fingerprint; ``structured_results.json`` repeats it under ``meta``). Before a folder's run is returned, resumed or
skipped, its settings are compared with the current ones; a difference raises
:class:`~sage_nb.agent.settings.SettingsMismatch` naming both, and ``overwrite=True`` (``--overwrite``) replaces that
run, or another ``output_dir`` keeps both. So runs of two SAEs of one model and layer need two output folders or
``--overwrite``. A folder written before settings were recorded is checked on the labels its results hold and
reused with a warning.

**Outcomes.** A run that ended with no working LLM — it made calls and none succeeded, each failing because the
service was unreachable or answered with something that is not a chat completion — is a *failure*, not a result: no
result file is written, the checkpoint is dropped, ``failure.json`` says why, and the next run starts the feature
again. Every other finished run is a result whose ``outcome`` (:data:`Outcome`) says how it ended, also when the LLM
answered but badly (``no_valid_hypotheses``).

``structured_results.json`` also carries the original SAGE fields its evaluation script reads: ``analysis_history``
(one line per turn, then ``[DESCRIPTION]: …\\n\\n[EVIDENCE]: …\\n\\n[LABEL 1]: …\\n[LABEL 2]: …``), ``feature_id``,
``layer``, ``duration_seconds``, ``test_results``, and ``text`` and ``confidence`` in each hypothesis (beside our
``claim`` and ``status``: ``accepted``, ``refuted``, ``inconclusive`` or ``open``). Files are written with the
process's usual file mode (0644 under the common umask 022).
"""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from sage_nb.agent.records import Hypothesis, RunState
from sage_nb.agent.settings import RunSettings, SettingsMismatch
from sage_nb.core.io import write_json, write_text
from sage_nb.llm.errors import redact

STATE_FILE = "state.json"
SETTINGS_FILE = "settings.json"
#: Written into a feature's folder when its run failed; removed when the feature is tried again.
FAILURE_FILE = "failure.json"
RESULT_FILES = (
    "structured_results.json",
    "description.txt",
    "evidence.txt",
    "labels.txt",
    "token_usage.json",
    "log.json",
)

#: How a run ended. ``llm_unavailable`` is a failure (``failure.json``), never a result.
Outcome = Literal["explained", "never_fired", "no_valid_hypotheses", "no_explanation", "llm_unavailable"]
#: ``error_kind`` values of calls that never reached a working LLM (see :class:`~sage_nb.llm.base.LLMResult`).
NO_LLM_ERRORS = frozenset({"unavailable", "malformed_response"})
#: Labels longer than this are cut at a word for ``labels.txt`` (the schema's own bound).
MAX_LABEL_CHARS = 60


def safe_name(name: str) -> str:
    """A model name as a folder name: ``/`` and ``:`` become ``_``."""
    return name.replace("/", "_").replace(":", "_").strip() or "unnamed"


def run_dir(output_dir: str | Path, agent_llm: str, target_llm: str, layer: int | str, feature: int) -> Path:
    """The folder of one feature's run (the original SAGE layout)."""
    return Path(output_dir) / safe_name(agent_llm) / safe_name(target_llm) / f"layer_{layer}" / f"feature_{feature}"


def _read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


# -- outcomes ------------------------------------------------------------------------------------------------------
def llm_failure(state: RunState) -> str | None:
    """Why ``state`` ended without a working LLM (see the module docstring), or None when an LLM answered."""
    if state.llm_calls == 0 or state.failures < state.llm_calls:
        return None
    errors = [t.error for t in state.turns if not t.ok and t.error]
    if not errors or any(e.partition(":")[0].strip() not in NO_LLM_ERRORS for e in errors):
        return None
    return f"none of its {state.llm_calls} LLM calls got an answer; the first: {errors[0]}"


def run_outcome(state: RunState) -> Outcome:
    """How a finished run ended (see :data:`Outcome`)."""
    if llm_failure(state) is not None:
        return "llm_unavailable"
    if state.explanation is not None:
        return "explained"
    if not state.hypotheses:
        if all(t.role == "exemplars" for t in state.turns):
            return "never_fired"
        return "no_valid_hypotheses"
    return "no_explanation"


def result_labels(state: RunState) -> list[str]:
    """The labels of a run's explanation as ``labels.txt`` holds them, one short phrase each.

    When the synthesis failed and the explanation lists the accepted hypotheses, each label is the hypothesis's
    tokens (or its claim cut short), not the whole claim the description already holds.
    """
    expl = state.explanation
    if expl is None:
        return []
    if expl.source == "hypotheses":
        return [_short_label(h) for h in state.hypotheses if h.status == "accepted"][:3]
    return [_cut(" ".join(label.split())) for label in expl.labels if label.strip()]


def _short_label(h: Hypothesis) -> str:
    tokens = [t.strip() for t in h.tokens if t.strip()]
    return _cut(", ".join(dict.fromkeys(tokens))[:200] if tokens else h.claim)


def _cut(text: str, limit: int = MAX_LABEL_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# -- the folder ----------------------------------------------------------------------------------------------------
class RunFolder:
    """One feature's results folder: checkpoint after each step, SAGE-compatible files at the end.

    ``settings`` (a :class:`~sage_nb.agent.settings.RunSettings`) is the identity of the run that writes here;
    :meth:`prepare` checks it against what the folder holds.
    """

    def __init__(
        self, path: str | Path, meta: dict[str, Any] | None = None, settings: RunSettings | None = None
    ) -> None:
        self.path = Path(path)
        self.meta = dict(meta or {})
        self.settings = settings

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
        return RunState.from_dict(_read_json(self.state_path))

    # -- identity ----------------------------------------------------------------------------------------------
    def stored_settings(self) -> RunSettings | None:
        """The settings of the run this folder holds (None when it holds none, or none were recorded)."""
        path = self.path / SETTINGS_FILE
        if path.exists():
            return RunSettings.from_dict(_read_json(path))
        return None

    def holds_a_run(self) -> bool:
        """Whether a checkpoint or a finished run is here."""
        return self.state_path.exists() or self.finished

    def check(self, overwrite: bool = False) -> None:
        """Raise :class:`~sage_nb.agent.settings.SettingsMismatch` when this folder holds a run made with settings
        other than :attr:`settings`; with ``overwrite`` delete that run instead."""
        if self.settings is None or not self.holds_a_run():
            return
        differences = self._differences()
        if not differences:
            return
        if overwrite:
            self.clear()
            return
        raise SettingsMismatch(
            f"{self.path} holds a run made with other settings ({'; '.join(differences)}): pass overwrite=True "
            "(--overwrite) to replace it, or choose another output_dir (--output_dir)"
        )

    def _differences(self) -> list[str]:
        assert self.settings is not None
        stored = self.stored_settings()
        if stored is not None:
            if stored.fingerprint == self.settings.fingerprint:
                return []
            return self.settings.differences(stored)
        legacy = self._legacy_meta()
        mine = {"agent_llm": self.meta.get("agent_llm"), "target_llm": self.meta.get("target_llm"),
                "sae": self.meta.get("sae"), "hook": self.meta.get("hook")}  # fmt: skip
        differ = [f"{k}: {legacy[k]!r} -> {v!r}" for k, v in mine.items() if k in legacy and legacy[k] != v]
        if not differ:
            warnings.warn(
                f"{self.path} holds a run from before settings were recorded; it is reused as this run's "
                "(overwrite=True / --overwrite starts it again)",
                stacklevel=4,
            )
        return differ

    def _legacy_meta(self) -> dict[str, Any]:
        path = self.path / "structured_results.json"
        if not path.exists():
            return {}
        meta = _read_json(path).get("meta")
        return meta if isinstance(meta, dict) else {}

    def prepare(self, overwrite: bool = False) -> None:
        """Make the folder ready for this run: stale temporary files gone, settings checked (see :meth:`check`) and
        recorded, an earlier failure record removed (call only as the folder's one writer)."""
        self.remove_stale()
        self.check(overwrite=overwrite)
        if self.settings is not None:
            stored = self.stored_settings()
            if stored is None or stored.to_dict() != self.settings.to_dict():
                write_json(self.path / SETTINGS_FILE, self.settings.to_dict())
        (self.path / FAILURE_FILE).unlink(missing_ok=True)

    def clear(self) -> None:
        """Delete the run this folder holds (checkpoint, results, settings, failure record)."""
        for name in (STATE_FILE, SETTINGS_FILE, FAILURE_FILE, *RESULT_FILES):
            (self.path / name).unlink(missing_ok=True)

    def remove_stale(self) -> None:
        """Delete temporary files a killed writer left behind (call only as the folder's one writer).

        The files they were meant to replace are whole, because every write is a rename.
        """
        for stale in self.path.glob(".*.tmp"):
            stale.unlink(missing_ok=True)

    # -- writing -----------------------------------------------------------------------------------------------
    def save(self, state: RunState) -> None:
        """Checkpoint ``state`` and the turn log; once the run is done write its results, or, when it ended
        with no working LLM, its failure record (and drop the checkpoint so that the next run starts again)."""
        write_json(self.state_path, state.to_dict())
        write_json(self.path / "log.json", log_entries(state))
        if not state.done:
            return
        failure = llm_failure(state)
        if failure is not None:
            self.write_failure(state.feature, failure, outcome="llm_unavailable")
            self.state_path.unlink(missing_ok=True)
            return
        self.write_results(state)

    def write_results(self, state: RunState) -> None:
        """``structured_results.json``, the text files and ``token_usage.json`` of a finished run."""
        meta = {**self.meta, "settings": self.settings.to_dict()} if self.settings is not None else self.meta
        write_json(self.path / "structured_results.json", structured_results(state, meta))
        expl = state.explanation
        write_text(self.path / "description.txt", (expl.description if expl else "") + "\n")
        write_text(self.path / "labels.txt", "".join(f"{label}\n" for label in result_labels(state)))
        write_text(self.path / "evidence.txt", (expl.evidence_text() if expl else state.stop_reason or "") + "\n")
        write_json(self.path / "token_usage.json", token_usage(state))

    def write_failure(self, feature: int, message: str, **context: Any) -> str:
        """Write :data:`FAILURE_FILE` (secrets redacted) and return the redacted message."""
        return write_failure(self.path, feature, message, **context)

    def read_failure(self) -> dict[str, Any] | None:
        return read_failure(self.path)


def write_failure(folder: Path, feature: int, message: str, **context: Any) -> str:
    """Write :data:`FAILURE_FILE` into ``folder`` (secrets redacted) and return the redacted message."""
    message = redact(message)
    record = {"feature": feature, "error": message, **context, "time": time.time()}
    if "traceback" in record:
        record["traceback"] = redact(str(record["traceback"]))
    write_json(Path(folder) / FAILURE_FILE, record)
    return message


def read_failure(folder: str | Path) -> dict[str, Any] | None:
    """The failure record in a feature's folder (``error``, ``outcome``, ``traceback``, ...), or None."""
    path = Path(folder) / FAILURE_FILE
    return _read_json(path) if path.exists() else None


# -- the files' content --------------------------------------------------------------------------------------------
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


def final_analysis(state: RunState) -> str | None:
    """The explanation in the original SAGE form, one field per block (None without an explanation)::

    [DESCRIPTION]: ...

    [EVIDENCE]: ...

    [LABEL 1]: ...
    [LABEL 2]: ...
    """
    expl = state.explanation
    if expl is None:
        return None
    description = " ".join(expl.description.split())
    evidence = expl.evidence_text().strip() or "no measured test"
    labels = "\n".join(f"[LABEL {i}]: {label}" for i, label in enumerate(result_labels(state), 1))
    return f"[DESCRIPTION]: {description}\n\n[EVIDENCE]: {evidence}\n\n{labels or '[LABEL 1]: ' + _cut(description)}"


def analysis_history(state: RunState) -> list[str]:
    """One entry per turn (role, hypothesis, what was decided, what was measured), then :func:`final_analysis`."""
    out = []
    for t in state.turns:
        head = f"{t.role.upper()}{' ' + t.hypothesis if t.hypothesis else ''} (turn {t.index}): {t.decision}"
        lines = [head] + [
            f"- {m.text!r}: max {m.max_act:.4g} ({m.level}; expected {m.expect or '-'})" for m in t.measurements
        ]
        if t.error:
            lines.append(f"error: {t.error}")
        out.append("\n".join(lines))
    final = final_analysis(state)
    if final is not None:
        out.append(final)
    return out


def measured_tests(state: RunState) -> list[dict[str, Any]]:
    """Every measured test in the original SAGE form: ``id``, ``hypothesis_id``, ``prompt``, ``result``,
    ``activation``."""
    out = []
    for h in state.hypotheses:
        for t in h.tests:
            result = {"ok": "CONFIRMED", "miss": "REFUTED"}.get(t.verdict or "", "INCONCLUSIVE")
            out.append({"id": len(out) + 1, "hypothesis_id": h.id, "prompt": t.text, "result": result,
                        "activation": t.max_act, "expected": t.expect, "level": t.level})  # fmt: skip
    return out


def structured_results(state: RunState, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Hypotheses with statuses and measured tests, the explanation, rounds, timings and usage, and the original
    SAGE fields (see the module docstring)."""
    data = state.to_dict()
    expl = data.pop("explanation")
    wall = (state.finished or state.started) - state.started if state.started else 0.0
    hypotheses = []
    for h, raw in zip(state.hypotheses, data["hypotheses"], strict=True):
        agreement = h.agreement
        hypotheses.append({**raw, "text": h.claim, "confidence": round(agreement, 4) if agreement is not None else 0.0})
    meta = dict(meta or {})
    return {
        "meta": meta,
        "feature": state.feature,
        "feature_id": state.feature,
        "layer": meta.get("layer"),
        "outcome": run_outcome(state),
        "final_state": state.phase,
        "stop_reason": state.stop_reason,
        "explanation": expl,
        "labels": result_labels(state),
        "hypotheses": hypotheses,
        "test_results": measured_tests(state),
        "analysis_history": analysis_history(state),
        "rounds": {
            "review_rounds": state.review_rounds,
            "design_rounds": {h.id: h.rounds for h in state.hypotheses},
            "turns": len(state.turns),
        },
        "duration_seconds": round(wall, 3),
        "timings": {"wall_s": round(wall, 3), "generation_s": state.generation_s, "by_phase": state.seconds},
        "token_usage": token_usage(state),
        "notes": state.notes,
    }
