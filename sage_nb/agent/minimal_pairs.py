"""Tests for a claim about named tokens, built from the mined contexts: minimal pairs, no LLM call.

A pair is a corpus window that ends just past a peak on one of the named tokens (expected to fire) and the same
window with every named token taken out (expected not to). When the claim is right the first text fires and the
second does not; when the feature needs more than those tokens, or not them at all, the pair shows it. The loop
tests the hypothesis computed from the evidence this way (``AgentConfig(pair_tests=True)``), so its verdict rests
on measurements of texts that really test it, whatever the size of the LLM.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from sage_nb.core.text import token_label
from sage_nb.data.records import Exemplar, FeatureData
from sage_nb.evidence import HIGH_FRACTION, token_classes

#: Tokens kept before the peak in a pair's window ...
BEFORE = 12
#: ... and after it (the peak stays inside the measured text when a tokenizer merges the window's end differently).
AFTER = 2


@dataclass(frozen=True)
class MinimalPair:
    """A corpus window with the named tokens (``kept``, expected high) and without them (``removed``, low)."""

    kept: str
    removed: str
    context_index: int
    peak_token: str


def window(ex: Exemplar, before: int = BEFORE, after: int = AFTER) -> list[str]:
    """The exemplar's tokens from ``before`` tokens ahead of its peak to ``after`` tokens past it."""
    return list(ex.tokens[max(0, ex.peak - before) : ex.peak + after + 1])


def window_text(ex: Exemplar, before: int = BEFORE, after: int = AFTER) -> str:
    """:func:`window` as text (stripped)."""
    return "".join(window(ex, before, after)).strip()


def candidate_contexts(fd: FeatureData) -> list[Exemplar]:
    """Mined windows in the order pairs use them: the sampled contexts, strongest band first (not shown to the
    explainer as top exemplars), then the top exemplars; one window per corpus context."""
    ordered = [ex for _, band in reversed(fd.quantiles) for ex in sorted(band, key=lambda e: -e.max_act)]
    seen: set[int] = set()
    out = []
    for ex in [*ordered, *fd.top]:
        if ex.context_index not in seen:
            seen.add(ex.context_index)
            out.append(ex)
    return out


def minimal_pairs(
    fd: FeatureData,
    labels: Collection[str],
    scale: float,
    classes: Collection[str] = (),
    skip: Iterable[str] = (),
) -> list[MinimalPair]:
    """Every pair for the tokens named by ``labels`` (a token's text without its leading space, as
    :func:`~sage_nb.explainers.top_tokens.token_label` writes it), from windows whose peak is one of them and fired at
    least ``HIGH_FRACTION`` of ``scale``.

    The removed text also loses every token of the named ``classes`` (e.g. 'digit', see
    :func:`~sage_nb.evidence.token_classes`): a claim about "'5', '0'; usually a digit" is about all digits. Windows
    whose texts are in ``skip`` (already measured) are left out, and so is a window the removal leaves empty or
    unchanged. Pairs alternate between the named tokens so a few pairs cover all of them.
    """
    wanted = {label.casefold() for label in labels}
    named = set(classes)
    done = set(skip)
    by_token: dict[str, list[MinimalPair]] = {}
    for ex in candidate_contexts(fd):
        peak = token_label(ex.tokens[ex.peak]).casefold()
        if peak not in wanted or ex.max_act < HIGH_FRACTION * scale:
            continue
        tokens = window(ex)
        kept = "".join(tokens).strip()
        gone = [token_label(t).casefold() in wanted or named & token_classes(tokens, i) for i, t in enumerate(tokens)]
        removed = " ".join("".join(t for t, g in zip(tokens, gone, strict=True) if not g).split())
        if not removed or removed == " ".join(kept.split()) or kept in done or removed in done:
            continue
        done.update((kept, removed))
        by_token.setdefault(peak, []).append(MinimalPair(kept, removed, ex.context_index, ex.tokens[ex.peak]))
    queues = list(by_token.values())
    out: list[MinimalPair] = []
    while any(queues):
        for queue in queues:
            if queue:
                out.append(queue.pop(0))
    return out


def pair_tests(pairs: Sequence[MinimalPair], n_texts: int) -> tuple[list[str], list[str]]:
    """Texts and expectations of the first pairs that fit in ``n_texts`` (at least one pair)."""
    texts: list[str] = []
    expects: list[str] = []
    for pair in pairs[: max(1, n_texts // 2)]:
        texts += [pair.kept, pair.removed]
        expects += ["high", "low"]
    return texts, expects


__all__ = ["AFTER", "BEFORE", "MinimalPair", "candidate_contexts", "minimal_pairs", "pair_tests", "window_text"]
