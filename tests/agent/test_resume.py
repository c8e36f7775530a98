"""A run killed with SIGKILL resumes from its checkpoint; a recorded run replays to the same result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from scripted import ScriptedLLM, truthful

from sage_nb.agent import explain
from sage_nb.agent.api import feature_folder
from sage_nb.llm import make_llm
from sage_nb.llm.replay import CallRecorder

CHILD = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {here!r})
    from scripted import ScriptedLLM, planted_feature_data, truthful
    from sage_nb.agent import explain
    from sage_nb.targets.planted import load_planted_target

    planted = load_planted_target()
    index, _ = planted_feature_data(planted)
    explain(planted, 0, ScriptedLLM(truthful, delay=0.4), index=index, output_dir={out!r})
    """
)


def test_kill_9_mid_run_then_resume(planted, weekday, tmp_path):
    index, _ = weekday
    code = CHILD.format(here=str(Path(__file__).parent), out=str(tmp_path))
    child = subprocess.Popen([sys.executable, "-c", code], env=os.environ | {"PYTHONUNBUFFERED": "1"})
    folder = feature_folder(tmp_path, ScriptedLLM(truthful), planted, 0)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            state = folder.load() if folder.state_path.exists() else None
            if state is not None and len(state.turns) >= 3:
                break
            assert child.poll() is None, "the child finished or crashed before it could be killed"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    before = folder.load()
    assert not before.done and len(before.turns) >= 3
    assert not folder.finished

    llm = ScriptedLLM(truthful)
    after = explain(planted, 0, llm, index=index, output_dir=tmp_path)
    assert after.done and after.turns[: len(before.turns)] == before.turns
    assert "explainer" not in llm.calls  # finished steps are not redone
    assert folder.finished and after.explanation.labels == ["weekday names"]
    assert not list(folder.path.glob(".*.tmp"))


def test_a_recorded_run_replays_to_the_same_result(planted, weekday, tmp_path):
    index, _ = weekday
    record = tmp_path / "calls.jsonl"
    live = ScriptedLLM(truthful)
    live.recorder = CallRecorder(record)
    original = explain(planted, 0, live, index=index)
    replay = make_llm(f"replay:{record}")
    again = explain(planted, 0, replay, index=index)
    assert again.explanation.description == original.explanation.description
    assert [h.status for h in again.hypotheses] == [h.status for h in original.hypotheses]
    assert [t.reply for t in again.turns] == [t.reply for t in original.turns]
