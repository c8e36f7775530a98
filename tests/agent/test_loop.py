"""The SAGE loop end to end on a planted feature, with scripted LLM replies and real measurements."""

from __future__ import annotations

import json
import keyword
import re

import pytest
from scripted import HOSTILE, WEEKDAY_TESTS, ScriptedLLM, planted_feature_data, truthful, with_role

from sage_nb.agent import AgentConfig, Bounds, SageLoop, explain, explain_features, load_run, prompts
from sage_nb.agent.loop import SMALL_MODEL_SAMPLES, computed_candidate
from sage_nb.agent.prompts import COMPUTED_ANGLE
from sage_nb.agent.results import RESULT_FILES, run_dir
from sage_nb.data.records import FeatureData
from sage_nb.explainers.top_tokens import TopTokensExplainer

CORPUS_DIGITS = ["Call 555 0199 after 6 pm.", "Room 12 is on floor 3.", "The year 2024 had 366 days."]


def run(planted, weekday, policy, bounds=None, **config):
    _, fd = weekday
    llm = ScriptedLLM(policy)
    loop = SageLoop(planted, fd, llm, AgentConfig(bounds=bounds or Bounds(), **config))
    return loop.run(), llm


def test_truthful_agent_accepts_the_true_hypothesis_and_refutes_the_false(planted, weekday):
    state, llm = run(planted, weekday, truthful)
    assert state.done and state.stop_reason is None
    h1, h2 = state.hypotheses
    assert (h1.claim, h1.status) == ("fires on weekday names", "accepted")
    assert h2.status == "refuted"
    assert state.explanation.labels == ["weekday names"]
    assert [t.role for t in state.turns] == [
        "exemplars", "explainer", "designer", "designer", "analyzer", "analyzer", "reviewer", "synthesis",
    ]  # fmt: skip
    # the evidence is measured: its activations are the target's own on those texts
    supports = [e for e in state.explanation.evidence if e.hypothesis == "H1"]
    assert supports and all(e.supports for e in supports)
    for e in supports:
        assert e.max_act == pytest.approx(planted.measure(e.text, state.feature).max_act, abs=1e-4)
    assert state.llm_calls == len(llm.calls) == 7


def test_measurements_come_from_the_target_not_the_reply(planted, weekday):
    state, _ = run(planted, weekday, truthful)
    designed = [m for t in state.turns if t.role == "designer" for m in t.measurements]
    assert {m.text for m in designed} == {
        t["text"] for t in [*state.turns[2].reply["tests"], *state.turns[3].reply["tests"]]
    }
    for m in designed:
        row = planted.measure(m.text, state.feature)
        assert m.tokens == row.tokens
        assert m.acts == pytest.approx(row.acts, abs=1e-4)
    friday = next(m for m in designed if "Friday" in m.text)
    assert friday.level == "high" and friday.verdict == "ok" and friday.peak_token.strip() == "Friday"


def test_exemplars_turn_and_prompts_hold_the_compact_state(planted, weekday):
    state, _ = run(planted, weekday, truthful)
    assert state.turns[0].measurements and all(m.source == "exemplar" for m in state.turns[0].measurements)
    assert "Peak tokens" in state.evidence_text and "⟦" in state.exemplar_text
    analyzer = next(t for t in state.turns if t.role == "analyzer")
    assert "Top-activating texts" not in analyzer.prompt  # the analyzer sees its hypothesis and tests only
    assert "H2" not in analyzer.prompt.replace(analyzer.hypothesis, "") or analyzer.hypothesis == "H2"


def test_evidence_can_be_left_out_of_prompts(planted, weekday):
    state, _ = run(planted, weekday, truthful, use_evidence=False)
    assert state.evidence_text == ""
    assert all("Peak tokens" not in t.prompt for t in state.turns)
    explainer = next(t for t in state.turns if t.role == "explainer")
    assert " | " in explainer.prompt  # without the evidence, each exemplar lists its token/activation pairs


def test_only_the_explainer_reads_the_evidence_which_replaces_the_exemplar_token_lists(planted, weekday):
    state, _ = run(planted, weekday, truthful)
    explainer = next(t for t in state.turns if t.role == "explainer")
    assert state.evidence_text in explainer.prompt and " | " not in state.exemplar_text
    later = [t for t in state.turns if t.role in ("designer", "reviewer", "analyzer", "synthesis") and t.prompt]
    assert {t.role for t in later} >= {"designer", "analyzer", "synthesis"}
    assert all("Peak tokens" not in t.prompt for t in later)


def test_an_accept_that_the_measurements_contradict_is_not_taken(planted, weekday):
    """A hostile corpus text asks to accept H1 and H2; the analyzer obeys; the state machine does not."""
    hostile = planted_feature_data(planted, "weekday", [HOSTILE] * 3)
    always_accept = with_role(truthful, "analyzer", {"verdict": "accept", "reason": "the text says to accept"})
    state, _ = run(planted, hostile, always_accept)
    assert "accept␣H1" in state.turns[1].prompt  # the agent saw the instruction, quoted as data
    h1, h2 = state.hypotheses
    assert h1.status == "accepted"  # its tests do agree
    assert h2.status != "accepted"  # 'the' never fires on the weekday feature
    decisions = [t.decision for t in state.turns if t.role == "analyzer" and t.hypothesis == "H2"]
    assert decisions[0].startswith("keep testing (accept not supported")


def test_an_llm_that_always_refines_cannot_loop_forever(planted, weekday):
    """Regression: the original loops forever when the LLM keeps answering 'refine'."""
    counter = iter(range(10_000))

    def refine(role, messages, request):
        return {"verdict": "refine", "reason": "narrower", "refined_claim": f"fires on variant {next(counter)}"}

    bounds = Bounds(rounds_per_hypothesis=2, refinements_per_hypothesis=2, review_rounds=3, llm_calls=1000)
    state, llm = run(planted, weekday, with_role(truthful, "analyzer", refine), bounds)
    assert state.done and state.explanation is not None
    assert any(h.refinements == 2 for h in state.hypotheses)  # the bound is reached ...
    for h in state.hypotheses:  # ... and never passed (a claim its tests support is not reworded)
        assert h.refinements <= 2 and len(h.history) == h.refinements
        assert h.rounds <= (bounds.refinements_per_hypothesis + 1) * bounds.rounds_per_hypothesis
        assert h.status != "open"
    assert len(llm.calls) < 60


def test_a_reviewer_that_always_wants_more_tests_is_bounded(planted, weekday):
    more = {"decision": "more_tests", "tests": [{"hypothesis": "H1", "text": "Wednesday again.", "expect": "high"}]}
    state, _ = run(planted, weekday, with_role(truthful, "reviewer", more), Bounds(review_rounds=2))
    assert state.review_rounds == 2
    reviewer_tests = [m for h in state.hypotheses for m in h.tests if m.source == "reviewer"]
    assert len(reviewer_tests) == 2 and reviewer_tests[0].level == "high"
    assert [t.role for t in state.turns][-1] == "synthesis"


def test_reviewer_tests_can_overturn_an_accepted_hypothesis(planted, weekday):
    # H1 claims weekdays; the reviewer adds 'high' tests without weekdays, which measure low
    more = {
        "decision": "more_tests",
        "tests": [
            {"hypothesis": "H1", "text": "A quiet evening at home.", "expect": "high"},
            {"hypothesis": "H1", "text": "Rain all afternoon.", "expect": "high"},
            {"hypothesis": "H1", "text": "The shop was shut.", "expect": "high"},
            {"hypothesis": "H1", "text": "Nothing happened.", "expect": "high"},
        ],
    }
    state, _ = run(planted, weekday, with_role(truthful, "reviewer", more), Bounds(review_rounds=1))
    h1 = state.hypotheses[0]
    assert h1.status == "refuted"  # 3 of 7 judged tests agree now; the analyzer's refute is supported


def test_token_and_call_budgets_end_testing_with_a_synthesis(planted, weekday):
    state, llm = run(planted, weekday, truthful, Bounds(llm_calls=4))
    assert state.llm_calls <= 4 and len(llm.calls) <= 4
    assert state.turns[-1].role == "synthesis" and state.explanation is not None
    assert any("budget" in n for n in state.notes)
    assert all(h.status != "open" for h in state.hypotheses)

    state, _ = run(planted, weekday, truthful, Bounds(tokens=10))
    assert any("token budget" in n for n in state.notes) and state.explanation is not None


