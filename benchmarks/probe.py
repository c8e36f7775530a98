"""Latency of probing one feature on a 64-token text with the embedded target, warm.

Prints, on its last line, ``probe_ms_median=<x>``.
"""

from __future__ import annotations

import statistics
import time

from sage_nb import load_target


def main(repeats: int = 30, feature: int = 100) -> None:
    target = load_target()
    base = "The quick brown fox jumps over the lazy dog while the compiler checks each function. "
    ids = target.tokenizer(base * 8, add_special_tokens=False).input_ids[:64]
    text = target.tokenizer.decode(ids)
    for _ in range(3):
        target.activations(text, feature)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        target.activations(text, feature)
        times.append((time.perf_counter() - start) * 1000)
    print(f"{len(ids)} tokens, {repeats} runs: min {min(times):.1f} ms, max {max(times):.1f} ms")
    print(f"probe_ms_median={statistics.median(times):.1f}")


if __name__ == "__main__":
    main()
