"""Tests for a claim that a feature fires on a class of tokens, built from the mined contexts: no designer call.

The tokens where a feature peaks are facts of the evidence; that they are members of a class (degree adverbs,
control-flow keywords, ...) is a claim, and it predicts something the exemplars never showed: the feature should
fire on the class's other members too, and not on a word outside the class in the same place. A substitution test
takes a mined window whose peak is one of the seen tokens and puts an unseen member in the peak's place (expected
high) or a non-member (expected low). When the class is the right generalisation, the first text fires and the
second does not. When the peak token is a piece of a longer word ('ED' of 'ZIP_STORED'), the whole word is
what a class holds and what a substitution replaces.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from sage_nb.agent.minimal_pairs import AFTER, BEFORE, candidate_contexts, window
from sage_nb.agent.records import Hypothesis
from sage_nb.core.text import names_token, token_label, word_span
from sage_nb.data.records import Exemplar, FeatureData
from sage_nb.evidence import HIGH_FRACTION, LOW_FRACTION


def peak_words(fd: FeatureData, seen: Collection[str], limit: int = 2) -> dict[str, list[str]]:
    """For each ``seen`` token label that peaked as a piece of a longer word in the mined windows, up to ``limit``
    of those words (e.g. 'ED' -> 'ZIP_STORED'): the class of a piece is the class of its words."""
    wanted = {label.casefold(): label for label in seen}
    out: dict[str, list[str]] = {}
    for ex in candidate_contexts(fd):
        label = wanted.get(token_label(ex.tokens[ex.peak]).casefold())
        if label is None:
            continue
        lo, hi = word_span(ex.tokens, ex.peak)
        word = "".join(ex.tokens[lo:hi]).strip()
        words = out.setdefault(label, [])
        if hi - lo > 1 and word not in words and len(words) < limit:
            words.append(word)
    return {label: words for label, words in out.items() if words}


def substituted(ex: Exemplar, word: str) -> str:
    """The window of ``ex`` (:func:`~sage_nb.agent.minimal_pairs.window`) with ``word`` in the place of the whole
    word that holds the peak token (:func:`word_span`); its leading whitespace is kept."""
    tokens = window(ex)
    at = min(BEFORE, ex.peak)
    lo, hi = word_span(tokens, at)
    lead = tokens[lo][: len(tokens[lo]) - len(tokens[lo].lstrip())]
    tokens[lo:hi] = [lead + word.strip()]
    return "".join(tokens).strip()


def _only_peak(ex: Exemplar, wanted: Collection[str], floor: float) -> bool:
    """Whether the peak's word is the only part of its window that fired (at least ``floor``) or holds a seen token:
    another one would fire whatever replaces the peak, and the non-member's text would not test the class."""
    low, high = max(0, ex.peak - BEFORE), ex.peak + AFTER + 1
    lo, hi = word_span(ex.tokens, ex.peak)
    return not any(
        (ex.acts[i] >= floor or token_label(ex.tokens[i]).casefold() in wanted)
        for i in range(low, min(high, len(ex.tokens)))
        if not lo <= i < hi
    )


def _peak_contexts(fd: FeatureData, wanted: Collection[str], scale: float) -> list[Exemplar]:
    """Mined windows whose peak is one of the ``wanted`` labels (case-folded) and fired at least ``HIGH_FRACTION``
    of ``scale``, where no other token is a wanted one or fired (``LOW_FRACTION``)."""
    return [
        ex
        for ex in candidate_contexts(fd)
        if token_label(ex.tokens[ex.peak]).casefold() in wanted
        and ex.max_act >= HIGH_FRACTION * scale
        and _only_peak(ex, wanted, LOW_FRACTION * scale)
    ]


def member_texts(fd: FeatureData, seen: Collection[str], members: Sequence[str], scale: float) -> list[tuple[str, str]]:
    """(member, text) for each of ``members`` that is not a ``seen`` label: a mined window (as
    :func:`substitution_tests` picks them) with the member in the peak's place, one window per member in turn, so
    that each member is measured once where the feature fired. Empty when no window qualifies."""
    wanted = {label.casefold() for label in seen}
    members = [m.strip() for m in members if m.strip() and m.strip().casefold() not in wanted]
    contexts = _peak_contexts(fd, wanted, scale)
    out: list[tuple[str, str]] = []
    made: set[str] = set()
    for i, member in enumerate(members if contexts else []):
        text = substituted(contexts[i % len(contexts)], member)
        if text not in made:
            made.add(text)
            out.append((member, text))
    return out


def substitution_tests(
    fd: FeatureData,
    seen: Collection[str],
    members: Sequence[str],
    outside: Sequence[str],
    scale: float,
    n_texts: int,
    skip: Iterable[str] = (),
) -> tuple[list[str], list[str]]:
    """Up to ``n_texts`` texts (at least one pair) and their expectations, from windows whose peak is one of the
    ``seen`` tokens (labels, as :func:`~sage_nb.core.text.token_label` writes them) and fired at least
    ``HIGH_FRACTION`` of ``scale``, where no other token is a seen one or fired (``LOW_FRACTION``): each with an
    unseen class member in the peak's place (``high``) and with a non-member (``low``). Members and non-members
    rotate so that successive rounds (``skip``: texts already measured) try new ones."""
    wanted = {label.casefold() for label in seen}
    members = [m.strip() for m in members if m.strip() and m.strip().casefold() not in wanted]
    outside = [o.strip() for o in outside if o.strip() and o.strip().casefold() not in wanted]
    if not members or not outside:
        return [], []
    done = set(skip)
    contexts = _peak_contexts(fd, wanted, scale)
    texts: list[str] = []
    expects: list[str] = []
    turn = len(done) // 2  # rotate past the members earlier rounds tried
    for ex in contexts:
        if len(texts) + 2 > max(2, n_texts):
            break
        high = substituted(ex, members[turn % len(members)])
        low = substituted(ex, outside[turn % len(outside)])
        if high in done or low in done or high == low:
            continue
        done.update((high, low))
        texts += [high, low]
        expects += ["high", "low"]
        turn += 1
    return texts, expects


def substituted_members(h: Hypothesis) -> tuple[list[str], list[str]]:
    """The members of class hypothesis ``h`` that fired in the peaks' place, and those that stayed low (a member
    counts once, by the first substitution test whose text names it)."""
    fired: list[str] = []
    silent: list[str] = []
    for t in h.tests:
        if t.source != "substitutions" or t.expect != "high":
            continue
        member = next((m for m in h.members if names_token(t.text, [m])), None)
        if member is None or member in fired or member in silent:
            continue
        if t.level == "high":
            fired.append(member)
        elif t.level == "low":
            silent.append(member)
    return fired, silent


__all__ = ["member_texts", "peak_words", "substituted", "substituted_members", "substitution_tests"]