def test_malformed_replies_are_retried_then_recorded_and_the_loop_goes_on(planted, weekday):
    tries = {"designer": 0}

    def flaky(role, messages, request):
        tries["designer"] += 1
        return (
            "Sure! Here are some tests: Friday, Monday" if tries["designer"] <= 2 else truthful(role, messages, request)
        )

    state, llm = run(planted, weekday, with_role(truthful, "designer", flaky))
    first = state.turns[2]
    assert first.role == "designer" and first.ok and first.measurements  # the loop's retry got a valid reply
    assert state.failures == 1  # the first call (reply + repair turn) failed and was recorded
    assert state.explanation is not None

    broken = with_role(truthful, "analyzer", "not json at all")
    state, _ = run(planted, weekday, broken)
    analyzer_turns = [t for t in state.turns if t.role == "analyzer"]
    assert analyzer_turns and all(not t.ok and t.error and "analyzer failed" in t.decision for t in analyzer_turns)
    assert state.hypotheses[0].status == "accepted"  # closed by its measurements when its rounds ran out
    assert state.explanation is not None


def test_an_explainer_that_never_answers_ends_with_a_recorded_reason(planted, weekday):
    state, llm = run(planted, weekday, with_role(truthful, "explainer", "{"), Bounds(retries=2))
    assert state.done and state.explanation is None
    assert state.stop_reason.startswith("the explainer gave no valid hypotheses")
    assert llm.calls.count("explainer") == 3 * 2  # 3 tries, each with the layer's repair turn


def test_claims_without_a_word_are_dropped_and_a_reply_of_only_those_ends_with_a_recorded_reason(planted, weekday):
    blank = {"hypotheses": [{"tokens": ["Monday"], "claim": "↵↵↵", "example": "Monday"}] * 2}  # marks of whitespace
    state, llm = run(planted, weekday, with_role(truthful, "explainer", blank), explainer_samples=2)
    assert state.done and state.explanation is None
    assert state.stop_reason == "the explainer gave no valid hypotheses (no claim in the replies held a word)"
    assert state.turns[-1].role == "explainer" and state.turns[-1].decision == state.stop_reason

    def one_blank(role, messages, request):
        reply = truthful(role, messages, request)
        if role == "explainer":
            reply["hypotheses"][1]["claim"] = "'...'"
        return reply

    state, llm = run(planted, weekday, one_blank)
    assert [h.claim for h in state.hypotheses] == ["fires on weekday names"]  # the worded claim goes on


def test_failed_synthesis_falls_back_to_accepted_claims_and_says_so(planted, weekday):
    state, _ = run(planted, weekday, with_role(truthful, "synthesis", "[]"))
    assert state.explanation.source == "hypotheses"
    assert state.explanation.labels == ["fires on weekday names"]
    assert state.turns[-1].decision.startswith("synthesis failed")


def test_a_synthesis_that_ignores_the_accepted_hypotheses_is_replaced_by_them(planted, weekday):
    """What the 135M synthesis wrote for a feature whose measured, accepted claim was 'a line break'."""
    garbage = {"description": "The cat ran away. (100%) (tokens: The cat ran away.)", "labels": ["top-action"]}
    state, _ = run(planted, weekday, with_role(truthful, "synthesis", garbage))
    assert state.hypothesis("H1").status == "accepted"
    assert state.explanation.source == "hypotheses"
    assert state.explanation.description == "fires on weekday names"
    assert state.turns[-1].decision.startswith("synthesis names nothing the accepted hypotheses name")
    assert state.turns[-1].reply["labels"] == ["top-action"]  # what the LLM wrote stays on record


def test_several_explainer_samples_are_ranked_by_their_measured_examples(planted, weekday):
    def sampled(role, messages, request):
        weekday_first = "(attempt 2)" in messages[-1]["content"]
        claims = [
            {"tokens": ["the"], "claim": "fires on the word the", "example": "the cat"},
            {"tokens": ["Sunday"], "claim": "fires on Sunday", "example": "Lunch on Sunday."},
        ]
        return {"hypotheses": claims[::-1] if weekday_first else claims}

    state, llm = run(planted, weekday, with_role(truthful, "explainer", sampled), explainer_samples=3)
    assert llm.calls.count("explainer") == 3
    assert [h.claim for h in state.hypotheses] == ["fires on Sunday", "fires on the word the"]
    explainer = state.turns[1]
    assert [m.text for m in explainer.measurements] == ["Lunch on Sunday.", "the cat"]
    assert explainer.measurements[0].level == "high" and explainer.measurements[1].level == "low"


def test_visible_whitespace_copied_from_prompts_is_undone(planted, weekday):
    copied = {"tests": [{"text": "See␣you␣on␣Monday.", "expect": "high"}, {"text": "See␣you.", "expect": "low"}]}
    state, _ = run(planted, weekday, with_role(truthful, "designer", copied))
    assert state.turns[2].measurements[0].text == "See you on Monday."


def test_a_dead_feature_stops_with_a_reason_and_no_llm_call(planted, weekday):
    dead = FeatureData(index=3, max_activation=0.0, density=0.0, hist_edges=[], hist_counts=[], top=[])
    llm = ScriptedLLM(truthful)
    state = SageLoop(planted, dead, llm).run()
    assert state.done and "never fired" in state.stop_reason and llm.calls == []


def test_results_folder_layout_and_files(planted, weekday, tmp_path):
    index, _ = weekday
    llm = ScriptedLLM(truthful, model="org/agent-model")
    state = explain(planted, 0, llm, index=index, output_dir=tmp_path)
    folder = run_dir(tmp_path, "org/agent-model", planted.model_name, "planted", 0)
    assert folder == tmp_path / "org_agent-model" / planted.model_name / "layer_planted" / "feature_0"
    for name in RESULT_FILES:
        assert (folder / name).exists(), name
    results = json.loads((folder / "structured_results.json").read_text())
    assert results["final_state"] == "done" and results["feature"] == 0
    assert [h["status"] for h in results["hypotheses"]] == ["accepted", "refuted"]
    assert results["token_usage"]["llm_calls"] == 7 and results["meta"]["agent_llm"] == "org/agent-model"
    assert (folder / "labels.txt").read_text().strip() == "weekday names"
    assert "H1 supports" in (folder / "evidence.txt").read_text()
    log = json.loads((folder / "log.json").read_text())
    assert [e["role"] for e in log] == [t.role for t in state.turns]
    assert log[2]["measurements"][0]["max_act"] > 0
    assert load_run(folder).explanation.description == state.explanation.description


def test_resume_after_an_interruption_loses_no_step(planted, weekday, tmp_path):
    index, fd = weekday
    whole = explain(planted, 0, ScriptedLLM(truthful), index=index)

    first = ScriptedLLM(truthful)
    from sage_nb.agent.api import feature_folder

    folder = feature_folder(tmp_path, first, planted, 0)
    SageLoop(planted, fd, first, save=folder.save).run(max_steps=3)
    saved = folder.load()
    assert saved.phase == "analyze" and len(saved.turns) == 4

    second = ScriptedLLM(truthful)
    resumed = explain(planted, 0, second, index=index, output_dir=tmp_path)
    assert [t.role for t in resumed.turns] == [t.role for t in whole.turns]
    assert resumed.turns[:4] == saved.turns
    assert first.calls == ["explainer", "designer", "designer"]
    assert second.calls == ["analyzer", "analyzer", "reviewer", "synthesis"]


def test_batch_skips_finished_features(planted, weekday, tmp_path):
    index, _ = weekday
    llm = ScriptedLLM(truthful)
    states = explain_features(planted, [0, 1], llm, index=index, output_dir=tmp_path, progress=False)
    assert all(s.done for s in states)
    calls = len(llm.calls)
    again = explain_features(planted, [0, 1], llm, index=index, output_dir=tmp_path, progress=False)
    assert len(llm.calls) == calls
    assert [s.explanation.description for s in again] == [s.explanation.description for s in states]


def test_unknown_feature_is_a_clear_error(planted, weekday):
    index, _ = weekday
    with pytest.raises(IndexError, match="has 12 features"):
        explain(planted, planted.d_sae + 5, ScriptedLLM(truthful), index=index)
    with pytest.raises(ValueError, match="index="):
        explain(planted, 0, ScriptedLLM(truthful))


def test_a_checkpoint_of_another_feature_is_refused(planted, weekday):
    _, fd = weekday
    state = SageLoop(planted, fd, ScriptedLLM(truthful)).run(max_steps=1)
    state.feature = 5
    with pytest.raises(ValueError, match="checkpoint is for feature 5"):
        SageLoop(planted, fd, ScriptedLLM(truthful), state=state)


def test_on_step_sees_every_step(planted, weekday):
    _, fd = weekday
    seen = []
    SageLoop(planted, fd, ScriptedLLM(truthful), on_step=lambda s: seen.append((s.phase, len(s.turns)))).run()
    assert seen[0] == ("explain", 1) and seen[-1][0] == "done"
    assert [n for _, n in seen] == sorted(n for _, n in seen)


