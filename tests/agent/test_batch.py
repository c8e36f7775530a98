"""``run_batch``: SAGE runs fanned out over spawned worker processes into one results folder.

Workers load the planted target and a scripted LLM from a picklable spec (:mod:`batch_workers`). Each batch starts
fresh Python processes, so a test here takes the time of a few imports of torch and transformers (marked slow).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest
from batch_workers import misbehave, planted_spec
from test_cli_explain import run_cli

from sage_nb import cli
from sage_nb.agent import AgentConfig, load_run
from sage_nb.agent.batch import FAILURE_FILE, read_failure, run_batch
from sage_nb.agent.results import RunFolder
from sage_nb.cli import run_summary

HERE = Path(__file__).parent
#: weekday, month, digit, python_keyword; in the fixture's batches comment (6) raises and closing_bracket (4),
#: last, kills its worker.
FEATURES = "weekday,month,digit,python_keyword,comment,closing_bracket"
FAILING = 6
CRASHING = 4
#: Fields of structured_results.json that hold wall-clock times, which no two runs share.
TIMING = ("timings", "duration_seconds")


@pytest.fixture(scope="module")
def batches(tmp_path_factory):
    """The same batch with one worker and with two: {workers: (output_dir, outcomes)}."""
    spec = planted_spec(partial(misbehave, fail=FAILING, crash=CRASHING))
    out = {}
    for workers in (1, 2):
        path = tmp_path_factory.mktemp(f"workers{workers}")
        out[workers] = path, run_batch(spec, FEATURES, path, workers=workers, progress=False)
    return out


def finished_results(folder: Path) -> dict:
    results = json.loads((folder / "structured_results.json").read_text())
    return {k: v for k, v in results.items() if k not in TIMING}


def untimed_turns(folder: Path) -> list:
    return [replace(t, seconds=0.0) for t in load_run(folder).turns]


@pytest.mark.slow
def test_two_workers_finish_the_same_results_as_one(batches):
    one_dir, one = batches[1]
    two_dir, two = batches[2]
    assert [o.feature for o in one] == [o.feature for o in two] == [0, 1, 2, 3, FAILING, CRASHING]
    assert [o.status for o in one] == [o.status for o in two] == ["done"] * 4 + ["failed"] * 2
    assert {o.worker for o in one} == {0}
    for a, b in zip(one[:4], two[:4], strict=True):
        assert a.folder.relative_to(one_dir) == b.folder.relative_to(two_dir)
        assert finished_results(a.folder) == finished_results(b.folder)
        assert untimed_turns(a.folder) == untimed_turns(b.folder)
        assert (a.folder / "labels.txt").read_text() == (b.folder / "labels.txt").read_text() != "\n"
    # one folder per feature, all in the one results tree
    assert len({o.folder for o in two}) == len(two) and all(o.folder.parent == two[0].folder.parent for o in two)


@pytest.mark.slow
def test_a_failing_feature_is_recorded_and_the_others_finish(batches):
    for _, outcomes in batches.values():
        failed = outcomes[-2]
        assert failed.status == "failed" and failed.error == f"RuntimeError: the scripted LLM refuses feature {FAILING}"
        record = read_failure(failed.folder)
        assert record["feature"] == FAILING and record["error"] == failed.error
        assert "misbehave" in record["traceback"] and record["device"] == "cpu"
        assert not (failed.folder / "structured_results.json").exists()
        for done in outcomes[:4]:
            assert (done.folder / "structured_results.json").exists() and read_failure(done.folder) is None


@pytest.mark.slow
def test_a_worker_that_dies_mid_run_is_recorded_by_the_batch(batches):
    for _, outcomes in batches.values():
        crashed = outcomes[-1]
        assert crashed.status == "failed" and crashed.feature == CRASHING
        assert f"exited with code 9 while explaining feature {CRASHING}" in crashed.error
        assert read_failure(crashed.folder)["error"] == crashed.error
        assert not (crashed.folder / "structured_results.json").exists()


@pytest.mark.slow
def test_a_setup_error_is_raised_in_the_caller(tmp_path):
    with pytest.raises(KeyError, match="weekdy"):
        run_batch(planted_spec(), "weekday,weekdy", tmp_path, workers=1, progress=False)
    assert not any(tmp_path.iterdir())


CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from functools import partial
    from batch_workers import misbehave, planted_spec
    from sage_nb.agent.batch import run_batch

    if __name__ == "__main__":
        spec = planted_spec(partial(misbehave, fail={failing}), delay=0.25)
        run_batch(spec, {features!r}, {out!r}, workers=2, progress=False)
    """
)


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid``."""
    found = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            found.append(int(status.parent.name))
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_kill_9_of_the_batch_then_a_rerun_finishes_without_redoing(tmp_path):
    features = "comment,weekday,month,digit,python_keyword"  # the failing feature first: it fails at once
    code = CHILD.format(here=str(HERE), failing=FAILING, features=features, out=str(tmp_path))
    batch = subprocess.Popen([sys.executable, "-c", code], env=os.environ | {"PYTHONUNBUFFERED": "1"})
    deadline = time.time() + 240
    try:
        while time.time() < deadline:
            finished = list(tmp_path.rglob("structured_results.json"))
            states = [load_run(p) for p in tmp_path.rglob("state.json")]
            midway = [s for s in states if not s.done and len(s.turns) >= 2]
            if finished and midway and list(tmp_path.rglob(FAILURE_FILE)):
                break
            assert batch.poll() is None, "the batch finished or crashed before it could be killed"
            time.sleep(0.05)
        workers = children(batch.pid)
        os.kill(batch.pid, signal.SIGKILL)
    finally:
        batch.wait(timeout=30)
    assert batch.returncode == -signal.SIGKILL and workers
    deadline = time.time() + 30
    while any(running(pid) for pid in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(running(pid) for pid in workers), "a worker outlived the killed batch"

    finished = {
        p.parent: {f.name: f.stat().st_mtime_ns for f in p.parent.iterdir()}
        for p in tmp_path.rglob("structured_results.json")
    }
    interrupted = {p.parent: load_run(p) for p in tmp_path.rglob("state.json") if p.parent not in finished}
    assert finished and any(not s.done for s in interrupted.values())

    outcomes = run_batch(planted_spec(), features, tmp_path, workers=2, progress=False)
    by_folder = {o.folder: o for o in outcomes}
    assert all(o.status in ("done", "skipped") for o in outcomes)
    for folder, stamps in finished.items():
        assert by_folder[folder].status == "skipped"
        assert {f.name: f.stat().st_mtime_ns for f in folder.iterdir()} == stamps  # not redone
    for folder, before in interrupted.items():
        after = load_run(folder)
        assert by_folder[folder].status == "done" and after.done
        assert after.turns[: len(before.turns)] == before.turns  # resumed from its checkpoint
        assert not (folder / FAILURE_FILE).exists()  # the failed feature was retried and finished
        assert not list(folder.glob(".*.tmp"))


@pytest.mark.slow
def test_cli_workers_runs_the_batch_and_prints_each_feature(batches, monkeypatch):
    """``sage-nb explain --workers 2``: the options reach run_batch; finished features print as in-process runs do,
    and a failed one is a line on stderr and exit status 1."""
    from sage_nb.agent import batch

    out_dir, outcomes = batches[2]
    calls = []
    monkeypatch.setattr(batch, "run_batch", lambda *args, **kwargs: calls.append((args, kwargs)) or outcomes)
    monkeypatch.setattr(cli, "check_device", lambda device: device)  # as if the two GPUs were there
    code, out, err = run_cli(
        "explain", "--sae_path", "planted", "--features", FEATURES, "--agent_llm", "replay:calls.jsonl",
        "--output_dir", str(out_dir), "--workers", "2", "--devices", "cuda:0, cuda:1", "--max_rounds", "3",
    )  # fmt: skip
    assert code == 1
    (spec, features, output_dir), kwargs = calls[0]
    assert (spec.sae, spec.agent_llm, spec.config.bounds.rounds_per_hypothesis) == ("planted", "replay:calls.jsonl", 3)
    assert (features, output_dir) == (FEATURES, str(out_dir))
    assert kwargs == {"workers": 2, "devices": ["cuda:0", "cuda:1"]}
    expected = [run_summary(RunFolder(o.folder).load(), RunFolder(o.folder)) for o in outcomes[:4]]
    assert [json.loads(line) for line in out.splitlines()] == expected
    assert err.splitlines() == [
        f"sage-nb explain: feature {o.feature} failed: {o.error} (recorded in {o.folder})" for o in outcomes[4:]
    ]


@pytest.mark.slow
def test_a_batch_with_other_settings_refuses_finished_features(batches):
    from dataclasses import replace as replace_spec

    out_dir, outcomes = batches[1]
    before = {o.feature: (o.folder / "structured_results.json").read_bytes() for o in outcomes if o.status == "done"}
    spec = replace_spec(planted_spec(), config=AgentConfig(use_evidence=False))
    again = run_batch(spec, FEATURES, out_dir, workers=1, progress=False)
    refused = {o.feature: o for o in again if o.status == "refused"}
    assert set(before) <= set(refused)
    assert all("agent.use_evidence: true -> false" in o.error and "--overwrite" in o.error for o in refused.values())
    assert {f: (refused[f].folder / "structured_results.json").read_bytes() for f in before} == before


def test_cli_record_needs_a_single_worker(tmp_path):
    code, _, err = run_cli("explain", "--sae_path", "planted", "--features", "0", "--workers", "2",
                           "--record", str(tmp_path / "calls.jsonl"), "--output_dir", str(tmp_path))  # fmt: skip
    assert code == 2 and "--record writes one file from one process" in err
    assert not any(tmp_path.iterdir())
