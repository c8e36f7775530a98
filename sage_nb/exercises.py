"""Checks a learner runs in the tutorials' exercises. Each one measures, prints a verdict and returns it."""

from __future__ import annotations

from sage_nb.data.records import TokenActivations


def _verdict(ok: bool, message: str) -> bool:
    print(("✓ " if ok else "✗ ") + message)
    return ok


def check_fires(target, feature: int, text: str, at_least: float) -> bool:
    """Does ``feature`` reach ``at_least`` somewhere in ``text``? Prints the peak token and value."""
    row: TokenActivations = target.measure(text, feature)
    peak = row.argmax
    where = f"{row.max_act:.2f} on {row.tokens[peak]!r}" if peak >= 0 else "no tokens"
    return _verdict(row.max_act >= at_least, f"feature {feature} peaks at {where} (needed ≥ {at_least:.2f})")


def check_silent(target, feature: int, text: str, below: float) -> bool:
    """Does ``feature`` stay under ``below`` on every token of ``text``?"""
    row = target.measure(text, feature)
    return _verdict(
        row.max_act < below, f"feature {feature} max on this text: {row.max_act:.2f} (needed < {below:.2f})"
    )


def check_equal(answer: object, expected: object, what: str) -> bool:
    """Compare a learner's answer with the value the package computes."""
    return _verdict(
        answer == expected, f"{what}: {answer!r}" + ("" if answer == expected else f", expected {expected!r}")
    )
