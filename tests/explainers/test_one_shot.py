"""The one-shot baseline explainer on the planted digit feature with scripted replies."""

from __future__ import annotations

import pytest
from scripted import ScriptedLLM

from sage_nb.core.text import visible
from sage_nb.evaluate.base import Candidate
from sage_nb.evidence import Evidence, feature_scale
from sage_nb.explainers import prompts
from sage_nb.explainers.one_shot import ExplainError, OneShotExplainer

REPLY = {"description": "Fires on digits, more on later digits of long numbers.", "labels": ["digits", "long␣numbers"]}


def recording(reply, seen: list[str]):
    def policy(role, messages, request):
        assert role == "baseline"
        seen.append(messages[-1]["content"])
        return reply(messages) if callable(reply) else reply

    return policy


def test_explain_returns_a_baseline_candidate(digit):
    seen: list[str] = []
    llm = ScriptedLLM(recording(REPLY, seen))
    candidate = OneShotExplainer(llm).explain(digit)
    assert candidate == Candidate(digit.index, "baseline", REPLY["description"], ["digits", "long numbers"])
    assert candidate.text("labels") == "digits; long numbers"
    assert llm.calls == ["baseline"]


def test_prompt_holds_token_activation_pairs_and_the_evidence(digit):
    seen: list[str] = []
    OneShotExplainer(ScriptedLLM(recording(REPLY, seen))).explain(digit)
    prompt = seen[0]
    assert Evidence.from_feature(digit).to_text() in prompt  # the same text the SAGE agent gets
    scale = feature_scale(digit)
    assert prompt.count("<start>") == min(10, len(digit.top)) == prompt.count("<end>")
    for ex in digit.top[:10]:  # each exemplar's peak token with its 0-10 activation
        assert f"{visible(ex.tokens[ex.peak])}\t{round(10 * ex.max_act / scale)}\n" in prompt
    top = digit.top[0]
    assert f"{visible(top.tokens[top.peak])}\t10\n" in prompt
    zero = next(j for j, a in enumerate(top.acts) if a == 0 and abs(j - top.peak) <= prompts.BASELINE_SIDE)
    assert f"{visible(top.tokens[zero])}\t0\n" in prompt


def test_evidence_and_top_k_are_options(digit):
    seen: list[str] = []
    OneShotExplainer(ScriptedLLM(recording(REPLY, seen)), top_k=3, use_evidence=False).explain(digit)
    assert "Evidence:" not in seen[0] and Evidence.from_feature(digit).to_text() not in seen[0]
    assert seen[0].count("<start>") == 3
    with pytest.raises(ValueError):
        OneShotExplainer(ScriptedLLM(recording(REPLY, seen)), top_k=0)


def test_a_failed_call_raises_with_the_recorded_error(digit):
    llm = ScriptedLLM(recording({"description": "x", "labels": []}, []))
    with pytest.raises(ExplainError, match="baseline explanation of feature .* failed: invalid") as info:
        OneShotExplainer(llm).explain(digit)
    assert isinstance(info.value, ValueError) and info.value.feature == digit.index
    assert llm.calls == ["baseline", "baseline"]  # the LLM layer's repair turn, then the error


def test_a_feature_that_never_fired_raises_without_a_call(digit):
    from dataclasses import replace

    llm = ScriptedLLM(recording(REPLY, []))
    with pytest.raises(ExplainError, match="never fired"):
        OneShotExplainer(llm).explain(replace(digit, top=[], max_activation=0.0))
    assert llm.calls == []


def test_explain_many_batches_and_keeps_errors_in_place(planted, digit):
    from dataclasses import replace

    from eval_samples import mined_feature_data

    weekday = mined_feature_data(planted, "weekday")[1]

    def reply(messages):
        if "Monday" in messages[1]["content"] or "Friday" in messages[1]["content"]:
            return "no json"  # the weekday feature's prompt, and its repair turn
        return REPLY

    llm = ScriptedLLM(recording(reply, []))
    dead = replace(digit, index=7, top=[], max_activation=0.0)
    out = OneShotExplainer(llm).explain_many([digit, dead, weekday])
    assert isinstance(out[0], Candidate) and out[0].feature == digit.index
    assert isinstance(out[1], ExplainError) and "never fired" in str(out[1])
    assert isinstance(out[2], ExplainError) and out[2].feature == weekday.index
    assert llm.calls.count("baseline") == 3  # two features called (one repaired once), the dead one never
    assert OneShotExplainer(llm).explain_many([]) == []
