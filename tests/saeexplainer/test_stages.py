"""Resuming: a recorded stage is never redone, a stage that did not finish is, and another config is refused."""

from __future__ import annotations

import json

import pytest

from sage_nb.saeexplainer import pipeline
from sage_nb.saeexplainer.config import SPLIT_FILE, STAGES_FILE, ExplainerTrainingConfig
from sage_nb.saeexplainer.stages import ConfigMismatch, StageStore, read_table, write_table


def test_a_recorded_stage_is_read_back_not_recomputed(tmp_path):
    calls = []
    store = StageStore(tmp_path, {"a": 1})
    assert store.run("split", lambda: calls.append(1) or {"n": 3}) == {"n": 3}
    again = StageStore(tmp_path, {"a": 1})  # a new invocation on the same folder
    assert again.run("split", lambda: calls.append(2) or {"n": 4}) == {"n": 3}
    assert calls == [1] and again.skipped == ["split"] and again.ran == []


def test_a_stage_that_raised_is_not_recorded_and_runs_again(tmp_path):
    store = StageStore(tmp_path, {})

    def killed():
        (tmp_path / "partial.txt").write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.run("teacher", killed)
    assert not StageStore(tmp_path, {}).finished("teacher")
    assert StageStore(tmp_path, {}).run("teacher", lambda: {"done": True}) == {"done": True}


def test_another_config_in_the_same_folder_is_refused(tmp_path):
    StageStore(tmp_path, {"seed": 0, "n_train": 16})
    with pytest.raises(ConfigMismatch, match="n_train"):
        StageStore(tmp_path, {"seed": 0, "n_train": 32})


def test_tables_round_trip_and_empty_tables_keep_their_columns(tmp_path):
    write_table(tmp_path / "t.parquet", [{"feature": 1, "text": "a", "reward": None, "notes": ["x"]}])
    assert read_table(tmp_path / "t.parquet") == [{"feature": 1, "text": "a", "reward": None, "notes": ["x"]}]
    write_table(tmp_path / "e.parquet", [], columns=["feature", "text"])
    assert read_table(tmp_path / "e.parquet") == []


def _stage_names(cfg: ExplainerTrainingConfig) -> list[str]:
    names = ["split", "teacher", "sft"]
    for r in range(1, cfg.dpo_rounds + 1):
        names += [f"dpo{r}/{part}" for part in ("candidates", "rewards", "pairs", "train")]
    return [*names, "explanations", "evaluate"]


class _Untouchable:
    """A target or LLM that fails the test if a stage uses it."""

    def __getattr__(self, name):
        raise AssertionError(f"a finished stage used the {name!r} of a model")


def _recorded(tmp_path, cfg, names):
    store = StageStore(tmp_path, cfg.to_dict())
    (tmp_path / SPLIT_FILE).write_text(json.dumps({"train": [1, 2], "val": [3], "test": [4], "seed": 0}))
    for name in names:
        store.run(name, lambda name=name: {"means": {"gen_sft": 0.5}} if name == "evaluate" else {"stage": name})
    return store


def test_train_explainer_skips_every_finished_stage(tmp_path):
    cfg = ExplainerTrainingConfig.tiny()
    _recorded(tmp_path, cfg, _stage_names(cfg))
    run = pipeline.train_explainer(cfg, tmp_path, target=_Untouchable(), llm=_Untouchable(), progress=False)
    assert run.ran == [] and run.skipped == _stage_names(cfg)
    assert run.summary["means"] == {"gen_sft": 0.5}
    assert json.loads((tmp_path / STAGES_FILE).read_text()).keys() == set(_stage_names(cfg))


def test_train_explainer_runs_only_the_stages_left(tmp_path, monkeypatch):
    cfg = ExplainerTrainingConfig.tiny(dpo_rounds=2)
    names = _stage_names(cfg)
    _recorded(tmp_path, cfg, names[: names.index("dpo2/pairs")])  # killed while building round 2's pairs
    calls = []
    monkeypatch.setattr(pipeline, "_pairs", lambda run, r: calls.append(f"pairs{r}") or {})
    monkeypatch.setattr(pipeline, "_train", lambda run, r, p: calls.append(f"train{r}<-{p}") or {})
    monkeypatch.setattr(pipeline, "_explanations", lambda run: calls.append("explanations") or {})
    monkeypatch.setattr(pipeline, "_evaluate", lambda run: calls.append("evaluate") or {"means": {}})
    run = pipeline.train_explainer(cfg, tmp_path, target=_Untouchable(), llm=_Untouchable(), progress=False)
    assert calls == ["pairs2", "train2<-dpo1", "explanations", "evaluate"]
    assert run.ran == ["dpo2/pairs", "dpo2/train", "explanations", "evaluate"]
    assert run.skipped == names[: names.index("dpo2/pairs")]


def test_the_cli_resumes_a_finished_run_and_refuses_another_config(tmp_path, capsys):
    from sage_nb.cli import main

    cfg = ExplainerTrainingConfig.tiny()
    _recorded(tmp_path, cfg, _stage_names(cfg))
    (tmp_path / "progression.csv").write_text("metric,explainer,mean\ngen,base,0.25\n")
    assert main(["train-explainer", "--tiny", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "gen" in out and '"ran": []' in out
    assert main(["train-explainer", "--tiny", "--n_train", "9", "--out", str(tmp_path)]) == 2
    assert "n_train" in capsys.readouterr().err
