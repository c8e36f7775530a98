"""Explain many features with several worker processes writing into one results folder.

Each worker is a fresh process (the ``spawn`` start method, safe with CUDA and threads) that loads its own target
and agent LLM from a picklable :class:`BatchSpec` — the strings ``sage-nb explain`` takes, or picklable factories —
on its own device, then takes features one at a time from a shared queue. A feature goes to exactly one worker, so
no two processes ever write the same feature's folder.

Stopping and resuming: every run checkpoints after each step (:class:`~sage_nb.agent.results.RunFolder`), workers
ignore Ctrl-C (the parent stops them) and exit by themselves as soon as the parent process dies, even by
``kill -9``. Running the same batch again skips finished features and resumes interrupted ones from their
checkpoints, both only when their folder's settings are this batch's (see :mod:`sage_nb.agent.results`): a feature
whose folder holds a run made with other settings is ``refused`` (``BatchSpec(overwrite=True)`` replaces it). A
feature whose run raises, or ends without a working LLM, gets ``failure.json`` in its folder (the error and its
traceback, secrets redacted) and the batch goes on; the next run of the batch retries it.

>>> spec = BatchSpec(sae="planted", agent_llm="openai:gpt-4o-mini")  # doctest: +SKIP
>>> outcomes = run_batch(spec, "weekday,digit,month", "results", workers=2)  # doctest: +SKIP

A script that calls :func:`run_batch` must do so under ``if __name__ == "__main__":`` (spawned workers import the
main module), and factories in a spec must be importable (defined in a module, not in a notebook cell).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any, Literal

from sage_nb.agent.loop import AgentConfig
from sage_nb.agent.results import FAILURE_FILE, read_failure, write_failure
from sage_nb.agent.settings import SettingsMismatch
from sage_nb.llm.base import LLMBackend
from sage_nb.llm.errors import LLMError, redact

log = logging.getLogger(__name__)

__all__ = ["FAILURE_FILE", "BatchSpec", "FeatureOutcome", "Status", "read_failure", "run_batch", "write_failure"]

#: ``done``: explained by this batch; ``skipped``: finished before it with the same settings; ``failed``: its run
#: raised or ended without a working LLM (see :data:`FAILURE_FILE`); ``refused``: its folder holds a run made with
#: other settings; ``not run``: every worker had stopped before it was taken.
Status = Literal["done", "skipped", "failed", "refused", "not run"]

#: Seconds the parent waits for a report before checking whether its workers are still alive.
POLL_S = 0.2


@dataclass(frozen=True)
class BatchSpec:
    """What every worker loads. Picklable, because it crosses into fresh processes."""

    #: ``--sae_path``: a shipped SAE name, a SAELens directory, a ``sae-lens://`` or ``neuronpedia://`` spec, or
    #: ``"planted"`` (None: the shipped SAE).
    sae: str | None = None
    #: ``--target_llm``: the model (None: the one the SAE's metadata names).
    target_llm: str | None = None
    #: A :func:`~sage_nb.llm.make_llm` spec (``local``, ``openai:MODEL``, ``replay:PATH``, ...) or a picklable
    #: zero-argument factory returning an :class:`~sage_nb.llm.base.LLMBackend`.
    agent_llm: str | Callable[[], LLMBackend] = "local"
    config: AgentConfig = field(default_factory=AgentConfig)
    #: Contexts of the default corpus mined (once, cached on disk) for the exemplars.
    contexts: int = 2000
    #: A picklable ``(target, features) -> feature index`` used instead of mining the default corpus.
    exemplars: Callable[[Any, list[int]], Any] | None = None
    #: Replace a feature's run that was made with other settings (otherwise the feature is ``refused``).
    overwrite: bool = False


@dataclass(frozen=True)
class FeatureOutcome:
    """What a batch did with one feature."""

    feature: int
    status: Status
    folder: Path | None = None  # the feature's results folder (None for a feature no worker took)
    error: str | None = None  # the failure's one-line message
    worker: int | None = None  # the worker that ran it


@dataclass(frozen=True)
class _Report:
    """A message from a worker to the parent."""

    kind: Literal["ready", "setup_failed", "started", "done", "skipped", "failed", "refused"]
    worker: int
    feature: int | None = None
    folder: str | None = None
    error: str | None = None
    features: list[int] | None = None  # "ready": the batch's features, as the worker parsed them
    exception: BaseException | None = None  # "setup_failed": re-raised by the parent if no worker starts


def run_batch(
    spec: BatchSpec,
    features: str | Sequence[int | str],
    output_dir: str | Path,
    *,
    workers: int = 2,
    devices: Sequence[str] = ("cpu",),
    progress: bool = True,
) -> list[FeatureOutcome]:
    """Explain ``features`` into ``output_dir`` with ``workers`` processes; one outcome per feature, in order.

    ``features`` is what :func:`~sage_nb.agent.api.parse_features` takes (``"100,101"``, ``"layer8=100"``, planted
    names, or a list). Worker ``i`` runs on ``devices[i % len(devices)]`` (e.g. ``["cuda:0", "cuda:1"]``). A
    worker that cannot start (bad spec, unknown feature, model that does not load) leaves the features to the
    others; when none starts, the first worker's exception is raised here. Ctrl-C stops every worker and raises
    ``KeyboardInterrupt``; finished steps are kept.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if not devices:
        raise ValueError("devices is empty: give at least one device, e.g. ['cpu']")
    ctx = multiprocessing.get_context("spawn")
    exemplar_lock, tasks, reports = ctx.Lock(), ctx.Queue(), ctx.Queue()
    procs = [
        ctx.Process(
            target=_worker,
            args=(spec, features, str(output_dir), i, devices[i % len(devices)], exemplar_lock, tasks, reports),
            name=f"sage-nb-worker-{i}",
        )
        for i in range(workers)
    ]
    try:
        for proc in procs:
            proc.start()
        outcomes = _collect(procs, devices, tasks, reports, progress)
    except BaseException:
        tasks.cancel_join_thread()  # features nobody will take must not hold this process at exit
        _stop(procs, reports, grace_s=0)
        raise
    _stop(procs, reports, grace_s=60)
    return outcomes


