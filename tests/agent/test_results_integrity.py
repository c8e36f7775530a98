"""A results folder is reused only by a run with the same settings; a run without a working LLM is a failure; the
results also read as the original SAGE format."""

from __future__ import annotations

import json
import re
import stat
import warnings

import numpy as np
import pytest
from scripted import ScriptedLLM, truthful, with_role

from sage_nb.agent import AgentConfig, Bounds, explain, explain_features
from sage_nb.agent.api import feature_folder
from sage_nb.agent.results import FAILURE_FILE, SETTINGS_FILE, read_failure, run_outcome
from sage_nb.agent.settings import ROLES, SettingsMismatch, roles_of, run_settings
from sage_nb.core.io import FILE_MODE
from sage_nb.llm import LLMUnavailable, make_llm
from sage_nb.llm.base import Reply
from sage_nb.llm.replay import CallRecorder
from sage_nb.targets.planted import PlantedTarget

#: The original SAGE evaluation script's patterns (Python re, DOTALL).
DESCRIPTION = re.compile(r"\[DESCRIPTION\]:\s*(.*?)(?:\n\n\[EVIDENCE\]:|$)", re.DOTALL)
EVIDENCE = re.compile(r"\[EVIDENCE\]:\s*(.*?)(?:\n\n\[LABEL)", re.DOTALL)
LABELS = re.compile(r"\[LABEL\s+(\d+)\]:\s*(.*?)(?=\n\[LABEL\s+\d+\]:|$)", re.DOTALL)


class Broken(ScriptedLLM):
    """A server that answers every call with something that is not a chat completion."""

    def _turn(self, messages, request):
        self.calls.append(request.role)
        return Reply(text="<html>502</html>", malformed="the server's answer is not a chat completion")


def test_a_run_with_other_agent_settings_is_refused_and_overwrite_replaces_it(planted, weekday, tmp_path):
    index, _ = weekday
    first = explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    llm = ScriptedLLM(truthful)
    other = AgentConfig(use_evidence=False, bounds=Bounds(review_rounds=0))
    with pytest.raises(SettingsMismatch) as err:
        explain(planted, 0, llm, index=index, output_dir=tmp_path, config=other)
    message = str(err.value)
    assert "agent.use_evidence: true -> false" in message and "agent.bounds.review_rounds: 1 -> 0" in message
    assert "overwrite=True" in message and "--output_dir" in message and "\n" not in message
    with pytest.raises(SettingsMismatch):
        explain_features(planted, [0], llm, index=index, output_dir=tmp_path, config=other, progress=False)
    assert llm.calls == []  # refused before any call

    again = explain(planted, 0, llm, index=index, output_dir=tmp_path, config=other, overwrite=True)
    assert again.done and llm.calls and again.started != first.started
    stored = json.loads((feature_folder(tmp_path, llm, planted, 0).path / SETTINGS_FILE).read_text())
    assert stored["agent"]["use_evidence"] is False
    # the same settings again: the finished run is returned as it is
    calls = len(llm.calls)
    assert explain(planted, 0, llm, index=index, output_dir=tmp_path, config=other).started == again.started
    assert len(llm.calls) == calls


def test_a_run_of_another_target_is_refused(planted, weekday, tmp_path):
    index, _ = weekday
    explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    fewer = PlantedTarget(planted.tokenizer, planted.features[:6], model_name=planted.model_name)
    from scripted import planted_feature_data

    fewer_index, _ = planted_feature_data(fewer)
    with pytest.raises(SettingsMismatch, match=r"target: SAE 'planted-v1' \(planted-v1:[0-9a-f]+\)"):
        explain(fewer, 0, ScriptedLLM(truthful), index=fewer_index, output_dir=tmp_path)


def test_settings_record_target_exemplars_agent_and_llm_per_role(planted, weekday, tmp_path):
    index, _ = weekday
    explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    folder = feature_folder(tmp_path, ScriptedLLM(truthful), planted, 0)
    stored = json.loads((folder.path / SETTINGS_FILE).read_text())
    assert stored["target"]["sae"] == "planted-v1" and stored["target"]["hook"] == "planted"
    assert stored["exemplars"]["contexts_digest"] == index.meta["contexts_digest"] and stored["exemplars"]["top_k"] == 5
    assert stored["agent"]["bounds"]["hypotheses"] == Bounds().hypotheses
    assert {"use_evidence", "computed_hypothesis", "designer", "causal"} <= set(stored["agent"])
    assert stored["llm"] == {role: "scripted:scripted-test" for role in ROLES if role != "generalizer"}
    results = json.loads((folder.path / "structured_results.json").read_text())
    assert results["meta"]["settings"]["fingerprint"] == stored["fingerprint"]


def test_a_replay_counts_as_the_backend_it_replays(planted, weekday, tmp_path):
    index, _ = weekday
    live = ScriptedLLM(truthful)
    live.recorder = CallRecorder(tmp_path / "calls.jsonl")
    explain(planted, 0, live, index=index, output_dir=tmp_path / "out")
    replay = make_llm(f"replay:{tmp_path / 'calls.jsonl'}")
    assert run_settings(planted, replay, AgentConfig(), index=index) == run_settings(
        planted, live, AgentConfig(), index=index
    )
    assert explain(planted, 0, replay, index=index, output_dir=tmp_path / "out").done