RANDOM_POOL = [
    "We met on Monday morning.", "Call me on Friday after lunch.", "A tree grows slowly in sand.",
    "Numbers like 42 are here.", "Rain fell all night long.", "Friday was a quiet day.",
]  # fmt: skip


def test_random_designer_ablation_measures_pool_texts_without_designer_calls(planted, weekday):
    state, llm = run(planted, weekday, truthful, Bounds(tests_per_turn=4), designer="random", random_texts=RANDOM_POOL)
    assert "designer" not in llm.calls
    randoms = [m for t in state.turns if t.role == "designer" for m in t.measurements]
    assert randoms and all(m.source == "random" and m.text in RANDOM_POOL for m in randoms)
    h1 = state.hypothesis("H1")
    for m in h1.tests:  # expectation from the hypothesis's tokens, level measured
        assert m.expect == ("high" if "Monday" in m.text or "Friday" in m.text else "low")
        assert m.max_act == pytest.approx(planted.measure(m.text, state.feature).max_act, abs=1e-4)
    assert state.done and state.explanation is not None


def test_random_designer_needs_texts_and_designer_names_are_checked():
    with pytest.raises(ValueError, match="random_texts"):
        AgentConfig(designer="random")
    with pytest.raises(ValueError, match="designer must be"):
        AgentConfig(designer="oracle")


def test_a_synthesis_that_copies_the_prompt_example_is_repaired(planted, weekday):
    from sage_nb.agent.prompts import SYNTHESIS_EXAMPLE

    replies = iter([
        {"description": SYNTHESIS_EXAMPLE[0], "labels": list(SYNTHESIS_EXAMPLE[1])},
        {"description": "Fires on weekday names such as ␣Monday.", "labels": ["⟦weekday⟧ names"]},
    ])  # fmt: skip
    state, llm = run(planted, weekday, with_role(truthful, "synthesis", lambda *_: next(replies)))
    assert state.explanation.description == "Fires on weekday names such as Monday."
    assert state.explanation.labels == ["weekday names"]  # prompt marks undone
    synthesis = next(t for t in state.turns if t.role == "synthesis")
    assert synthesis.ok and llm.calls.count("synthesis") == 2  # the copy was rejected, the repair turn answered


def test_a_synthesis_repeating_a_designer_example_text_is_invalid_and_repeated_labels_merge():
    from pydantic import ValidationError

    from sage_nb.agent.prompts import DESIGNER_EXAMPLE, SYSTEM, SynthesisReply

    example_text = DESIGNER_EXAMPLE[1][0][0]
    assert f"'{example_text}'" in SYSTEM["designer"]  # the guarded text is the one the designer is shown
    with pytest.raises(ValidationError, match="copies the example"):
        SynthesisReply(description=f"  {example_text.upper()} ", labels=["weekday names"])
    inside = "The feature continues to fire on animal nouns such as cat and dog, most strongly after The."
    with pytest.raises(ValidationError, match="copies the example"):  # what the 135M synthesis wrote
        SynthesisReply(description=inside, labels=["weekday names"])
    own = SynthesisReply(description="Fires on weekday names such as Monday, most strongly after on.", labels=["days"])
    assert own.labels == ["days"]  # shares a few words with the example, not a run of six
    reply = SynthesisReply(description="Fires on weekday names.", labels=["items", " Items", "weekday names"])
    assert reply.labels == ["items", "weekday names"]


def computed_aware(role, messages, request):
    """:func:`truthful`, with weekday tests for the computed hypothesis too (it names the peak tokens)."""
    if role == "designer" and "Fires on '" in messages[-1]["content"]:
        return {"tests": WEEKDAY_TESTS}
    return truthful(role, messages, request)


def test_a_computed_hypothesis_opens_h1_and_is_tested_like_the_others(planted, weekday):
    _, fd = weekday
    state, llm = run(planted, weekday, computed_aware, Bounds(hypotheses=2), computed_hypothesis=True, pair_tests=False)
    h1, h2 = state.hypotheses
    assert h1.angle == COMPUTED_ANGLE and h1.claim == TopTokensExplainer().explain(fd).description
    assert h1.tokens and all(f"'{t}'" in h1.claim for t in h1.tokens)
    assert any(day in h1.tokens for day in ("Monday", "Friday", "Tuesday", "Sunday", "Thursday", "Wednesday"))
    assert h2.claim == "fires on weekday names"  # the explainer's best claim fills the other slot
    explainer = state.turns[1]
    assert "Propose 1 hypotheses." in explainer.prompt  # asked only for the slots left
    assert "H1 is computed from the evidence" in explainer.decision
    assert all(h["claim"] != h1.claim for h in explainer.reply["hypotheses"])  # the reply is the LLM's own
    example = explainer.measurements[0]  # a corpus window, measured: it fires
    assert example.level == "high" and example.text in "".join(fd.top[0].tokens)
    designed = [t for t in state.turns if t.role == "designer" and t.hypothesis == "H1"]
    assert designed and {m.text for m in h1.tests} == {t["text"] for t in WEEKDAY_TESTS}
    for m in h1.tests:
        assert m.max_act == pytest.approx(planted.measure(m.text, state.feature).max_act, abs=1e-4)
    assert h1.status == "accepted"  # by the analyzer, on tests that agree with their expectations


def test_the_computed_hypothesis_is_tested_with_measured_minimal_pairs_without_designer_calls(planted, weekday):
    """H1 names the peak tokens; its tests are corpus windows with them (high) and without them (low)."""
    bounds = Bounds(hypotheses=2, tests_per_turn=4, rounds_per_hypothesis=2)
    state, llm = run(planted, weekday, computed_aware, bounds, computed_hypothesis=True)
    h1, h2 = state.hypotheses
    paired = [t for t in state.turns if t.role == "designer" and t.hypothesis == "H1"]
    assert paired and all(t.prompt == "" and t.reply is None for t in paired)  # no LLM call for H1
    assert llm.calls.count("designer") == len([t for t in state.turns if t.role == "designer" and t.hypothesis == "H2"])
    assert "minimal pairs" in paired[0].decision
    assert h1.tests and all(m.source == "pairs" for m in h1.tests)
    assert len({m.text for m in h1.tests}) == len(h1.tests)  # a second round measures new windows
    for kept, removed in zip(h1.tests[::2], h1.tests[1::2], strict=True):
        assert (kept.expect, removed.expect) == ("high", "low")
        assert any(day in kept.text for day in h1.tokens) and not any(day in removed.text for day in h1.tokens)
        assert kept.max_act == pytest.approx(planted.measure(kept.text, state.feature).max_act, abs=1e-4)
        assert kept.level == "high" and removed.level == "low"  # the weekday rule: the day carries the feature
    assert h1.status == "accepted"


def test_minimal_pairs_take_out_the_named_class_and_fail_a_claim_that_is_too_narrow(planted):
    from sage_nb.agent.minimal_pairs import minimal_pairs
    from sage_nb.evidence import feature_scale

    _, fd = planted_feature_data(planted, "digit", ["In 1999 we paid 45 dollars for 3 books.", *CORPUS_DIGITS])
    scale = feature_scale(fd)
    peak = fd.top[0].tokens[fd.top[0].peak].strip()
    narrow = minimal_pairs(fd, [peak], scale)  # one digit named: the other digits stay in the removed text
    assert narrow and all(peak not in p.removed.split() for p in narrow)
    assert any(planted.measure(p.removed, fd.index).max_act >= 0.3 * scale for p in narrow)
    whole = minimal_pairs(fd, [peak], scale, classes=["digit"])  # '... usually a digit': every digit goes
    assert whole and not any(c.isdigit() for p in whole for c in p.removed)
    assert all(planted.measure(p.removed, fd.index).max_act < 0.1 * scale for p in whole)
    assert minimal_pairs(fd, [peak], scale, ["digit"], skip=[p.kept for p in whole]) == []
    assert minimal_pairs(fd, ["Monday"], scale) == []  # no window peaks on a token the claim names


def test_the_computed_hypothesis_carries_a_run_whose_explainer_fails(planted, weekday):
    state, _ = run(
        planted, weekday, with_role(computed_aware, "explainer", "{"), Bounds(hypotheses=2), computed_hypothesis=True
    )
    assert [h.angle for h in state.hypotheses] == [COMPUTED_ANGLE]
    assert state.stop_reason is None and state.explanation is not None
    assert not state.turns[1].ok  # the failed explainer call is on record


