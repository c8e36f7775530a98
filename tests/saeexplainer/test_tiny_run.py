"""The tiny config end to end on the embedded model and SAE with the local LLM: teacher, SFT, one DPO round and the
evaluation of every stage. Every stored number must be a measurement that can be repeated."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from sage_nb.saeexplainer import ExplainerTrainingConfig, train_explainer
from sage_nb.saeexplainer import config as files

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, target):
    out = tmp_path_factory.mktemp("tiny_explainer")
    cfg = ExplainerTrainingConfig.tiny()
    return cfg, train_explainer(cfg, out, target=target, progress=False)


def test_every_stage_left_its_artefacts(tiny):
    _, run = tiny
    out = run.output_dir
    for name in (
        files.CONFIG_FILE, files.STAGES_FILE, files.SPLIT_FILE, files.TEACHER_FILE, files.EXPLANATIONS_FILE,
        files.PROGRESSION_CSV, files.PROGRESSION_PLOT, files.SUMMARY_FILE, "evaluation/summary.json",
    ):  # fmt: skip
        assert (out / name).is_file(), name
    for stage in ("sft", "dpo1"):
        for name in ("adapter/adapter_model.safetensors", "adapter/adapter_config.json", files.HISTORY_FILE,
                     files.CURVE_FILE, files.TRAIN_SUMMARY_FILE):  # fmt: skip
            assert (out / stage / name).is_file(), f"{stage}/{name}"
    for name in (files.CANDIDATES_FILE, files.TEXTS_FILE, files.REWARDS_FILE, files.PAIRS_FILE, files.DECISIONS_FILE):
        assert (out / "dpo1" / name).is_file(), name
    assert not (out / "sft" / "checkpoints").exists() and not (out / "dpo1" / "checkpoints").exists()


def test_no_held_out_feature_entered_training(tiny):
    _, run = tiny
    out, split = run.output_dir, run.split
    train, val, test = set(split.train), set(split.val), set(split.test)
    assert set(pd.read_parquet(out / files.TEACHER_FILE)["feature"]) <= train
    assert set(pd.read_parquet(out / "dpo1" / files.CANDIDATES_FILE)["feature"]) == train | val
    pairs = pd.read_parquet(out / "dpo1" / files.PAIRS_FILE)
    assert set(pairs.loc[pairs["split"] == "train", "feature"]) <= train
    assert set(pairs.loc[pairs["split"] == "val", "feature"]) <= val
    assert set(pd.read_parquet(out / files.EXPLANATIONS_FILE)["feature"]) == test
    training = json.loads((out / "dpo1" / files.TRAIN_SUMMARY_FILE).read_text())
    assert training["examples"] == int((pairs["split"] == "train").sum()) >= 1


def test_rewards_are_repeatable_measurements(tiny, target):
    _, run = tiny
    folder = run.output_dir / "dpo1"
    texts = pd.read_parquet(folder / files.TEXTS_FILE).dropna(subset=["max_act"])
    for row in texts.itertuples():
        again = target.activations(row.text, int(row.feature), truncate=True)[0]
        assert again.max_act == pytest.approx(row.max_act, rel=1e-4, abs=1e-4)
    rewards = pd.read_parquet(folder / files.REWARDS_FILE).dropna(subset=["reward"])
    best = texts.groupby(["feature", "explanation"])["max_act"].max()
    for row in rewards.itertuples():
        assert row.reward == pytest.approx(best[(row.feature, row.explanation)])
    pairs = pd.read_parquet(folder / files.PAIRS_FILE)
    by_text = rewards.set_index(["feature", "explanation"])["reward"]
    for row in pairs.itertuples():
        assert row.chosen_reward == pytest.approx(by_text[(row.feature, row.chosen)])
        assert row.chosen_reward == pytest.approx(rewards.loc[rewards["feature"] == row.feature, "reward"].max())
        assert row.rejected_reward < row.chosen_reward


def test_training_logged_finite_losses(tiny):
    _, run = tiny
    for stage in ("sft", "dpo1"):
        history = json.loads((run.output_dir / stage / files.HISTORY_FILE).read_text())
        losses = [row["loss"] for row in history if "loss" in row]
        assert losses and all(math.isfinite(x) for x in losses)
    training = json.loads((run.output_dir / "dpo1" / files.TRAIN_SUMMARY_FILE).read_text())
    if training["eval_examples"]:
        assert 0.0 <= training["heldout_accuracy"] <= 1.0


def test_the_progression_holds_measured_scores_of_every_stage(tiny, target):
    cfg, run = tiny
    table = run.progression()
    assert set(table["metric"]) == {"gen", "input"}
    scored = set(pd.read_parquet(run.output_dir / files.EXPLANATIONS_FILE).query("description != ''")["explainer"])
    assert set(table["explainer"]) == scored and scored <= set(cfg.stages)
    assert table["mean"].between(0, 1).all()
    for feature in run.split.test:
        comparison = json.loads((run.output_dir / "evaluation" / f"feature_{feature}_comparison.json").read_text())
        for explainer in comparison["explainers"].values():
            gen = explainer["scores"]["gen"]
            if gen["value"] is None:
                continue
            for item in gen["details"]["texts"]:  # GEN's texts re-measure to what was recorded
                again = target.activations(item["text"], feature, truncate=True)[0].max_act
                assert again == pytest.approx(item["max_act"], rel=1e-3, abs=1e-3)
    print(table.to_string(index=False))


def test_a_second_call_skips_every_stage(tiny, target):
    cfg, run = tiny
    again = train_explainer(cfg, run.output_dir, target=target, progress=False)
    assert again.ran == [] and again.skipped == list(json.loads((run.output_dir / files.STAGES_FILE).read_text()))
    assert again.summary["means"] == run.summary["means"]
