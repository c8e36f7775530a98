"""The llama.cpp backend with the embedded SmolLM2: grammar-constrained replies for every role schema, prompt-prefix
reuse, seeded sampling, logprobs, and clear errors."""

from __future__ import annotations

import math
import sys

import pytest
from role_schemas import ROLE_SCHEMAS, AnalyzerReply, SimulationReply, role_prompt

from sage_nb.llm import LLMRequest, LLMRequestError, make_llm
from sage_nb.llm.llamacpp_backend import THREADS_ENV, default_threads, require_llama_cpp


def test_constrained_call_returns_a_valid_object_with_usage(llamacpp_llm):
    result = llamacpp_llm.complete(role_prompt("analyzer", 0), AnalyzerReply, role="analyzer", max_tokens=64)
    assert result.ok, (result.error, result.raw_text)
    assert AnalyzerReply.model_validate_json(result.raw_text) == result.parsed
    assert result.backend == "llamacpp" and result.model == "smollm2-135m" and not result.replayed
    assert result.finish_reason == "stop"
    assert result.usage.prompt_tokens > 50 and 0 < result.usage.completion_tokens <= 64
    assert result.cost_usd == 0.0
    assert llamacpp_llm.perf.by_role["analyzer"].generated_tokens > 0


@pytest.mark.parametrize("role", sorted(ROLE_SCHEMAS))
def test_every_role_schema_gives_valid_json(llamacpp_llm, role):
    schema = ROLE_SCHEMAS[role]
    for variant in range(2):
        result = llamacpp_llm.complete(role_prompt(role, variant), schema, role=role, max_tokens=200)
        assert result.ok, (role, result.error_kind, result.raw_text)


def test_a_shared_prompt_prefix_is_not_evaluated_again(llamacpp_llm):
    system = {"role": "system", "content": "You judge test results of a feature. " * 30}
    first = llamacpp_llm.complete([system, {"role": "user", "content": "Case one."}], AnalyzerReply, role="analyzer")
    second = llamacpp_llm.complete([system, {"role": "user", "content": "Case two."}], AnalyzerReply, role="analyzer")
    assert first.ok and second.ok
    assert second.usage.cached_tokens > 0.8 * second.usage.prompt_tokens > 100


def test_seeded_sampling_repeats(llamacpp_llm):
    def ask(seed):
        return llamacpp_llm.complete(
            role_prompt("explainer", 1), ROLE_SCHEMAS["explainer"], role="explainer", temperature=1.0, seed=seed
        ).raw_text

    assert ask(3) == ask(3)
    assert len({ask(s) for s in (1, 2, 3, 4)}) > 1


def test_logprobs_align_with_the_reply(llamacpp_llm):
    result = llamacpp_llm.complete(role_prompt("simulation", 1), SimulationReply, role="simulation", logprobs=5)
    assert result.ok and result.logprobs is not None
    assert "".join(t.token for t in result.logprobs) == result.raw_text
    for t in result.logprobs:
        # llama.cpp reports the model's distribution before the grammar mask: the top 5, plus the chosen token when
        # the grammar forced one outside them
        assert 5 <= len(t.top) <= 6 and math.isfinite(t.logprob)
        assert (t.token, t.logprob) in t.top
        assert sum(math.exp(lp) for _, lp in set(t.top)) <= 1.0 + 1e-4


def test_logprobs_match_llama_cpp_python_s_own(llamacpp_llm):
    """The logits tap gives the logprobs llama-cpp-python computes from its every-position logits context. Both
    start from an empty context: a prompt prefix kept from an earlier call is evaluated in other batches, which moves
    the logprob of an unlikely token by a few hundredths on some CPUs."""
    from sage_nb.llm.llamacpp_backend import LlamaCppBackend

    llama_cpp = require_llama_cpp()
    ours = LlamaCppBackend(llamacpp_llm.model, n_threads=1, n_ctx=2048)
    request = LLMRequest(role_prompt("simulation", 1), SimulationReply, role="simulation", logprobs=5, max_tokens=40)
    result = ours.run(request)
    assert result.ok and result.logprobs
    reference = llama_cpp.Llama(model_path=str(ours.path), n_ctx=2048, n_threads=1, logits_all=True,
                                verbose=False)  # fmt: skip
    grammar = ours.grammar(SimulationReply)
    messages = ours._render(request)
    out = reference.create_chat_completion(messages=messages, grammar=grammar, max_tokens=40, temperature=0.0,
                                           logprobs=True, top_logprobs=5)  # fmt: skip
    theirs = out["choices"][0]["logprobs"]["content"]
    assert out["choices"][0]["message"]["content"] == result.raw_text
    assert [t["token"] for t in theirs] == [t.token for t in result.logprobs]
    for mine, their in zip(result.logprobs, theirs, strict=True):
        assert mine.logprob == pytest.approx(their["logprob"], abs=2e-3)
        assert [t for t, _ in mine.top[:3]] == [t["token"] for t in their["top_logprobs"][:3]]
    reference.close()
    ours.close()