# -- the parent ----------------------------------------------------------------------------------------------------
def _collect(
    procs: list[Any], devices: Sequence[str], tasks: Any, reports: Any, progress: bool
) -> list[FeatureOutcome]:
    """Hand out the features once a worker is ready, gather the reports, and notice workers that died."""
    order: list[int] | None = None
    outcomes: dict[int, FeatureOutcome] = {}
    in_flight: dict[int, tuple[int, str]] = {}  # worker -> (feature, folder)
    setup_errors: list[_Report] = []
    alive = set(range(len(procs)))
    bar = None
    try:
        while alive and (order is None or len(outcomes) < len(order)):
            dead = {i for i in alive if not procs[i].is_alive()}  # before draining: their reports are all sent
            for report in _drain(reports, block=not dead):
                if report.kind == "setup_failed":
                    setup_errors.append(report)
                elif report.kind == "ready":
                    if order is None:  # the first worker ready: every worker parses the features alike
                        order = list(report.features or [])
                        for feature in [*order, *[None] * len(procs)]:  # one None per worker ends it
                            tasks.put(feature)
                        if progress:
                            from tqdm.auto import tqdm

                            bar = tqdm(total=len(order), desc="features", unit="feature")
                elif report.kind == "started":
                    in_flight[report.worker] = (int(report.feature), str(report.folder))
                else:  # done, skipped, failed, refused
                    in_flight.pop(report.worker, None)
                    feature = int(report.feature)
                    outcomes[feature] = FeatureOutcome(
                        feature, report.kind, Path(str(report.folder)), report.error, report.worker
                    )
                    if bar is not None:
                        bar.update()
            if order is not None:  # the batch runs: say which workers could not join it
                for failed in setup_errors:
                    log.warning("worker %d (%s) could not start: %s", failed.worker,
                                _device(devices, failed.worker), failed.error)  # fmt: skip
                setup_errors.clear()
            for i in dead:
                alive.discard(i)
                if i in in_flight:  # it died inside a run (killed, out of memory, a crash in native code)
                    feature, folder = in_flight.pop(i)
                    message = (
                        f"worker {i} ({_device(devices, i)}) exited with code {procs[i].exitcode} while explaining "
                        f"feature {feature}; its last checkpoint is kept, so running the batch again resumes it"
                    )
                    write_failure(Path(folder), feature, message, worker=i, device=_device(devices, i))
                    outcomes[feature] = FeatureOutcome(feature, "failed", Path(folder), message, i)
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    if order is None:
        if setup_errors:
            first = setup_errors[0]
            raise first.exception or RuntimeError(first.error)
        codes = [p.exitcode for p in procs]
        raise RuntimeError(f"every batch worker exited before it could start (exit codes {codes})")
    return [outcomes.get(f, FeatureOutcome(f, "not run")) for f in order]


