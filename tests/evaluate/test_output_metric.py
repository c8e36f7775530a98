"""The output metric on the embedded model with scripted judges: a right pick scores 1, a wrong one 0, a failed
reply None; the bundles are matched by KL, seeded, and shared by every candidate of a feature."""

from __future__ import annotations

import pytest
from scripted import ScriptedLLM

from sage_nb.data.records import FeatureData
from sage_nb.evaluate import output_prompts as prompts
from sage_nb.evaluate.base import Candidate, EvalSetup
from sage_nb.evaluate.output_metric import OutputMetricScorer, live_features

FEATURE = 743
CANDIDATE = Candidate(FEATURE, "sage", "Fires before the word 'time' in phrases such as 'at the same time'.")


@pytest.fixture(scope="module")
def scorer():
    """A small scorer (2 prompts, 5 tokens) whose bundles are computed once for the whole module."""
    return OutputMetricScorer(n_prompts=2, n_tokens=5)


def setup_for(target, llm, seed: int = 0) -> EvalSetup:
    data = FeatureData(FEATURE, 10.0, 0.01, [], [], [])
    return EvalSetup(target, llm, data, seed=seed)


def judge(pick):
    """A scripted judge replying ``pick()``, and the user messages it was shown."""
    seen: list[str] = []

    def policy(role, messages, request):
        assert role == "output"
        seen.append(messages[-1]["content"])
        return pick()

    return policy, seen


def test_a_judge_that_picks_the_explained_bundle_scores_one(target, scorer):
    answer = scorer.bundles(setup_for(target, None)).answer
    policy, seen = judge(lambda: {"bundle": answer})
    llm = ScriptedLLM(policy)
    score = scorer.score(CANDIDATE, setup_for(target, llm))
    assert score.value == 1.0 and score.n == 1 and llm.calls == ["output"]
    assert score.metric == "output" and score.feature == FEATURE and score.explainer == "sage"
    details = score.details
    assert details["pick"] == answer == details["answer"] and details["correct"] is True
    assert details["chance"] == pytest.approx(1 / 3)
    bundles = details["bundles"]
    assert len(bundles) == 3 and [b["explained"] for b in bundles].count(True) == 1
    assert bundles[answer - 1]["feature"] == FEATURE
    features = [b["feature"] for b in bundles]
    assert len(set(features)) == 3
    for b in bundles:  # each feature at its own strength, matched by KL: +0.5 and -0.5 nats
        assert b["strengths"][0] > 0 > b["strengths"][1]
        assert b["kls"] == pytest.approx([0.5, 0.5], rel=0.05)
        assert len(b["continuations"]) == 2 and all(len(c) == 2 for c in b["continuations"])
    (shown,) = seen
    assert "at the same time" in shown and "Bundle 3" in shown and "amplified" in shown and "suppressed" in shown
    for b in bundles:
        for continuations in b["continuations"]:
            for text in continuations:
                assert prompts.readable(text) in shown


def test_a_wrong_pick_scores_zero(target, scorer):
    answer = scorer.bundles(setup_for(target, None)).answer
    policy, _ = judge(lambda: {"bundle": answer % 3 + 1})
    score = scorer.score(CANDIDATE, setup_for(target, ScriptedLLM(policy)))
    assert score.value == 0.0 and score.details["correct"] is False and score.details["pick"] != answer


@pytest.mark.parametrize("reply", ["not json", {"bundle": 4}, {"choice": 1}])
def test_a_failed_reply_gives_none_with_a_note(target, scorer, reply):
    llm = ScriptedLLM(lambda role, messages, request: reply)
    score = scorer.score(CANDIDATE, setup_for(target, llm))
    assert score.value is None and score.n == 0
    assert any(n.startswith("LLM reply failed:") for n in score.notes)
    assert len(score.details["bundles"]) == 3 and "pick" not in score.details


def test_bundles_are_computed_once_per_feature_and_seed(target, scorer):
    first = scorer.bundles(setup_for(target, None))
    assert scorer.bundles(setup_for(target, None)) is first
    again = OutputMetricScorer(n_prompts=2, n_tokens=5).random_features(setup_for(target, None))
    assert set(again) == {b.feature for b in first.bundles if not b.explained}  # seeded
    other_seed = scorer.random_features(setup_for(target, None, seed=1))
    assert FEATURE not in other_seed and len(other_seed) == 2


def test_random_features_are_live(target, scorer):
    randoms = scorer.random_features(setup_for(target, None))
    live = live_features(target, scorer.neutral_prompts)
    assert set(randoms) <= set(live) and FEATURE not in randoms
    for f in randoms:
        assert max(row.max_act for row in target.activations(scorer.neutral_prompts, f)) > 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kls": []}, "non-zero target KL"),
        ({"kls": [0.5, 0.0]}, "non-zero target KL"),
        ({"n_prompts": 0}, "n_prompts"),
        ({"n_prompts": 99}, "n_prompts"),
        ({"n_random": 0}, "bundles"),
        ({"n_tokens": 0}, "n_tokens"),
    ],
)
def test_bad_settings_give_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        OutputMetricScorer(**kwargs)


def test_an_unknown_feature_gives_a_clear_error(target, scorer):
    data = FeatureData(10**6, 10.0, 0.01, [], [], [])
    with pytest.raises(IndexError, match="Unknown feature"):
        scorer.score(CANDIDATE, EvalSetup(target, ScriptedLLM(lambda *a: {"bundle": 1}), data))
