"""One full SAGE run on a real feature of the embedded SAE with the offline local LLM, at the default settings.

Prints, on its last line, ``tokens_per_feature=<n> llm_calls=<m> overhead_fraction=<f>`` where ``f`` is the share
of the run's wall time spent outside LLM generation (prompt building, measuring texts, checkpointing). Model
loading and mining happen before the clock starts.

    python benchmarks/agent_run.py [--feature 3552] [--contexts 2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

from pydantic import BaseModel

from sage_nb import corpus_contexts, default_corpus, load_or_mine, load_target
from sage_nb.agent import explain
from sage_nb.llm import make_llm


class _Warm(BaseModel):
    text: str


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feature", type=int, default=3552)
    parser.add_argument("--contexts", type=int, default=2000)
    args = parser.parse_args()

    target = load_target()
    corpus = default_corpus().split(held_out=False)
    contexts = corpus_contexts(corpus, target.tokenizer, max_contexts=args.contexts)
    index = load_or_mine(target, contexts, corpus.name)
    llm = make_llm("local")
    llm.complete("Say hi.", _Warm, role="warmup")  # load the chat model and compile a grammar before timing

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        state = explain(target, args.feature, llm, index=index, output_dir=out)
        wall = time.perf_counter() - start
    generation = state.generation_s
    expl = state.explanation
    print(f"feature {args.feature}: {len(state.turns)} turns, wall {wall:.1f} s, generation {generation:.1f} s")
    for h in state.hypotheses:
        print(f"  {h.id} {h.status:12s} {h.claim!r} ({len(h.tests)} tests, agreement {h.agreement})")
    print(f"  labels: {expl.labels if expl else None}; stop: {state.stop_reason}")
    overhead = max(wall - generation, 0.0) / wall
    print(f"tokens_per_feature={state.tokens} llm_calls={state.llm_calls} overhead_fraction={overhead:.4f}")


if __name__ == "__main__":
    main()