def _drain(reports: Any, block: bool) -> list[_Report]:
    """Every report waiting in the queue (waiting up to :data:`POLL_S` for the first one when ``block``)."""
    out = []
    try:
        out.append(reports.get(timeout=POLL_S) if block else reports.get_nowait())
        while True:
            out.append(reports.get_nowait())
    except queue.Empty:
        pass
    return out


def _stop(procs: list[Any], reports: Any, grace_s: float) -> None:
    """Wait up to ``grace_s`` for the workers to exit, then stop the rest (SIGTERM, then SIGKILL).

    Late reports are read meanwhile: a worker exits only once what it sent is in the pipe, which must not fill up.
    """
    started = [proc for proc in procs if proc.pid is not None]
    deadline = time.monotonic() + grace_s
    while any(proc.is_alive() for proc in started) and time.monotonic() < deadline:
        _drain(reports, block=True)
    for proc in started:
        if proc.is_alive():
            proc.terminate()
    for proc in started:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()


def _device(devices: Sequence[str], worker: int) -> str:
    return devices[worker % len(devices)]


# -- a worker ------------------------------------------------------------------------------------------------------
def _worker(
    spec: BatchSpec,
    features: str | Sequence[int | str],
    output_dir: str,
    worker: int,
    device: str,
    exemplar_lock: Any,
    tasks: Any,
    reports: Any,
) -> None:
    """Load the target, LLM and exemplars, then explain features from ``tasks`` until a ``None`` arrives."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent stops us
    _exit_with_parent()
    from sage_nb.agent.api import explain, feature_folder, finished_run
    from sage_nb.agent.settings import run_settings

    try:
        target, parsed, llm, index = _load(spec, features, device, exemplar_lock)
        settings = run_settings(target, llm, spec.config, index=index)
    except Exception as err:
        reports.put(_Report("setup_failed", worker, error=_message(err), exception=_picklable(err)))
        return
    reports.put(_Report("ready", worker, features=parsed))
    while (feature := tasks.get()) is not None:
        folder = feature_folder(output_dir, llm, target, feature, settings)
        try:
            folder.check(overwrite=spec.overwrite)
        except SettingsMismatch as err:
            reports.put(_Report("refused", worker, feature, str(folder.path), error=str(err)))
            continue
        if finished_run(folder) is not None:
            reports.put(_Report("skipped", worker, feature, str(folder.path)))
            continue
        reports.put(_Report("started", worker, feature, str(folder.path)))
        (folder.path / FAILURE_FILE).unlink(missing_ok=True)
        try:
            explain(target, feature, llm, index=index, output_dir=output_dir, config=spec.config,
                    overwrite=spec.overwrite)  # fmt: skip
        except Exception as err:
            outcome = "llm_unavailable" if isinstance(err, LLMError) else "error"
            message = write_failure(folder.path, feature, _message(err), outcome=outcome, worker=worker,
                                    device=device, traceback=traceback.format_exc())  # fmt: skip
            reports.put(_Report("failed", worker, feature, str(folder.path), error=message))
        else:
            reports.put(_Report("done", worker, feature, str(folder.path)))


def _load(
    spec: BatchSpec, features: str | Sequence[int | str], device: str, exemplar_lock: Any
) -> tuple[Any, list[int], LLMBackend, Any]:
    """A worker's target, parsed features, LLM and feature index."""
    from sage_nb.agent.api import parse_features
    from sage_nb.specs import load_explain_target, make_agent_llm, mine_exemplars, stored_exemplars

    target = load_explain_target(spec.sae, spec.target_llm, device)
    parsed = parse_features(features, target)
    llm = spec.agent_llm() if callable(spec.agent_llm) else make_agent_llm(spec.agent_llm, None, device)
    with exemplar_lock:  # the first worker builds the (disk-cached) exemplars; the others then read them
        if spec.exemplars is not None:
            index = spec.exemplars(target, parsed)
        else:
            index = stored_exemplars(target, parsed)
            if index is None:
                index = mine_exemplars(target, spec.contexts, progress=False)
    return target, parsed, llm, index


def _exit_with_parent() -> None:
    """Exit this worker as soon as the parent process is gone, so a killed batch leaves no run going on."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _message(err: BaseException) -> str:
    return redact(f"{type(err).__name__}: {err}")


def _picklable(err: BaseException) -> BaseException:
    """``err`` if it survives pickling (so the parent can re-raise it as it is), else a RuntimeError saying it."""
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        return RuntimeError(_message(err))
    return err