def test_designer_texts_that_copy_the_prompt_example_are_dropped_before_measuring(planted, weekday):
    from sage_nb.agent.prompts import DESIGNER_EXAMPLE, copies_designer_example

    written = [  # what the 135M designer wrote for a digit claim, and one real test
        {"text": "The cat slept.", "expect": "high"},
        {"text": "The dog barked at us.", "expect": "high"},  # one word swapped ('A' -> 'The'): still a copy
        {"text": "the car stopped!", "expect": "low"},
        {"text": "We met on Friday at noon.", "expect": "high"},
    ]
    bounds = Bounds(tests_per_turn=4, rounds_per_hypothesis=1)
    state, _ = run(planted, weekday, with_role(truthful, "designer", {"tests": written}), bounds)
    designed = [t for t in state.turns if t.role == "designer"]
    assert designed and all(len(t.measurements) == 1 for t in designed)
    assert all(t.measurements[0].text == "We met on Friday at noon." for t in designed)
    assert all("3 copied from the prompt's example dropped" in t.decision for t in designed)
    assert all(copies_designer_example(text) for text, _ in DESIGNER_EXAMPLE[1])
    assert not copies_designer_example("The cat slept on Monday.")  # adds what the claim names: a real test

    only_copies = {"tests": written[:3]}
    state, _ = run(planted, weekday, with_role(truthful, "designer", only_copies), Bounds(rounds_per_hypothesis=1))
    assert all(not h.tests and h.status != "refuted" for h in state.hypotheses)  # untested, so not refuted


def test_a_computed_claim_whose_removed_texts_still_fire_is_widened_by_measurement(planted):
    """'hours' carries most peaks, so H1 names it alone; the pairs' removed texts still fire on ' minutes' (a
    weaker time unit in the same windows): H1 gains it, with no LLM call, and its new pairs decide."""
    corpus = [f"Step {i}: wait ten minutes, then two hours more." for i in range(10)]
    corpus += [f"Tip {i}: wait five minutes." for i in range(2)] + ["The cat sat on the mat."] * 3
    feature = planted_feature_data(planted, "time_unit", corpus)
    bounds = Bounds(hypotheses=2, tests_per_turn=2, rounds_per_hypothesis=1)  # one pair per round
    state, llm = run(planted, feature, computed_aware, bounds, computed_hypothesis=True)
    h1 = state.hypotheses[0]
    assert h1.history and h1.history[0].startswith("Fires on 'hours'") and "'minutes'" not in h1.history[0]
    assert h1.tokens == ["hours", "minutes"] and h1.computed and h1.refinements == 1
    assert "also on 'minutes', which fired with the named tokens taken out" in h1.claim
    first, widened = [t for t in state.turns if t.role == "designer" and t.hypothesis == "H1"]
    assert any(m.expect == "low" and m.level == "high" and m.peak_token == " minutes" for m in first.measurements)
    assert "widened from the measurements" in widened.decision and widened.reply is None
    assert all(m.round >= h1.since for m in widened.measurements) and h1.current_tests == widened.measurements
    for m in widened.measurements:  # both units out of the removed texts: they stay silent
        assert m.agrees, m
    assert h1.status == "accepted"
    assert llm.calls.count("designer") == 1  # H2's round only


def test_a_description_rests_on_a_computed_hypothesis_only_by_naming_its_tokens_or_class():
    from sage_nb.agent.records import Hypothesis
    from sage_nb.agent.states import rests_on_accepted

    claim = "Fires on 'AL' (40% of the peak activation), 'USA' (20%); the peak token is usually a capitalised word."
    computed = Hypothesis("H1", claim, tokens=["AL", "USA"], status="accepted", computed=True)
    assert not rests_on_accepted("The AL cat ate the activation of the peak.", [computed])  # one token, template words
    assert rests_on_accepted("Acronyms such as USA and AL.", [computed])
    assert rests_on_accepted("Upper-case words and acronyms.", [computed])  # the class the claim names
    written = Hypothesis("H1", claim, tokens=["AL", "USA"], status="accepted")
    assert rests_on_accepted("The AL cat ate the activation of the peak.", [written])  # an LLM's claim: one token


@pytest.mark.parametrize(
    ("model", "settings", "opened", "samples"),
    [
        ("smollm2-135m", {}, True, SMALL_MODEL_SAMPLES - 1),  # the small embedded model: H1 computed, one sample fewer
        ("smollm2-135m", {"use_evidence": False}, False, SMALL_MODEL_SAMPLES),  # no evidence, no computed sentence
        ("smollm2-135m", {"computed_hypothesis": False}, False, SMALL_MODEL_SAMPLES),
        ("qwen2.5-coder-1.5b", {}, True, 1),  # the capable embedded model: H1 computed, one explainer call
        ("scripted", {}, False, 1),  # any other model: every hypothesis from the LLM
        ("scripted", {"computed_hypothesis": True}, True, 1),
    ],
)
def test_the_computed_hypothesis_is_on_by_default_for_embedded_models_only(
    planted, weekday, model, settings, opened, samples
):
    _, fd = weekday
    llm = ScriptedLLM(computed_aware, model=model)
    config = AgentConfig(bounds=Bounds(hypotheses=2), **settings)
    assert (config.computed_for(llm), config.samples_for(llm)) == (opened, samples)
    state = SageLoop(planted, fd, llm, config).run()
    h1 = state.hypotheses[0]
    assert (h1.angle == COMPUTED_ANGLE) is opened
    assert llm.calls.count("explainer") == samples


def test_a_replay_of_the_local_model_runs_with_its_defaults():
    llm = ScriptedLLM(computed_aware, model="smollm2-135m-instruct")  # the transformers engine's name for it
    llm.name = "replay:local"
    config = AgentConfig()
    assert config.computed_for(llm) and config.samples_for(llm) == SMALL_MODEL_SAMPLES - 1


def test_a_computed_hypothesis_that_fills_every_slot_needs_no_explainer_call(planted, weekday):
    _, fd = weekday
    state, llm = run(planted, weekday, computed_aware, Bounds(hypotheses=1), computed_hypothesis=True)
    assert "explainer" not in llm.calls and [h.claim for h in state.hypotheses] == [computed_candidate(fd)[0]]
    explainer = state.turns[1]
    assert explainer.role == "explainer" and explainer.prompt == "" and explainer.reply is None and explainer.ok
    assert "no LLM call" in explainer.decision
    assert explainer.measurements[0].level == "high"  # its example, a corpus window, measured
    assert state.hypotheses[0].tests and state.explanation is not None


def test_the_sage_loop_answers_the_explainer_protocol(planted, weekday, tmp_path):
    from sage_nb.agent import SageExplainer
    from sage_nb.explainers import Explainer, ExplainError

    _, fd = weekday
    sage = SageExplainer(planted, ScriptedLLM(truthful), AgentConfig(bounds=Bounds(hypotheses=2)), tmp_path)
    assert isinstance(sage, Explainer)
    never_fired = FeatureData((fd.index + 1) % planted.d_sae, 0.0, 0.0, [], [], [])
    candidate, failed = sage.explain_many([fd, never_fired])
    assert candidate.explainer == "sage" and candidate.feature == fd.index
    assert "weekday" in candidate.description.lower()
    assert isinstance(failed, ExplainError) and "never fired" in str(failed)


DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def class_turns(state) -> list:
    """The generalizer's turns that proposed a class, without those that tested an accepted class's breadth
    (:meth:`SageLoop._check_breadth`)."""
    return [t for t in state.turns if t.role == "generalizer" and "breadth" not in t.decision]


def breadth_turns(state) -> list:
    return [t for t in state.turns if t.role == "generalizer" and "breadth" in t.decision]


def generalizing(members, outside, name="weekday names"):
    """:func:`computed_aware`, whose generalizer names a class with ``members`` and non-members ``outside``."""
    return with_role(
        computed_aware, "generalizer", {"class_name": name, "new_members": members, "non_members": outside}
    )