def test_a_prompt_longer_than_the_context_names_the_fix(llamacpp_llm):
    with pytest.raises(LLMRequestError, match="n_ctx="):
        llamacpp_llm.complete("word " * 5000, AnalyzerReply, role="analyzer")


def test_batched_requests_keep_their_order(llamacpp_llm):
    requests = [LLMRequest(role_prompt("simulation", i), SimulationReply, role="simulation") for i in range(2)]
    requests.insert(1, LLMRequest(role_prompt("analyzer", 2), AnalyzerReply, role="analyzer"))
    results = llamacpp_llm.complete_many(requests)
    assert [type(r.parsed) for r in results] == [SimulationReply, AnalyzerReply, SimulationReply]


def test_threads_follow_the_environment(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "1")
    assert default_threads() == 1
    monkeypatch.setenv(THREADS_ENV, "two")
    with pytest.raises(ValueError, match=THREADS_ENV):
        default_threads()
    monkeypatch.delenv(THREADS_ENV)
    assert 1 <= default_threads() <= (__import__("os").cpu_count() or 1)


def test_a_missing_engine_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    with pytest.raises(ImportError, match=r'pip install "llama-cpp-python==0\.3\.36"'):
        require_llama_cpp()


def test_local_and_llamacpp_specs_pick_the_engine():
    pytest.importorskip("llama_cpp")
    from sage_nb.llm.llamacpp_backend import LlamaCppBackend
    from sage_nb.llm.local_backend import LocalBackend

    for spec in ("local", "local:smollm2-135m", "llamacpp:smollm2"):
        llm = make_llm(spec)
        assert isinstance(llm, LlamaCppBackend) and llm.model == "smollm2-135m" and llm._llm is None  # lazy
        assert llm.size_for("explainer") == "small"
    assert isinstance(make_llm("transformers:smollm2-135m-instruct"), LocalBackend)


def test_bounded_integers_become_enums_for_the_grammar():
    from sage_nb.llm.llamacpp_backend import grammar_schema

    schema = {
        "properties": {
            "score": {"type": "integer", "minimum": 0, "maximum": 3},
            "rank": {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3, "title": "Rank"},
            "count": {"type": "integer", "minimum": 0},
            "items": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 2}},
        }
    }
    props = grammar_schema(schema)["properties"]
    assert props["score"] == {"enum": [0, 1, 2, 3]}
    assert props["rank"] == {"enum": [1, 2], "title": "Rank"}
    assert props["count"] == {"type": "integer", "minimum": 0}  # unbounded above: left to validation
    assert props["items"]["items"] == {"enum": [1, 2]}


def test_the_json_grammar_keeps_raw_control_characters_out_of_strings():
    pytest.importorskip("llama_cpp")
    from llama_cpp import LlamaGrammar

    from sage_nb.llm.llamacpp_backend import json_gbnf

    text = json_gbnf(AnalyzerReply.model_json_schema())
    (char,) = [line for line in text.splitlines() if line.startswith("char ::=")]
    assert char.startswith('char ::= [^"\\\\\\x7F\\x00-\\x1F]')  # a raw newline inside a string is not JSON
    assert LlamaGrammar.from_string(text, verbose=False) is not None


def test_a_multi_line_request_still_gives_json_without_raw_newlines(llamacpp_llm):
    prompt = "Write a reason that lists three points, one per line, each on a new line:\n1.\n2.\n3."
    for seed in range(3):
        result = llamacpp_llm.complete(prompt, AnalyzerReply, role="analyzer", temperature=1.0, seed=seed)
        assert result.ok, (result.error, result.raw_text)
