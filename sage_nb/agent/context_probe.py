"""Where a feature fires on its peak tokens: anywhere, or only in contexts like its mined ones.

The tokens where a feature peaks say nothing about the context it needs. A feature of Python source that peaks
on 'await' may stay silent on "I await your reply", and a reader told only "fires on 'await'" writes prose that
never fires it. The probe measures each seen word in plain sentences, and the shortest tail of a mined window that
still fires, so the claim can say which it is and quote a context that was measured to fire.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from sage_nb.agent.minimal_pairs import candidate_contexts
from sage_nb.core.text import token_label, word_span
from sage_nb.data.records import FeatureData

#: Plain sentences a seen word is measured in.
PLAIN_FRAMES = ("The word {} is in this sentence.", "I wrote {} on the board today.")
#: Tokens kept before the peak in the tails tried as a quoted context, shortest first.
TAIL_LENGTHS = (2, 4, 7, 11)
#: Longest quoted context, in characters.
MAX_CONTEXT_CHARS = 60
#: A quoted context should reach this fraction of the feature's scale when one does (else the strongest is quoted).
STRONG_FRACTION = 0.6
#: Seen words probed.
MAX_PROBED = 2


def probed_words(seen: Collection[str]) -> list[str]:
    """The seen tokens worth putting in a plain sentence: those holding a letter (at most :data:`MAX_PROBED`)."""
    return [t.strip() for t in seen if any(c.isalpha() for c in t)][:MAX_PROBED]


def plain_sentences(word: str) -> list[str]:
    """``word`` in each of :data:`PLAIN_FRAMES`."""
    return [frame.format(word) for frame in PLAIN_FRAMES]


def _frame_pattern(frame: str) -> str:
    """``frame`` as a regex: any word in its slot, its closing full stop optional."""
    head, tail = frame.split("{}")
    return re.escape(head) + r"\S+" + re.escape(tail.rstrip("."))


_PLAIN_FRAME_RE = re.compile("|".join(_frame_pattern(f) for f in PLAIN_FRAMES), re.IGNORECASE)


def quotes_plain_frame(text: str) -> bool:
    """Whether ``text`` quotes one of :data:`PLAIN_FRAMES` (any word in its slot). A probe sentence is a test text
    made to check the word out of context; an explanation that gives it as a context where the feature fires tells a
    reader nothing about the texts the feature was found in."""
    return bool(_PLAIN_FRAME_RE.search(text))


def word_activation(tokens: Sequence[str], acts: Sequence[float], word: str) -> float:
    """The feature's activation on ``word`` in a measured text: the maximum over the tokens that overlap its first
    occurrence (over every token when the tokens do not spell it). A plain sentence tests the word, not its frame:
    a feature of sentence starts fires on 'The' of "The word This ...", which says nothing about 'This'."""
    text = "".join(tokens)
    start = text.find(word)
    if start < 0:
        return max(acts, default=0.0)
    end, pos, on_word = start + len(word), 0, []
    for token, act in zip(tokens, acts, strict=True):
        if pos < end and pos + len(token) > start:
            on_word.append(act)
        pos += len(token)
    return max(on_word, default=0.0)


def context_tails(fd: FeatureData, seen: Collection[str], limit: int = 6) -> list[str]:
    """Short tails of mined windows ending on a peak that is one of the ``seen`` tokens (labels), shortest first:
    the candidates for the quoted context (each is measured before it is quoted). A tail holds whole words: it
    starts where its first word starts and ends where the peak's word ends ('. NO WARRANTY', not '. NO WARRAN'),
    so that a reader shown the quote writes words, not pieces."""
    wanted = {label.casefold() for label in seen}
    tails: list[str] = []
    for ex in candidate_contexts(fd):
        if token_label(ex.tokens[ex.peak]).casefold() not in wanted:
            continue
        end = word_span(ex.tokens, ex.peak)[1]
        for n in TAIL_LENGTHS:
            start = word_span(ex.tokens, max(0, ex.peak - n))[0]
            text = " ".join("".join(ex.tokens[start:end]).split())
            if text and len(text) <= MAX_CONTEXT_CHARS and text not in tails:
                tails.append(text)
        if len(tails) >= limit:
            break
    return sorted(tails, key=len)[:limit]


__all__ = ["PLAIN_FRAMES", "context_tails", "plain_sentences", "probed_words", "quotes_plain_frame", "word_activation"]
