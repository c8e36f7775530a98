"""Causal tests inside the SAGE loop: the designer proposes steered prompts, the code steers the real target."""

from __future__ import annotations

import json

import pytest
from scripted import ScriptedLLM, planted_feature_data

from sage_nb.agent import AgentConfig, Bounds, RunState, SageLoop, explain
from sage_nb.agent.causal_tests import STEER_SCALE, judge_effect
from sage_nb.core.text import visible
from sage_nb.data.contexts import corpus_contexts
from sage_nb.data.corpus import corpus_from
from sage_nb.data.index import mine

#: Feature 755 of the shipped SAE fires on ' None' in Python code.
NONE_FEATURE = 755
NONE_CORPUS = [
    "if value is None:\n    return None",
    "def get(self, key, default=None):\n    return self.data.get(key, default)",
    "x = None\nwhile x is None:\n    x = read()",
    "The weather today is sunny and warm.",
]
STEER_PROMPT = "The function returns"


@pytest.fixture(scope="module")
def none_data(target):
    docs = corpus_from(NONE_CORPUS, name="causal-test")
    contexts = corpus_contexts(docs, target.tokenizer, context_tokens=16, use_cache=False)
    index = mine(target, contexts, top_k=5, samples=2, progress=False)
    return index.feature_data(target, NONE_FEATURE, k=5)


def causal_policy(role, messages, request):
    if role == "explainer":
        return {"hypotheses": [
            {"tokens": ["None"], "claim": "fires on None in code", "example": "return None"},
            {"tokens": ["None"], "claim": "makes the model say None", "example": "x = None"},
        ]}  # fmt: skip
    if role == "designer":
        assert "steer" in request.schema.model_fields  # the schema offers steer tests only when causal is on
        return {
            "tests": [{"text": "if x is None: pass", "expect": "high"}, {"text": "the cat sat", "expect": "low"}],
            "steer": [{"prompt": STEER_PROMPT, "expect": ["None", "null"]}],
        }
    if role == "analyzer":
        return {"verdict": "keep_testing", "reason": "read the steer test"}
    if role == "reviewer":
        return {"decision": "finish", "tests": []}
    return {"description": "Fires on None in Python code.", "labels": ["None in code"]}


def test_steer_tests_are_run_by_the_code_recorded_and_shown_to_the_analyzer(target, none_data, tmp_path):
    config = AgentConfig(Bounds(hypotheses=2, rounds_per_hypothesis=1, review_rounds=0), causal=True)
    llm = ScriptedLLM(causal_policy)
    state = explain(target, NONE_FEATURE, llm, feature_data=none_data, config=config, output_dir=tmp_path)
    assert state.done
    designer_turns = [t for t in state.turns if t.role == "designer"]
    assert designer_turns and all(len(t.effects) == 1 for t in designer_turns)
    effect = designer_turns[0].effects[0]
    assert effect.prompt == STEER_PROMPT and effect.kl > 0 and effect.promoted and effect.steered != ""
    assert effect.strength == pytest.approx(STEER_SCALE * state.scale, rel=1e-3)
    assert effect.verdict == judge_effect(effect.expect, effect.promoted, effect.clean, effect.steered)
    assert all(h.effects for h in state.hypotheses)
    analyzer = next(t for t in state.turns if t.role == "analyzer")
    assert f"steer '{visible(STEER_PROMPT)}'" in analyzer.prompt and "promoted" in analyzer.prompt
    # recorded: the checkpoint round-trips, log.json lists the effects
    assert RunState.from_dict(json.loads(json.dumps(state.to_dict()))).turns == state.turns
    log = json.loads(next(tmp_path.rglob("log.json")).read_text())
    assert any(entry["effects"] and entry["effects"][0]["prompt"] == STEER_PROMPT for entry in log)


def test_without_causal_the_designer_schema_has_no_steer_field(target, none_data):
    seen = []

    def policy(role, messages, request):
        if role == "designer":
            seen.append(set(request.schema.model_fields))
            return {"tests": [{"text": "x is None", "expect": "high"}, {"text": "a cat", "expect": "low"}]}
        return causal_policy(role, messages, request) if role != "designer" else None

    config = AgentConfig(Bounds(hypotheses=2, rounds_per_hypothesis=1, review_rounds=0))
    state = SageLoop(target, none_data, ScriptedLLM(policy), config).run()
    assert seen and all(fields == {"tests"} for fields in seen)
    assert not any(t.effects for t in state.turns)


def test_causal_tests_need_a_target_with_a_model(planted):
    _, fd = planted_feature_data(planted)
    with pytest.raises(ValueError, match="causal tests need a target with a model"):
        SageLoop(planted, fd, ScriptedLLM(causal_policy), AgentConfig(causal=True))


@pytest.mark.parametrize(
    ("expect", "promoted", "clean", "steered", "verdict"),
    [
        (["None"], [" None", " the"], "a b", "a b", "ok"),  # promoted token, case and space ignored
        (["dog"], [" the"], "I saw a cat.", "I saw a dog.", "ok"),  # new in the steered continuation
        (["cat"], [" the"], "I saw a cat.", "I saw a cat!", "miss"),  # already in the clean continuation
        ([], [" None"], "", "", None),
    ],
)
def test_judge_effect(expect, promoted, clean, steered, verdict):
    assert judge_effect(expect, promoted, clean, steered) == verdict
