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


def outcome(decision: str) -> str:
    """The outcome a decision string names, without its explanation in brackets: ``'keep testing'``,
    ``'accepted'``, ``'refuted'``, ``'refined'`` or ``'inconclusive'``."""
    return decision.split(" (", 1)[0].strip()


def check_decision(
    hypothesis, proposed: str | None, expected: str, bounds=None, *, reason: str = "", refined: str = ""
) -> bool:
    """Does the state machine decide ``expected`` when an analyzer proposes ``proposed`` for ``hypothesis``?

    Applies :func:`sage_nb.agent.states.settle` to a copy (``hypothesis`` itself is left unchanged) and compares
    the decided outcome (see :func:`outcome`) with ``expected``. ``bounds`` defaults to
    :class:`~sage_nb.agent.states.Bounds` ``()``.
    """
    import copy

    from sage_nb.agent.states import Bounds, settle

    decided = settle(copy.deepcopy(hypothesis), proposed, reason, refined, bounds if bounds is not None else Bounds())
    ok = outcome(decided) == outcome(expected)
    return _verdict(
        ok, f"proposed {proposed!r} -> the state machine decides {decided!r}" + ("" if ok else f", not {expected!r}")
    )