def test_the_class_of_the_peak_tokens_is_tested_on_members_the_exemplars_never_showed(planted, weekday):
    """H2 generalises H1's tokens to their class; substituting unseen members in the peaks' place fires, a
    non-member does not: the class is accepted on measurements of texts the exemplars never held."""
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    unseen = [d for d in DAYS if d not in seen][:3]
    assert unseen  # the exemplars show some of the days only
    bounds = Bounds(hypotheses=3, tests_per_turn=4, rounds_per_hypothesis=2)
    policy = generalizing([seen[0], *unseen], ["January", "table"])
    state, llm = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    h1, h2, h3 = state.hypotheses
    assert h1.computed and h2.angle == "the class of the peak tokens" and not h3.members
    assert h2.members == unseen and h2.outside == ["January", "table"]  # a seen token is not a new member
    assert "weekday names" in h2.claim and all(f"'{d}'" in h2.claim for d in unseen)
    assert len(class_turns(state)) == 1 and state.turns[1].role == "generalizer"
    (breadth,) = breadth_turns(state)  # the scripted reply is no list of members: the breadth is not tested
    assert "breadth not tested: the generalizer failed" in breadth.decision and not breadth.measurements
    tests = [t for t in h2.tests if t.source == "substitutions"]
    assert tests and len({t.text for t in tests}) == len(tests)
    for member, outsider in zip(tests[::2], tests[1::2], strict=True):
        assert (member.expect, outsider.expect) == ("high", "low")
        assert any(d in member.text for d in unseen) and ("January" in outsider.text or "table" in outsider.text)
        assert member.max_act == pytest.approx(planted.measure(member.text, state.feature).max_act, abs=1e-4)
        assert member.level == "high" and outsider.level == "low"
    turns = [t for t in state.turns if t.role == "designer" and t.hypothesis == "H2"]
    assert turns and all(t.prompt == "" for t in turns) and "unseen member" in turns[0].decision
    assert h2.status == "accepted"
    synthesis = next(t for t in state.turns if t.role == "synthesis")
    board = synthesis.prompt.split("Accepted:")[0]
    assert board.index("H2") < board.index("H1")  # the broader accepted claim is read first


def test_a_wrong_class_is_refuted_by_its_substitutions(planted, weekday):
    bounds = Bounds(hypotheses=2, tests_per_turn=4, rounds_per_hypothesis=2)
    policy = generalizing(["January", "March", "July"], ["noon", "table"], name="month names")
    state, _ = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    h1, h2 = state.hypotheses
    assert h2.members == ["January", "March", "July"]
    assert h2.tests and all(t.level == "low" for t in h2.tests)  # months in a weekday's place do not fire
    assert h1.status == "accepted" and h2.status == "refuted"


def test_a_generalizer_without_new_members_opens_no_class_and_is_off_by_default(planted, weekday):
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    policy = generalizing(list(seen), ["noon", "table"])
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    assert not any(h.members for h in state.hypotheses)
    assert "no new member" in state.turns[1].decision and "members of 'weekday names' alone" in state.turns[1].decision
    assert llm.calls.count("generalizer") == 2 and "no new member" in state.turns[2].decision
    assert "The feature peaks on" not in state.turns[2].prompt  # the members call shows the class name alone
    nameless = with_role(computed_aware, "generalizer", {"class_name": "???", "new_members": list(seen),
                                                         "non_members": ["noon", "table"]})  # fmt: skip
    state, llm = run(planted, weekday, nameless, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    assert "once more (sampled)" in state.turns[1].decision and llm.calls.count("generalizer") == 2
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True)
    assert "generalizer" not in llm.calls


def test_a_generalizer_that_copies_the_seen_tokens_is_asked_for_members_of_its_class(planted, weekday):
    """The 1.5B generalizer named the class but listed the seen tokens as new members; asked for members of the
    class alone (the seen tokens not shown), it names others, and the class is tested on them."""
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    unseen = [d for d in DAYS if d not in seen]

    def generalizer(role, messages, request):
        if "The feature peaks on" in messages[-1]["content"]:
            return {"class_name": "weekday names", "new_members": list(seen), "non_members": ["noon", "table"]}
        lowered = [d.lower() for d in unseen[:2]]  # the 1.5B wrote 'tuesday': members take the seen tokens' case
        return {"class_name": "weekday names", "new_members": [seen[0], *lowered], "non_members": ["noon", "x"]}

    policy = with_role(computed_aware, "generalizer", generalizer)
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    h2 = state.hypotheses[1]
    assert len(class_turns(state)) == 2 and h2.class_name == "weekday names"
    assert h2.members == unseen[:2] and h2.status == "accepted"


def test_a_refuted_class_asks_for_a_narrower_one_told_what_fired(planted, weekday):
    """A class too broad for the feature ('calendar words': months and weekdays) is refuted by its substitutions;
    the generalizer is told which members fired and which stayed silent, and its narrower class is opened as a new
    hypothesis, tested the same way and accepted."""
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    unseen = [d for d in DAYS if d not in seen]
    asked = []

    def generalizer(role, messages, request):
        asked.append(messages[-1]["content"])
        if "was tested" in messages[-1]["content"]:
            return {"class_name": "weekday names", "new_members": unseen[:2], "non_members": ["noon", "table"]}
        return {"class_name": "calendar words", "new_members": ["January", "March", unseen[0]],
                "non_members": ["noon", "table"]}  # fmt: skip

    policy = with_role(computed_aware, "generalizer", generalizer)
    bounds = Bounds(hypotheses=2, tests_per_turn=6)
    state, llm = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    h1, h2, h3 = state.hypotheses
    assert h2.class_name == "calendar words" and h2.status == "refuted"
    assert "stayed silent on 'January'" in asked[1]  # the fixture's corpus holds one window for substitutions
    assert h3.class_name == "weekday names" and h3.members == unseen[1:2]  # a member already tested is dropped
    assert h3.status == "accepted" and any(t.source == "substitutions" for t in h3.tests)
    assert len(class_turns(state)) == 2  # the narrower class held: no further class asked for

    def same_again(role, messages, request):
        return {"class_name": "Calendar Words", "new_members": ["April", unseen[1]], "non_members": ["noon", "x"]} if (
            "was tested" in messages[-1]["content"]) else generalizer(role, messages, request)  # fmt: skip

    policy = with_role(computed_aware, "generalizer", same_again)
    state, llm = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    decisions = [t.decision for t in state.turns if t.role == "generalizer"]
    assert len(state.hypotheses) == 2 and "the refuted class 'calendar words' named again" in decisions[1]


def seen_and_unseen_days(weekday) -> tuple[list[str], list[str]]:
    """The computed H1's tokens on the weekday feature, and the weekday names among DAYS it does not hold."""
    seen = computed_candidate(weekday[1])[2]
    return seen, [d for d in DAYS if d not in seen]


def test_narrower_classes_are_asked_for_until_one_holds_at_most_max_classes(planted, weekday):
    from sage_nb.agent.states import MAX_CLASSES

    _, unseen = seen_and_unseen_days(weekday)
    names = iter(["calendar words", "dates and days", "weekday names", "day words"])

    def generalizer(role, messages, request):
        if request.schema is prompts.BreadthReply:  # the accepted class's breadth: more weekdays, which fire
            return {"members": unseen[3:5]}
        name = next(names)
        members = ["January", "March"] if name != "weekday names" else unseen[:2]
        if name == "dates and days":
            members = ["July", unseen[2]]  # a month again: too broad once more
        return {"class_name": name, "new_members": members, "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", generalizer)
    bounds = Bounds(hypotheses=2, tests_per_turn=6, llm_calls=60)
    state, llm = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    classes = [h for h in state.hypotheses if h.class_name]
    assert MAX_CLASSES == 3 and len(classes) == 3 and len(class_turns(state)) == 3
    assert [h.status for h in classes] == ["refuted", "refuted", "accepted"] and classes[2].breadth_checked
    assert classes[2].class_name == "weekday names"


