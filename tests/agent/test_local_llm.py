"""The loop with the real offline LLM (SmolLM2-135M-Instruct, schema-constrained) on planted features."""

from __future__ import annotations

import pytest

from sage_nb.agent import AgentConfig, Bounds, explain

# Not in the CI steps: each run takes minutes of constrained generation on 2 cores, and on a machine shared with two
# other local-LLM processes the digit run passed pytest-timeout's 900 s in its review step. Run by hand:
# pytest -m local_agent
pytestmark = [pytest.mark.slow, pytest.mark.local_agent]

FEATURES = ("digit", "closing_bracket")


@pytest.fixture(scope="module")
def planted_index(planted):
    from sage_nb.data.contexts import corpus_contexts
    from sage_nb.data.corpus import default_corpus
    from sage_nb.data.index import mine

    contexts = corpus_contexts(default_corpus().split(held_out=False), planted.tokenizer, max_contexts=600)
    return mine(planted, contexts, top_k=10, samples=5, progress=False)


@pytest.fixture(scope="module")
def local_llm():
    from sage_nb.llm import make_llm

    return make_llm("local")


@pytest.mark.parametrize("name", FEATURES)
def test_local_llm_runs_to_a_synthesis_within_bounds(planted, planted_index, local_llm, name, tmp_path):
    feature = planted.feature(name).index
    bounds = Bounds(hypotheses=3, rounds_per_hypothesis=1, review_rounds=1, llm_calls=20)
    state = explain(planted, feature, local_llm, index=planted_index, output_dir=tmp_path, config=AgentConfig(bounds))
    assert state.done
    assert state.llm_calls <= bounds.llm_calls
    assert state.explanation is not None or state.stop_reason
    assert state.hypotheses and all(h.status != "open" for h in state.hypotheses)
    designed = [m for h in state.hypotheses for m in h.tests]
    assert designed, "the designer's texts were measured"
    for m in designed[:4]:  # every verdict rests on the target's own activations
        assert m.max_act == pytest.approx(planted.measure(m.text, feature).max_act, abs=1e-4)
    if state.explanation is not None:
        assert state.explanation.description and state.explanation.labels
    print(name, state.explanation.labels if state.explanation else state.stop_reason)
