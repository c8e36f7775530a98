"""The offline LLM engines: llama.cpp against transformers, the capable embedded model's speed, JSON validity of
schema-constrained calls, and one full SAGE run per embedded model. Run it alone on the machine.

Sections (each saved to ``--out`` as it finishes, so an interrupted run resumes at the next section):

- ``speed``: the same prompts and schemas, SmolLM2-135M under llama.cpp and under transformers + xgrammar;
  generation rate = completion tokens / (call time - prefill time), grammar masking and sampling included.
- ``roles_<model>``: constrained calls with every schema the agent and the scorers use, on varied prompts.
- ``agent_<model>``: one full default SAGE run on a real feature of the shipped SAE (model loading and mining before
  the clock), with the time per role split into prefill and generation.

Last line: ``smollm_gen_tok_s= smollm_speedup= qwen_gen_tok_s= qwen_prefill_tok_s= json_valid_fraction=
agent_minutes_qwen= agent_minutes_smollm=``.

    python benchmarks/llm_engines.py [--threads 2] [--feature 3552] [--out benchmarks/results/llm_engines.json]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

SMOLLM, QWEN = "smollm2-135m", "qwen2.5-coder-1.5b"
WORDS = ["name", "river", "Paris", "def", "happy", "because", "(", "cat", "blue", "2024", "rather", "import"]


def role_cases() -> list[tuple[str, type[BaseModel], str, int]]:
    """(role, schema, prompt, max_tokens) for every schema the agent and the scorers decode under."""
    from sage_nb.agent import prompts as agent
    from sage_nb.evaluate import prompts as scoring
    from sage_nb.explainers import prompts as explaining

    cases = []
    for i, word in enumerate(WORDS):
        other = WORDS[(i * 5 + 3) % len(WORDS)]
        texts = [f"my {other} is {word} today", f"the {word} and the {other}", f"{word}"]
        cases += [
            (
                "explainer",
                agent.ExplainerReply,
                f"A feature fires most on the token '{word}' (peak 9/10) and on '{other}' (4/10), e.g. "
                f"'we took the ⟦{word}⟧ to town'. Propose 3 hypotheses, each with the tokens it names and an example.",
                agent.reply_tokens("explainer"),
            ),
            (
                "designer",
                agent.DesignerReply,
                f"Hypothesis H1: the feature fires on '{word}'. Write 4 test texts, each with high or low expected.",
                agent.reply_tokens("designer"),
            ),
            (
                "analyzer",
                agent.AnalyzerReply,
                f"Hypothesis H1: fires on '{word}'. Tests: 'a {word} here' expected high, measured 8/10; 'a {other} "
                f"here' expected low, measured {i % 4}/10. Give a verdict with a reason.",
                agent.reply_tokens("analyzer"),
            ),
            (
                "reviewer",
                agent.ReviewerReply,
                f"H1 accepted: fires on '{word}'. H2 refuted: fires on '{other}'. Finish, or suggest more tests.",
                agent.reply_tokens("reviewer"),
            ),
            (
                "synthesis",
                agent.SynthesisReply,
                f"Accepted: fires on '{word}' (8/10 in 5 tests). Refuted: fires on '{other}'. Write the description, "
                "the evidence and up to 3 labels.",
                agent.reply_tokens("synthesis"),
            ),
            (
                "generator",
                scoring.generation_schema(5),
                f"Write 5 short texts on which a feature described as 'the word {word}' should fire.",
                scoring.text_reply_tokens(5),
            ),
            (
                "simulator",
                scoring.simulation_schema(len(texts)),
                f"Explanation: fires on '{word}'. For each text give how strongly it fires, 0-10: {texts}",
                scoring.simulation_reply_tokens(len(texts)),
            ),
            (
                "baseline",
                explaining.BaselineReply,
                f"Top activations of a feature: '⟦{word}⟧ was', 'the ⟦{word}⟧s', 'a {other} ⟦{word}⟧'. Explain it.",
                agent.reply_tokens("synthesis"),
            ),
        ]
    return cases


def run_roles(llm: Any, n: int) -> dict[str, Any]:
    cases = role_cases()[:n]
    ok, failed = 0, []
    start = time.perf_counter()
    for role, schema, prompt, max_tokens in cases:
        result = llm.complete(prompt, schema, role=role, max_tokens=max_tokens)
        ok += result.ok
        if not result.ok:
            failed.append({"role": role, "error_kind": result.error_kind, "raw": result.raw_text[:300]})
    return {
        "calls": len(cases),
        "valid": ok,
        "failed": failed,
        "wall_s": time.perf_counter() - start,
        "perf": {r: asdict(t) for r, t in llm.perf.by_role.items()},
    }


def _transformers_prefill_s(llm: Any, messages: list[dict[str, str]]) -> float:
    """Seconds of one forward pass over the rendered prompt: the prefill inside a transformers ``generate``."""
    import torch

    ids = llm._prompt_ids(messages)
    with torch.no_grad():
        start = time.perf_counter()
        llm._model(torch.tensor([ids]))
        return time.perf_counter() - start


def run_speed(threads: int, calls: int) -> dict[str, Any]:
    """Generation rate of each engine: completion tokens / (call time - prefill time), same prompts and schemas.

    llama.cpp reports its prefill time; for transformers it is one forward pass over the same rendered prompt.
    Grammar masking, sampling and detokenising count as generation for both."""
    import torch

    from sage_nb.llm import make_llm
    from sage_nb.llm.base import with_schema_instruction

    torch.set_num_threads(threads)
    cases = [c for c in role_cases() if c[0] in ("analyzer", "simulator", "designer")][:calls]
    out: dict[str, Any] = {}
    for engine, spec in (("llamacpp", f"llamacpp:{SMOLLM}"), ("transformers", "transformers:smollm2-135m-instruct")):
        llm = make_llm(spec, **({"n_threads": threads} if engine == "llamacpp" else {}))
        llm.complete("Say hi.", cases[0][1], role="warmup", max_tokens=8)  # load before the clock
        tokens, call_s, prefill_s = 0, 0.0, 0.0
        for role, schema, prompt, max_tokens in cases:
            result = llm.complete(prompt, schema, role=role, max_tokens=max_tokens)
            tokens += result.usage.completion_tokens
            call_s += result.latency_s
            if engine == "transformers":
                rendered = with_schema_instruction([{"role": "user", "content": prompt}], schema)
                prefill_s += _transformers_prefill_s(llm, rendered)
        if engine == "llamacpp":
            perf = [t for r, t in llm.perf.by_role.items() if r != "warmup"]
            prefill_s = sum(t.prefill_s for t in perf)
            decode = sum(t.generated_tokens for t in perf) / sum(t.generation_s for t in perf)
            out[engine] = {"decode_only_tok_s": decode}
        out.setdefault(engine, {}).update(
            completion_tokens=tokens, call_s=call_s, prefill_s=prefill_s, gen_tok_s=tokens / (call_s - prefill_s)
        )
    out["speedup"] = out["llamacpp"]["gen_tok_s"] / out["transformers"]["gen_tok_s"]
    return out


def run_agent(model: str, threads: int, feature: int, contexts: int, record: Path) -> dict[str, Any]:
    from sage_nb import corpus_contexts, default_corpus, load_or_mine, load_target
    from sage_nb.agent import explain
    from sage_nb.llm import make_llm

    target = load_target()
    corpus = default_corpus().split(held_out=False)
    index = load_or_mine(target, corpus_contexts(corpus, target.tokenizer, max_contexts=contexts), corpus.name)
    record.unlink(missing_ok=True)
    llm = make_llm(f"llamacpp:{model}", n_threads=threads, record=record)
    llm.load()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        state = explain(target, feature, llm, index=index, output_dir=folder)
        wall = time.perf_counter() - start
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return {
        "feature": feature,
        "minutes": wall / 60,
        "llm_calls": state.llm_calls,
        "valid": sum(c["reply"]["ok"] for c in calls),
        "calls": len(calls),
        "tokens": state.tokens,
        "hypotheses": [(h.id, h.status, h.claim) for h in state.hypotheses],
        "description": state.explanation.description if state.explanation else None,
        "labels": state.explanation.labels if state.explanation else None,
        "stop_reason": state.stop_reason,
        "perf": {r: asdict(t) for r, t in llm.perf.by_role.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--feature", type=int, default=3552)
    parser.add_argument("--contexts", type=int, default=2000)
    parser.add_argument("--speed_calls", type=int, default=10)
    parser.add_argument("--smollm_role_calls", type=int, default=96)
    parser.add_argument("--qwen_role_calls", type=int, default=64)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/llm_engines.json"))
    parser.add_argument("--only", default="", help="comma-separated sections to (re)run")
    parser.add_argument("--report", action="store_true", help="run nothing: print the figures of --out")
    args = parser.parse_args()

    from sage_nb.llm import make_llm

    done: dict[str, Any] = json.loads(args.out.read_text()) if args.out.exists() else {}
    only = {s for s in args.only.split(",") if s}
    record_dir = args.out.parent / "llm_engines_calls"
    record_dir.mkdir(parents=True, exist_ok=True)
    sections = {
        "speed": lambda: run_speed(args.threads, args.speed_calls),
        "roles_smollm": lambda: run_roles(
            make_llm(f"llamacpp:{SMOLLM}", n_threads=args.threads), args.smollm_role_calls
        ),
        "roles_qwen": lambda: run_roles(make_llm(f"llamacpp:{QWEN}", n_threads=args.threads), args.qwen_role_calls),
        "agent_smollm": lambda: run_agent(
            SMOLLM, args.threads, args.feature, args.contexts, record_dir / "agent_smollm.jsonl"
        ),
        "agent_qwen": lambda: run_agent(
            QWEN, args.threads, args.feature, args.contexts, record_dir / "agent_qwen.jsonl"
        ),
    }
    for name, run in sections.items():
        if (name in done and name not in only) or (only and name not in only) or args.report:
            print(f"[{name}] from {args.out}")
            continue
        print(f"[{name}] running ...", flush=True)
        done[name] = {**run(), "threads": args.threads, "date": time.strftime("%Y-%m-%d")}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(done, indent=1))
        print(json.dumps(done[name], indent=1)[:3000], flush=True)

    speed = done["speed"]
    # the capable model's rates from its agent run (prompts of every role, the thread count the run says)
    qwen_perf = list(done["agent_qwen"]["perf"].values())
    valid = sum(done[s]["valid"] for s in ("roles_smollm", "roles_qwen", "agent_smollm", "agent_qwen"))
    calls = sum(done[s]["calls"] for s in ("roles_smollm", "roles_qwen", "agent_smollm", "agent_qwen"))
    for name, section in done.items():
        print(f"{name}: {section['threads']} thread(s), {section['date']}")
    for model in ("smollm", "qwen"):
        agent = done[f"agent_{model}"]
        print(f"agent {model}: {agent['minutes']:.2f} min, {agent['llm_calls']} calls; per role (prefill s / gen s):")
        for role, t in agent["perf"].items():
            print(
                f"  {role:10s} {t['calls']:3d} calls  prefill {t['prefill_tokens']:6d} tok {t['prefill_s']:7.1f} s"
                f"  cached {t['cached_tokens']:6d} tok  gen {t['generated_tokens']:5d} tok {t['generation_s']:7.1f} s"
            )
    print(f"constrained calls: {valid}/{calls} valid")
    qwen_gen = sum(t["generated_tokens"] for t in qwen_perf) / sum(t["generation_s"] for t in qwen_perf)
    qwen_prefill = sum(t["prefill_tokens"] for t in qwen_perf) / sum(t["prefill_s"] for t in qwen_perf)
    print(
        f"smollm_gen_tok_s={speed['llamacpp']['gen_tok_s']:.1f} smollm_speedup={speed['speedup']:.2f} "
        f"qwen_gen_tok_s={qwen_gen:.1f} qwen_prefill_tok_s={qwen_prefill:.1f} "
        f"json_valid_fraction={valid / calls:.3f} agent_minutes_qwen={done['agent_qwen']['minutes']:.2f} "
        f"agent_minutes_smollm={done['agent_smollm']['minutes']:.2f}"
    )


if __name__ == "__main__":
    main()