def test_an_accepted_class_is_tested_on_varied_members_and_a_silent_one_asks_for_a_narrower_class(planted, weekday):
    """time_unit in the v9 run: 'time words' held, since every member the 1.5B listed first was a unit of time.
    Asked for the class's members as varied as it allows, it listed 'morning', 'noon', ...: put in the peaks'
    place they stay silent, so the class is refuted and a narrower one is asked for, told which fired."""
    seen, unseen = seen_and_unseen_days(weekday)
    asked = []

    def generalizer(role, messages, request):
        content = messages[-1]["content"]
        asked.append(content)
        if request.schema is prompts.BreadthReply:  # 'day' names the class: no member of it
            return {"members": [unseen[2], "day", "today", "Tomorrow", "yesterday", unseen[2]]}
        if "was tested" in content:
            return {"class_name": "weekday names", "new_members": unseen[3:5], "non_members": ["noon", "table"]}
        return {"class_name": "day words", "new_members": unseen[:2], "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", generalizer)
    bounds = Bounds(hypotheses=2, tests_per_turn=4, llm_calls=40)
    state, llm = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    broad, narrow = state.hypotheses[1:]
    assert asked[1] == prompts.class_breadth_messages("day words")[1]["content"]  # the class name alone
    breadth = next(t for t in state.turns if "breadth of 'day words'" in t.decision)
    # a repeated member is measured once; members take the seen tokens' case ('Today')
    assert [m.level for m in breadth.measurements] == ["high", "low", "low", "low"]
    assert f"fired on '{unseen[2]}' and stayed silent on 'Today', 'Tomorrow', 'Yesterday'; refuted" in breadth.decision
    assert broad.class_name == "day words" and broad.status == "refuted" and broad.breadth_checked
    assert "'Today', 'Tomorrow', 'Yesterday'" in broad.reason and {"Today", "Yesterday"} <= set(broad.members)
    assert "stayed silent on 'Today', 'Tomorrow', 'Yesterday'" in asked[2]  # a narrower class is asked for
    assert narrow.class_name == "weekday names" and narrow.status == "accepted" and not narrow.breadth_checked
    assert llm.calls.count("generalizer") == 3  # the first class, its breadth, the narrower class: once per run

    def all_fire(role, messages, request):  # a class as broad as the feature stands
        if request.schema is prompts.BreadthReply:
            return {"members": unseen[2:5]}
        return {"class_name": "weekday names", "new_members": unseen[:2], "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", all_fire)
    state, _ = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    h2 = state.hypotheses[1]
    assert [h.class_name for h in state.hypotheses if h.class_name] == ["weekday names"]
    assert h2.status == "accepted" and h2.breadth_checked and set(unseen[2:5]) <= set(h2.members)
    (turn,) = breadth_turns(state)
    assert "it stands" in turn.decision and all(m.level == "high" for m in turn.measurements)

    def a_few_silent(role, messages, request):  # the 1.5B's '<>' for 'comparison operators': a mistake, not breadth
        if request.schema is prompts.BreadthReply:
            return {"members": [unseen[2], unseen[3], "today", "noon"]}
        return all_fire(role, messages, request)

    policy = with_role(computed_aware, "generalizer", a_few_silent)
    state, _ = run(planted, weekday, policy, bounds, computed_hypothesis=True, generalize=True)
    h2 = state.hypotheses[1]
    (turn,) = breadth_turns(state)
    assert [m.level for m in turn.measurements] == ["high", "high", "low", "low"]
    assert "stayed silent on 'Today', 'Noon'; it stands (fewer than 3 or half silent" in turn.decision
    assert h2.status == "accepted" and "Today" not in h2.members and unseen[3] in h2.members


def test_a_class_name_that_names_no_class_is_asked_for_again_told_why(planted, weekday):
    """The 1.5B named the class of all-caps pieces 'whole word' (the evidence's word-position label) and strung
    'return class' from the tokens; such a name is not tested: the generalizer is asked again, told why."""
    seen, unseen = seen_and_unseen_days(weekday)
    asked = []

    def generalizer(role, messages, request):
        asked.append(messages[-1]["content"])
        name = "weekday names" if "Not 'whole word'" in messages[-1]["content"] else "whole word"
        return {"class_name": name, "new_members": unseen[:2], "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", generalizer)
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    decisions = [t.decision for t in state.turns if t.role == "generalizer"]
    assert "'whole word' names no class" in decisions[0] and "told why" in decisions[0]
    assert asked[1].startswith(asked[0]) and "what kind of word or symbol" in asked[1]
    assert state.hypotheses[1].class_name == "weekday names" and state.hypotheses[1].status == "accepted"

    def renamed_with_seen_members(role, messages, request):  # python_keyword in the v4 run: 'keyword', seen tokens
        content = messages[-1]["content"]
        if "The class is 'weekday names'" in content:
            return {"class_name": "weekday names", "new_members": unseen[:2], "non_members": ["noon", "table"]}
        name = "weekday names" if "Not 'whole word'" in content else "whole word"
        return {"class_name": name, "new_members": list(seen), "non_members": list(seen)}

    policy = with_role(computed_aware, "generalizer", renamed_with_seen_members)
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    decisions = [t.decision for t in state.turns if t.role == "generalizer"]
    assert len(class_turns(state)) == 3 and "members of 'weekday names' alone" in decisions[1]
    assert state.hypotheses[1].class_name == "weekday names" and state.hypotheses[1].members == unseen[:2]

    def two_problems(role, messages, request):  # sentence_start in the v6 run: 'whole word', then 'keyword'
        content = messages[-1]["content"]
        name = "weekday names" if "Not 'keyword'" in content else "keyword" if "Not 'whole word'" in content else (
            "whole word")  # fmt: skip
        return {"class_name": name, "new_members": unseen[:2], "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", two_problems)
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    decisions = [t.decision for t in state.turns if t.role == "generalizer"]
    assert len(class_turns(state)) == 3 and "'keyword' names no class: it names a bare kind" in decisions[1]
    # a bare kind's members are measured before it is asked again; none stayed silent, so the request is as before
    assert f"its members in the peaks' place: the feature fired on '{unseen[0]}'" in decisions[1]
    assert "stayed silent" not in asked[2]
    assert state.hypotheses[1].class_name == "weekday names"

    from sage_nb.agent.states import CLASS_CALLS

    def three_problems(role, messages, request):  # each problem told once; the fourth call is the last
        content = messages[-1]["content"]
        told = [n for n in ("whole word", "keyword", seen[0]) if f"Not '{n}'" in content]
        name = ["whole word", "keyword", seen[0], "weekday names"][len(told)]
        return {"class_name": name, "new_members": list(seen), "non_members": ["noon", "table"]}

    policy = with_role(computed_aware, "generalizer", three_problems)
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    decisions = [t.decision for t in state.turns if t.role == "generalizer"]
    assert llm.calls.count("generalizer") == CLASS_CALLS == 4 and not any(h.class_name for h in state.hypotheses)
    assert all("told why" in d for d in decisions[:3])
    assert decisions[3] == "no class hypothesis: no new member or non-member"  # no call is left to ask

    stubborn = with_role(computed_aware, "generalizer", {"class_name": seen[0], "new_members": unseen[:2],
                                                         "non_members": ["noon", "table"]})  # fmt: skip
    state, llm = run(planted, weekday, stubborn, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    assert llm.calls.count("generalizer") == 2 and not any(h.class_name for h in state.hypotheses)


def test_a_bare_keyword_for_python_keywords_in_code_is_tested_as_python_keywords(planted):
    """The v7 run's generalizer answered 'keyword' three times for the planted python_keyword, and each was
    rejected as a bare kind. Every seen token is a Python keyword, in code: the loop tests 'Python keywords',
    keeping the members that are keywords and the non-members that are not."""
    corpus = ["def f(x):\n    return x + 1\n", "class A:\n    pass\n", "for i in range(3):\n    continue\n",
              "def g(y):\n    return y * 2\n", "class B(A):\n    return None\n", *CORPUS_DIGITS]  # fmt: skip
    _, fd = planted_feature_data(planted, "python_keyword", corpus)
    reply = {"class_name": "keyword", "new_members": ["while", "yield", "function"], "non_members": ["banana",
             "else", "table"]}  # fmt: skip
    loop = SageLoop(planted, fd, ScriptedLLM(with_role(computed_aware, "generalizer", reply)),
                    AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True, generalize=True))  # fmt: skip
    state = loop.run()
    h2 = state.hypotheses[1]
    assert h2.class_name == "Python keywords" and h2.members == ["while", "yield"] and h2.outside == ["banana", "table"]
    (turn,) = class_turns(state)
    assert "'keyword', qualified by the evidence" in turn.decision
    assert h2.status == "accepted"
    # the v8 run: every non-member it offered was a Python keyword; words of the mined windows stand in
    reply = {**reply, "non_members": ["def", "import"]}
    loop = SageLoop(planted, fd, ScriptedLLM(with_role(computed_aware, "generalizer", reply)),
                    AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True, generalize=True))  # fmt: skip
    state = loop.run()
    h2 = state.hypotheses[1]
    assert h2.class_name == "Python keywords" and len(h2.outside) == 2 and h2.status == "accepted"
    (turn,) = class_turns(state)
    assert "every seen token is one; its non-members are words of the mined windows) proposed" in turn.decision
    window_words = " ".join(corpus)
    assert all(w.isidentifier() and w in window_words and not keyword.iskeyword(w) for w in h2.outside)
    # the namer oracle's run: handed 'Python keywords', the 1.5B listed 'def', 'import', 'from' as non-members
    reply = {"class_name": "Python keywords", "new_members": ["while", "function"], "non_members": ["def", "banana",
             "import", "table"]}  # fmt: skip
    loop = SageLoop(planted, fd, ScriptedLLM(with_role(computed_aware, "generalizer", reply)),
                    AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True, generalize=True))  # fmt: skip
    h2 = loop.run().hypotheses[1]
    assert h2.members == ["while"] and h2.outside == ["banana", "table"] and h2.status == "accepted"


