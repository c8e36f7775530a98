"""Overhead of the LLM layer around local generation: 20 calls to the embedded chat model.

Measures the wall time of ``LocalBackend.complete`` calls (two role-like schemas, alternating) and the time spent
inside ``model.generate`` (``result.generation_s``, measured by the backend). Model loading is excluded; compiling
the two grammars, rendering prompts, tokenising, decoding, validation and accounting are included. Prints one line
per call, a summary, and on its last line ``llm_overhead_fraction=<x>`` (goal: at most 0.05).

    python benchmarks/llm_overhead.py [--calls 20] [--max-tokens 128] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from typing import Literal

from pydantic import BaseModel, Field


class Verdict(BaseModel):
    reason: str = Field(max_length=60)
    verdict: Literal["accept", "refute", "refine", "keep_testing"]


class Score(BaseModel):
    score: int = Field(ge=0, le=10)


WORDS = ["name", "river", "Paris", "def", "happy", "because", "cat", "blue", "2024", "run"]


def prompt(i: int) -> tuple[str, type[BaseModel]]:
    word = WORDS[i % len(WORDS)]
    if i % 2 == 0:
        return f"Hypothesis: the feature fires on '{word}'. {i % 5} of 5 test texts fired. Give a verdict.", Verdict
    return f"Explanation: fires on '{word}'. Text: 'the {word} was here'. How strongly does it fire, 0-10?", Score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from sage_nb.llm import make_llm

    llm = make_llm("local")
    load_start = time.perf_counter()
    llm.load()
    print(f"model load (excluded): {time.perf_counter() - load_start:.2f} s, torch threads {torch.get_num_threads()}")

    results = []
    start = time.perf_counter()
    for i in range(args.calls):
        text, schema = prompt(i)
        r = llm.complete(text, schema, role="bench", feature=f"f{i}", max_tokens=args.max_tokens)
        results.append(r)
        print(
            f"call {i:2d} {schema.__name__:7s} ok={r.ok} tokens={r.usage.completion_tokens:3d} "
            f"wall={r.latency_s:.3f}s generate={r.generation_s:.3f}s"
        )
    wall = time.perf_counter() - start
    generate = sum(r.generation_s or 0.0 for r in results)
    tokens = sum(r.usage.completion_tokens for r in results)
    ok = sum(r.ok for r in results)
    print(f"{args.calls} calls, {ok} ok; wall {wall:.2f} s, inside model.generate {generate:.2f} s, {tokens} tokens")
    print(f"llm_overhead_fraction={(wall - generate) / wall:.4f}")


if __name__ == "__main__":
    main()