def test_a_run_without_a_working_llm_is_a_failure_and_is_retried(planted, weekday, tmp_path):
    index, _ = weekday
    broken = Broken(truthful)
    with pytest.raises(LLMUnavailable, match="without a working LLM.*malformed_response"):
        explain(planted, 0, broken, index=index, output_dir=tmp_path)
    folder = feature_folder(tmp_path, broken, planted, 0)
    assert not folder.finished and not folder.state_path.exists()
    failure = read_failure(folder.path)
    assert failure["outcome"] == "llm_unavailable" and "malformed_response" in failure["error"]
    # explain_features does not skip it, and a working LLM finishes it
    state = explain_features(planted, [0], ScriptedLLM(truthful), index=index, output_dir=tmp_path, progress=False)[0]
    assert state.explanation is not None and folder.finished
    assert not (folder.path / FAILURE_FILE).exists()


def test_an_llm_that_answers_badly_gives_a_result_that_says_so(planted, weekday, tmp_path):
    index, _ = weekday
    llm = ScriptedLLM(with_role(truthful, "explainer", "I think it is about days."))
    config = AgentConfig(computed_hypothesis=False)
    state = explain(planted, 0, llm, index=index, output_dir=tmp_path, config=config)
    assert run_outcome(state) == "no_valid_hypotheses"
    folder = feature_folder(tmp_path, llm, planted, 0)
    results = json.loads((folder.path / "structured_results.json").read_text())
    assert results["outcome"] == "no_valid_hypotheses" and "not_json" in results["stop_reason"]
    assert read_failure(folder.path) is None


def test_results_read_as_the_original_sage_format(planted, weekday, tmp_path):
    index, _ = weekday
    state = explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    folder = feature_folder(tmp_path, ScriptedLLM(truthful), planted, 0).path
    results = json.loads((folder / "structured_results.json").read_text())
    history = results["analysis_history"]
    assert history and all(isinstance(h, str) for h in history) and len(history) == len(state.turns) + 1
    last = history[-1]
    assert DESCRIPTION.search(last).group(1) == state.explanation.description
    evidence = EVIDENCE.search(last).group(1)
    assert evidence == state.explanation.evidence_text() and "H1 supports" in evidence
    assert [(n, text) for n, text in LABELS.findall(last)] == [("1", "weekday names")]
    assert results["outcome"] == "explained" and results["feature_id"] == 0 and results["layer"] == "planted"
    for h, stored in zip(state.hypotheses, results["hypotheses"], strict=True):
        assert {"id", "text", "status", "confidence"} <= set(stored)
        assert stored["id"] == h.id and stored["text"] == h.claim and stored["status"] == h.status
        assert stored["confidence"] == pytest.approx(h.agreement or 0.0, abs=1e-4)
    assert results["hypotheses"][0]["confidence"] == 1.0
    assert {t["hypothesis_id"] for t in results["test_results"]} == {"H1", "H2"}


def test_labels_file_holds_labels_not_the_description(planted, weekday, tmp_path):
    index, _ = weekday
    llm = ScriptedLLM(with_role(truthful, "synthesis", "not json at all"))
    state = explain(planted, 0, llm, index=index, output_dir=tmp_path)
    assert state.explanation.source == "hypotheses"
    folder = feature_folder(tmp_path, llm, planted, 0).path
    labels = (folder / "labels.txt").read_text().splitlines()
    description = (folder / "description.txt").read_text().strip()
    assert labels == ["Monday, Friday"] and description == "fires on weekday names"
    assert LABELS.findall(json.loads((folder / "structured_results.json").read_text())["analysis_history"][-1]) == [
        ("1", "Monday, Friday")
    ]


def test_every_file_of_a_run_has_the_same_mode(planted, weekday, tmp_path):
    index, _ = weekday
    explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    folder = feature_folder(tmp_path, ScriptedLLM(truthful), planted, 0).path
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()}
    assert set(modes.values()) == {FILE_MODE}, modes
    assert "structured_results.json" in modes and "labels.txt" in modes


def test_a_resumed_run_says_from_which_step(planted, weekday, tmp_path, capsys):
    from sage_nb.agent import SageLoop

    index, fd = weekday
    llm = ScriptedLLM(truthful)
    settings = run_settings(planted, llm, AgentConfig(), index=index)
    folder = feature_folder(tmp_path, llm, planted, 0, settings)
    folder.prepare()
    SageLoop(planted, fd, llm, save=folder.save).run(max_steps=2)
    capsys.readouterr()
    explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    err = capsys.readouterr().err
    assert f"feature 0: resuming from the checkpoint in {folder.path} after 2 turns (next step: design)" in err


def test_a_feature_may_be_a_numpy_integer_but_not_a_list(planted, weekday):
    index, _ = weekday
    state = explain(planted, np.int64(0), ScriptedLLM(truthful), index=index)
    assert state.feature == 0 and type(state.feature) is int
    with pytest.raises(TypeError, match=r"one feature, got \[1, 2\]: use explain_features"):
        explain(planted, [1, 2], ScriptedLLM(truthful), index=index)


def test_a_folder_from_before_settings_is_checked_on_its_labels(planted, weekday, tmp_path):
    index, _ = weekday
    explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path)
    folder = feature_folder(tmp_path, ScriptedLLM(truthful), planted, 0).path
    (folder / SETTINGS_FILE).unlink()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert explain(planted, 0, ScriptedLLM(truthful), index=index, output_dir=tmp_path).done
    assert any("before settings were recorded" in str(w.message) for w in caught)


def test_the_generalizer_s_llm_is_part_of_the_settings_only_when_the_class_step_is_on():
    assert "generalizer" not in roles_of(AgentConfig()) and "generalizer" in roles_of(AgentConfig(generalize=True))