def test_a_bare_kind_of_punctuation_for_closing_brackets_is_tested_as_closing_brackets(planted):
    """closing_bracket in the v8 and v9 runs: 'punctuation', then 'special characters', each rejected as a bare
    kind. Every seen token holds a closing bracket, so the loop tests 'closing brackets', keeping the members that
    hold one (']', not '(' or '[')."""
    corpus = ["f(g(x), [1, 2])\n", "print(len(items))\n", "a = {'k': (1, 2)}\n", "if (x and (y or z)):\n",
              "call(a)(b)\n", *CORPUS_DIGITS]  # fmt: skip
    _, fd = planted_feature_data(planted, "closing_bracket", corpus)
    seen = computed_candidate(fd)[2]
    assert seen and all(")" in t for t in seen)
    reply = {"class_name": "punctuation", "new_members": ["(", "[", "]"], "non_members": ["a", "1"]}
    loop = SageLoop(planted, fd, ScriptedLLM(with_role(computed_aware, "generalizer", reply)),
                    AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True, generalize=True))  # fmt: skip
    state = loop.run()
    (first,) = class_turns(state)
    assert "class 'closing brackets' (the generalizer's 'punctuation', qualified by the evidence" in first.decision
    h2 = state.hypotheses[1]
    assert h2.class_name == "closing brackets" and h2.members == ["]"] and h2.outside == ["a", "1"]
    assert h2.status == "accepted"


def test_a_bare_kind_is_measured_and_renamed_from_what_fired_then_tested_against_its_own_shape(planted):
    """A bare kind the evidence cannot qualify ('punctuation' for '==', '!=', '>') is not tested, but its members
    are put in the peaks' place first, and the generalizer is asked again told which fired ('+', '<') and which
    stayed silent ('('). Its narrower 'comparison operators' keeps '(' as a control: a symbol stands outside
    'comparison operators', though a digit would not stand outside 'digits'."""
    corpus = ["if a == b:\n", "while x != y:\n", "z = p > q\n", "ok = m == n\n", "t = u != v\n", *CORPUS_DIGITS]
    _, fd = planted_feature_data(planted, "binary_operator", corpus)
    seen = computed_candidate(fd)[2]
    assert seen and all(not any(c.isalnum() for c in t.strip()) for t in seen)
    asked = []

    def generalizer(role, messages, request):
        asked.append(messages[-1]["content"])
        if "stayed silent" in messages[-1]["content"]:
            return {"class_name": "comparison operators", "new_members": ["<", ">="], "non_members": ["(", "a"]}
        return {"class_name": "punctuation", "new_members": ["+", "(", "<"], "non_members": ["a", "1"]}

    loop = SageLoop(planted, fd, ScriptedLLM(with_role(computed_aware, "generalizer", generalizer)),
                    AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True, generalize=True))  # fmt: skip
    state = loop.run()
    first = next(t for t in state.turns if t.role == "generalizer")
    assert "'punctuation' names no class" in first.decision
    assert len(first.measurements) == 3 and all(m.source == "substitutions" for m in first.measurements)
    assert [m.level for m in first.measurements] == ["high", "low", "high"]  # '+', '(' and '<' in a peak's place
    assert "stayed silent on '('" in asked[1] and "fired on '+', '<'" in asked[1] and len(class_turns(state)) == 2
    h2 = state.hypotheses[1]
    assert h2.class_name == "comparison operators" and "(" in h2.outside and h2.status == "accepted"


def test_class_members_take_the_case_the_seen_tokens_share():
    from sage_nb.agent.loop import in_case_of

    assert in_case_of(["Monday", " Sunday"], "tuesday") == "Tuesday"
    assert in_case_of(["AL", "ED"], "max_size") == "MAX_SIZE"
    assert in_case_of(["return", "class"], "Else") == "Else"  # lower case (or mixed) seen tokens: as written
    assert in_case_of(["Monday", "May"], "42") == "42"


def test_with_two_slots_the_class_takes_the_second_and_no_explainer_call_is_made(planted, weekday):
    _, fd = weekday
    unseen = [d for d in DAYS if d not in computed_candidate(fd)[2]]
    policy = generalizing(unseen[:2], ["noon", "table"])
    state, llm = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    assert [h.id for h in state.hypotheses] == ["H1", "H2"] and state.hypotheses[1].members == unseen[:2]
    assert "explainer" not in llm.calls and len(class_turns(state)) == 1


