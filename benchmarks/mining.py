"""Mining throughput on the embedded target.

Prints, on its last line, ``mining_vs_forward=<x> mining_vs_per_feature=<y>``:
x = tokens/s of the full mining pass (all features) / tokens/s of the bare forward to the hooked layer,
    on the same contexts in the same run;
y = time of the per-feature approach (one corpus scan per feature, 100 features) / time of one mining pass,
    on the same (smaller) set of contexts.

Usage: python benchmarks/mining.py [--contexts 256] [--per_feature_contexts 32] [--features 100]
"""

from __future__ import annotations

import argparse
import time

import torch

from sage_nb import corpus_contexts, default_corpus, load_target, mine


def forward_seconds(target, contexts, batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(contexts), batch):
        target.reader.read(torch.as_tensor(contexts[i : i + batch], dtype=torch.long))
    return time.perf_counter() - start


def per_feature_seconds(target, contexts, features: list[int], batch: int, top_k: int = 20) -> float:
    """The approach mining replaces: for each feature, scan the corpus and keep its top contexts."""
    start = time.perf_counter()
    for f in features:
        best = torch.zeros(0)
        for i in range(0, len(contexts), batch):
            enc = target.encode(torch.as_tensor(contexts[i : i + batch], dtype=torch.long), features=[f])
            best = torch.topk(
                torch.cat([best, enc.acts[..., 0].max(dim=1).values]), k=min(top_k, len(best) + batch)
            ).values
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", type=int, default=256)
    parser.add_argument("--per_feature_contexts", type=int, default=32)
    parser.add_argument("--features", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()

    target = load_target()
    contexts = corpus_contexts(default_corpus().split(held_out=False), target.tokenizer, max_contexts=args.contexts)
    tokens = contexts.size - len(contexts)
    forward_seconds(target, contexts[: args.batch], args.batch)  # warm-up
    mine(target, contexts[: args.batch], batch_size=args.batch, progress=False)  # warm-up
    t_forward_before = forward_seconds(target, contexts, args.batch)
    start = time.perf_counter()
    mine(target, contexts, batch_size=args.batch, progress=False)
    t_mine = time.perf_counter() - start
    # the bare forward is timed before and after mining, so neither side gains from running first
    t_forward = (t_forward_before + forward_seconds(target, contexts, args.batch)) / 2
    x = (tokens / t_mine) / (tokens / t_forward)
    print(
        f"forward: {tokens / t_forward:,.0f} tok/s   mining (all {target.d_sae} features): {tokens / t_mine:,.0f} tok/s"
    )

    small = contexts[: args.per_feature_contexts]
    start = time.perf_counter()
    mine(target, small, batch_size=args.batch, progress=False)
    t_small = time.perf_counter() - start
    features = list(range(0, target.d_sae, max(1, target.d_sae // args.features)))[: args.features]
    t_each = per_feature_seconds(target, small, features, args.batch)
    y = t_each / t_small
    print(
        f"per-feature scans of {len(small)} contexts for {len(features)} features: {t_each:.1f} s; "
        f"one mining pass: {t_small:.2f} s"
    )
    print(f"mining_vs_forward={x:.3f} mining_vs_per_feature={y:.1f}")


if __name__ == "__main__":
    main()