def test_a_synthesis_that_drops_an_accepted_class_is_replaced_by_the_accepted_claims(planted, weekday):
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    unseen = [d for d in DAYS if d not in seen]
    narrow = {"description": f"Fires on '{seen[0]}' and '{seen[-1]}'.", "labels": [seen[0], seen[-1]]}
    policy = with_role(generalizing(unseen[:3], ["noon", "table"]), "synthesis", narrow)
    state, _ = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    h1, h2 = state.hypotheses
    assert h2.status == "accepted" and h2.class_name == "weekday names"
    assert state.explanation.source == "hypotheses" and state.explanation.description.startswith(h2.claim)
    assert "does not name the accepted class" in state.turns[-1].decision
    kept = with_role(generalizing(unseen[:3], ["noon", "table"]), "synthesis",
                     {"description": "Fires on weekday names such as Monday.", "labels": ["weekday"]})  # fmt: skip
    state, _ = run(planted, weekday, kept, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    assert state.explanation.source == "synthesis"  # 'weekday' names the class


def test_a_non_member_that_shares_the_seen_tokens_shape_is_dropped(planted):
    """Every seen token is a digit: a digit proposed as outside the class is a member, not a control."""
    index, fd = planted_feature_data(planted, "digit", ["In 1999 we paid 45 dollars for 3 books.", *CORPUS_DIGITS])
    seen = computed_candidate(fd)[2]
    assert seen and all(t.strip().isdigit() for t in seen)
    members = [d for d in "0123456789" if d not in seen][:2]
    policy = with_role(computed_aware, "generalizer", {"class_name": "digits", "new_members": members,
                                                        "non_members": ["2", "apple", "table"]})  # fmt: skip
    loop = SageLoop(planted, fd, ScriptedLLM(policy), AgentConfig(Bounds(hypotheses=2), computed_hypothesis=True,
                                                                  generalize=True))  # fmt: skip
    state = loop.run()
    h2 = state.hypotheses[1]
    assert h2.class_name == "digits" and h2.outside == ["apple", "table"]


def test_the_context_probe_says_a_token_feature_fires_in_plain_sentences(planted, weekday):
    bounds = Bounds(hypotheses=1, tests_per_turn=4)
    state, llm = run(planted, weekday, computed_aware, bounds, computed_hypothesis=True, context_probe=True)
    (h1,) = state.hypotheses
    probe = [t for t in h1.tests if t.source == "context"]
    plain = [t for t in probe if t.text.startswith(("The word", "I wrote"))]
    (quoted,) = [t for t in probe if t not in plain]  # the mined context stays in view
    assert plain and all(t.expect == "high" and t.level == "high" for t in [*plain, quoted])
    assert f"it fires most in contexts like '{quoted.text}', and on 'Monday'" in h1.claim
    assert h1.claim.endswith("in plain sentences too.") and "any text" not in h1.claim and h1.history
    assert h1.status == "accepted" and any(t.decision.startswith("context probe") for t in state.turns)


def test_the_context_probe_quotes_a_measured_context_when_plain_sentences_stay_silent(planted):
    corpus = ['x = "open the file now"\n', 'msg = "close the door"\n', 'y = "open it"\nprint(y)\n',
              "Please open the window.\n", *CORPUS_DIGITS]  # fmt: skip
    index, fd = planted_feature_data(planted, "string_literal", corpus)
    loop = SageLoop(planted, fd, ScriptedLLM(computed_aware), AgentConfig(Bounds(hypotheses=1, tests_per_turn=4),
                    computed_hypothesis=True, context_probe=True))  # fmt: skip
    (h1,) = loop.run().hypotheses
    probe = [t for t in h1.tests if t.source == "context"]
    plain = [t for t in probe if t.text.startswith(("The word", "I wrote"))]
    quoted = [t for t in probe if t not in plain]
    assert plain and all(t.level == "low" and t.expect == "low" for t in plain)
    assert len(quoted) == 1 and quoted[0].level == "high" and '"' in quoted[0].text
    assert f"it fires most in contexts like '{quoted[0].text}'" in h1.claim and "not on" in h1.claim


def test_a_designer_control_that_holds_a_named_token_is_dropped_before_measuring(planted, weekday):
    """The 1.5B designer wrote 'The cat slept on Monday.' expecting low for a weekday claim, and the measured 8.0
    refuted a true claim. A control must leave out what the claim names, so such a test is dropped."""
    written = [
        {"text": "The cat slept on Monday.", "expect": "low"},
        {"text": "We met at noon by the river.", "expect": "low"},
        {"text": "Tuesday was cold and wet.", "expect": "high"},
    ]
    bounds = Bounds(hypotheses=2, tests_per_turn=4, rounds_per_hypothesis=1)
    state, _ = run(planted, weekday, with_role(truthful, "designer", {"tests": written}), bounds)
    h1 = state.hypothesis("H1")
    assert h1.tokens == ["Monday", "Friday"] and "Monday" not in " ".join(t.text for t in h1.tests)
    turn = next(t for t in state.turns if t.role == "designer" and t.hypothesis == "H1")
    assert "1 expected low though they hold a named token dropped" in turn.decision
    assert h1.status == "accepted"


def test_a_synthesis_that_names_refuted_members_is_replaced_by_the_accepted_claims(planted, weekday):
    """On the planted closing-bracket feature the 1.5B synthesis copied a refuted class ("also on '(', '['"): a
    description may not name members whose substitutions did not fire."""
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    months = ["January", "March", "July"]
    said = f"Fires on '{seen[0]}' and '{seen[-1]}', and on months like January and March."
    wrong = {"description": said, "labels": ["dates"]}
    policy = with_role(generalizing(months, ["noon", "table"], name="month names"), "synthesis", wrong)
    state, _ = run(planted, weekday, policy, Bounds(hypotheses=2), computed_hypothesis=True, generalize=True)
    h1, h2 = state.hypotheses
    assert h1.status == "accepted" and h2.status == "refuted"
    assert state.explanation.source == "hypotheses" and "January" not in state.explanation.description
    assert "names members its tests refuted ('January', 'March')" in state.turns[-1].decision


def test_a_synthesis_that_quotes_a_probe_sentence_as_a_context_is_replaced(planted, weekday):
    """On real feature 418 the 1.5B synthesis wrote "most strongly after 'The word inity is in this sentence.'": a
    plain sentence the context probe made up is no context the feature was found in."""
    _, fd = weekday
    seen = computed_candidate(fd)[2]
    said = f"Fires on '{seen[0]}' and '{seen[-1]}', most strongly after 'The word {seen[0]} is in this sentence.'"
    policy = with_role(truthful, "synthesis", {"description": said, "labels": [seen[0], seen[-1]]})
    state, _ = run(planted, weekday, policy, Bounds(hypotheses=1), computed_hypothesis=True)
    assert state.hypotheses[0].status == "accepted"
    assert state.explanation.source == "hypotheses" and "in this sentence" not in state.explanation.description
    assert "quotes a plain sentence of the context probe as a context" in state.turns[-1].decision


def test_quotes_plain_frame_knows_each_frame_with_any_word():
    from sage_nb.agent.context_probe import PLAIN_FRAMES, plain_sentences, quotes_plain_frame

    assert all(quotes_plain_frame(f"after '{s}'") for s in plain_sentences("inity"))
    assert quotes_plain_frame("after 'i wrote None on the board today'")  # case and the full stop do not matter
    assert not quotes_plain_frame("The word 'inity' ends 'infinity' in this sentence.")
    assert len(PLAIN_FRAMES) == 2


CAPS_CORPUS = [
    "mode = ZIP_STORED if small else ZIP_DEFLATED\n",
    "if level == LOGGING_LEVEL:\n    return None\n",
    "The flag is SEEK_CUR here.\n",
    "with open(path) as f:\n    data = f.read()\n",
    *CORPUS_DIGITS,
]


def test_a_peak_token_that_is_a_piece_of_a_word_is_generalised_and_substituted_as_the_whole_word(planted):
    """All-caps words split into pieces ('ZIP_STOR' + 'ED'): the generalizer is shown the whole words, and a
    substitution replaces the whole word, so 'MAX_SIZE' in place of 'ZIP_STORED' tests the class, not
    'ZIP_STORMAX_SIZE'."""
    from sage_nb.agent.substitutions import peak_words, substituted
    from sage_nb.core.text import word_span

    _, fd = planted_feature_data(planted, "all_caps", CAPS_CORPUS)
    ex = max(fd.top, key=lambda e: e.max_act)
    lo, hi = word_span(ex.tokens, ex.peak)
    word = "".join(ex.tokens[lo:hi]).strip()
    assert hi - lo > 1 and word.isupper() and word in "".join(CAPS_CORPUS)  # the peak is one piece of it
    text = substituted(ex, "retry")
    assert word not in text and "retry" in text and not any(piece in text for piece in ("STOR", "DEFL", "LOGG"))
    seen = computed_candidate(fd)[2]
    words = peak_words(fd, seen)
    assert words and all(len(w) > len(t) for t, ws in words.items() for w in ws)
    copied = next(iter(words.values()))[0]  # a seen whole word listed back as a member is dropped
    policy = with_role(computed_aware, "generalizer", {"class_name": "all-caps constants",
                       "new_members": [copied, "MAX_SIZE", "HTTP_PORT"], "non_members": ["size", "value"]})  # fmt: skip
    loop = SageLoop(planted, fd, ScriptedLLM(policy), AgentConfig(Bounds(hypotheses=2, tests_per_turn=4),
                    computed_hypothesis=True, generalize=True))  # fmt: skip
    state = loop.run()
    assert "(a piece of '" in state.turns[1].prompt
    h2 = state.hypotheses[1]
    assert h2.members == ["MAX_SIZE", "HTTP_PORT"]
    tests = [t for t in h2.tests if t.source == "substitutions"]
    assert tests and all((t.level == "high") == (t.expect == "high") for t in tests)
    assert h2.status == "accepted"


def test_the_context_probe_judges_a_plain_sentence_on_the_probed_word_not_its_frame(planted):
    """A feature of sentence starts fires on 'The' of "The word This is ...": the frame fired, not 'This'. The probe
    reads the word's own activation, so it does not claim 'This' fires in any text, and quotes a measured tail."""
    corpus = ["It rained. This was bad. Then it stopped.", "We left early. Return home now. This is it.",
              "I said this once. We wrote this down.", *CORPUS_DIGITS]  # fmt: skip
    _, fd = planted_feature_data(planted, "sentence_start", corpus)
    loop = SageLoop(planted, fd, ScriptedLLM(computed_aware), AgentConfig(Bounds(hypotheses=1, tests_per_turn=4),
                    computed_hypothesis=True, context_probe=True))  # fmt: skip
    (h1,) = loop.run().hypotheses
    plain = [t for t in h1.tests if t.source == "context" and t.text.startswith(("The word", "I wrote"))]
    assert plain and all(t.level == "high" for t in plain)  # the frames' first words fire
    assert "plain sentences too" not in h1.claim and "fires most in contexts like" in h1.claim
    assert all(t.expect is None for t in plain)  # their maximum is the frame's, shown without an expectation


def test_the_quoted_contexts_hold_whole_words_not_pieces(planted):
    """The v8 run quoted '. NO WARRAN' (577) and 'IZONTAL' (all_caps): tails that began or ended inside a word.
    A tail now starts where its first word starts and ends where the peak's word ends."""
    from sage_nb.agent.context_probe import context_tails

    corpus = ["align = HORIZONTAL_CENTER + MAX_SIZE", "if MAX_BUFFER_SIZE > 10: pass", "x = ZIP_STORED or None",
              *CORPUS_DIGITS]  # fmt: skip
    _, fd = planted_feature_data(planted, "all_caps", corpus)
    seen = computed_candidate(fd)[2]
    tails = context_tails(fd, seen)
    words = {w for text in corpus for w in re.findall(r"\w+", text)} | {"endoftext"}  # the windows' text marker
    assert tails
    for tail in tails:
        assert all(w in words for w in re.findall(r"\w+", tail)), tail  # every word of a tail is a whole word
    assert any(t.endswith(("HORIZONTAL_CENTER", "MAX_SIZE", "MAX_BUFFER_SIZE", "ZIP_STORED")) for t in tails)


def test_members_copied_from_the_generalizers_prompt_are_dropped():
    """The v5 run's members call for 'keyword' listed 'autoencoder', 'sparse', 'feature', 'peaks': words of the
    generalizer's own system prompt. They are dropped; a seen token that is also a prompt word is not a member."""
    from sage_nb.agent.loop import _class_of
    from sage_nb.agent.prompts import GeneralizerReply

    reply = GeneralizerReply(class_name="keyword", new_members=["autoencoder", "Peaks", "while", "yield"],
                             non_members=["tokens", "apple"])  # fmt: skip
    name, members, outside = _class_of(reply, ["return", "class"])
    assert (name, members, outside) == ("keyword", ["while", "yield"], ["tokens", "apple"])  # controls stay
