"""The planted features' rules: functions from a text's tokens to activations, reading the text the tokens spell.

Every rule maps a list of token strings to one activation per token (non-negative, 0 almost everywhere, at most 10).
Helpers map character spans of the joined text back to the tokens that hold them, and a small Python-ish lexer tells
strings and comments apart.
"""

from __future__ import annotations

import keyword
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence

#: A planted rule: the tokens of one text in, one activation per token out.
TokenFn = Callable[[Sequence[str]], list[float]]


# -- helpers: from characters of the joined text back to tokens ------------------------------------------
class _Text:
    """The text a token list spells, with a map from character positions to token positions."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tokens
        self.starts: list[int] = []
        pos = 0
        for tok in tokens:
            self.starts.append(pos)
            pos += len(tok)
        self.text = "".join(tokens)
        self.acts = [0.0] * len(tokens)

    def token_at(self, char: int) -> int:
        """The token that holds character ``char`` (an empty token never does)."""
        return bisect_right(self.starts, char) - 1

    def fire(self, token: int, value: float) -> None:
        self.acts[token] = max(self.acts[token], float(value))

    def fire_span(self, start: int, end: int, value: Callable[[int], float]) -> None:
        """Fire every token overlapping characters ``[start, end)``; ``value(k)`` for the k-th such token."""
        first, last = self.token_at(start), self.token_at(end - 1)
        for k, tok in enumerate(range(first, last + 1)):
            self.fire(tok, value(k))


def words(pattern: re.Pattern[str], value: Callable[[re.Match[str]], float | None]) -> TokenFn:
    """A rule that fires, for each match of ``pattern``, on the token holding the match's last character."""

    def fn(tokens: Sequence[str]) -> list[float]:
        t = _Text(tokens)
        for m in pattern.finditer(t.text):
            v = value(m)
            if v:
                t.fire(t.token_at(m.end() - 1), v)
        return t.acts

    return fn


# -- a tiny Python-ish lexer for strings and comments ----------------------------------------------------
_PREFIX = re.compile(r"(?:^|\W)[rbfuRBFU]{1,2}$")


def _lex(text: str) -> tuple[str, list[int]]:
    """Classify each character: ``c`` code, ``q`` quote, ``s`` string content, ``h`` the ``#``, ``m`` comment.

    Returns the classes and, per character, the number of the string or comment it belongs to (0 outside).
    Rules: ``"`` or ``'`` outside a string opens one, unless it follows a letter or digit (an apostrophe, as
    in ``don't``; string prefixes such as ``f'`` still open); ``\"\"\"``/``'''`` open a triple-quoted string
    that spans lines; a one-quote string ends at its matching quote or at the end of the line; a backslash
    escapes the next character; ``#`` outside a string starts a comment that runs to the end of the line.
    """
    kinds = ["c"] * len(text)
    region = [0] * len(text)
    state, delim, n_regions = "code", "", 0
    i = 0
    while i < len(text):
        ch = text[i]
        if state == "code":
            if ch in "\"'":
                prev = text[i - 1] if i else ""
                if (prev.isalnum() or prev == "_") and not _PREFIX.search(text[max(0, i - 3) : i]):
                    i += 1  # an apostrophe
                    continue
                n_regions += 1
                width = 3 if text.startswith(ch * 3, i) else 1
                state, delim = "string", ch * width
                kinds[i : i + width] = ["q"] * width
                i += width
                continue
            if ch == "#":
                n_regions += 1
                state = "comment"
                kinds[i] = "h"
        elif state == "comment":
            if ch == "\n":
                state = "code"
            else:
                kinds[i], region[i] = "m", n_regions
        else:  # inside a string
            if ch == "\\" and i + 1 < len(text):
                kinds[i : i + 2] = ["s", "s"]
                region[i : i + 2] = [n_regions, n_regions]
                i += 2
                continue
            if text.startswith(delim, i):
                kinds[i : i + len(delim)] = ["q"] * len(delim)
                state = "code"
                i += len(delim)
                continue
            if ch == "\n" and len(delim) == 1:
                state = "code"  # an unclosed one-line string ends with its line
            else:
                kinds[i], region[i] = "s", n_regions
        i += 1
    return "".join(kinds), region


def inside(kind: str, base: float, step: float, cap: float) -> TokenFn:
    """A rule firing on tokens holding characters of class ``kind``: ``base + step * k`` (capped) on the k-th
    such token of the same string or comment."""

    def fn(tokens: Sequence[str]) -> list[float]:
        t = _Text(tokens)
        kinds, region = _lex(t.text)
        counts: dict[int, int] = {}
        for tok, start in enumerate(t.starts):
            pos = kinds.find(kind, start, start + len(tokens[tok]))
            if pos >= 0:
                k = counts.get(region[pos], 0)
                counts[region[pos]] = k + 1
                t.fire(tok, min(base + step * k, cap))
        return t.acts

    return fn


# -- the rules -------------------------------------------------------------------------------------------
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_FULL = re.compile(r"(?<![A-Za-z])(?:" + "|".join(WEEKDAYS) + r")s?(?![A-Za-z])", re.IGNORECASE)
_WEEKDAY_ABBR = re.compile(r"(?<![A-Za-z])(?:Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)(?![A-Za-z])")


def weekdays(tokens: Sequence[str]) -> list[float]:
    full = words(_WEEKDAY_FULL, lambda m: 8.0 if m.group()[0].isupper() else 6.0)(tokens)
    abbr = words(_WEEKDAY_ABBR, lambda m: 4.0)(tokens)
    return [max(a, b) for a, b in zip(full, abbr, strict=True)]


_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_FULL = re.compile(r"(?<![A-Za-z])(?:" + "|".join(_MONTHS) + r")(?![A-Za-z])", re.IGNORECASE)
_MONTH_ABBR = re.compile(r"(?<![A-Za-z])(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)(?![A-Za-z])")


def _month_value(m: re.Match[str]) -> float | None:
    word = m.group()
    if word[0].isupper():
        return 7.0
    return None if word in ("may", "march") else 5.0  # lower-case "may" and "march" are other words


def months(tokens: Sequence[str]) -> list[float]:
    full = words(_MONTH_FULL, _month_value)(tokens)
    abbr = words(_MONTH_ABBR, lambda m: 3.0)(tokens)
    return [max(a, b) for a, b in zip(full, abbr, strict=True)]


def digits(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    run = 0
    for i, ch in enumerate(t.text):
        run = run + 1 if "0" <= ch <= "9" else 0
        if run:
            t.fire(t.token_at(i), min(1.5 + run, 8.0))
    return t.acts


_ENGLISH_KEYWORDS = frozenset({"and", "as", "for", "from", "if", "in", "is", "not", "or", "with"})
_PY_KEYWORD = re.compile(r"(?<!\w)(?:" + "|".join(sorted(keyword.kwlist, key=len, reverse=True)) + r")(?!\w)")


def python_keywords(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _PY_KEYWORD.finditer(t.text):
        tok = t.token_at(m.start())
        if tok == t.token_at(m.end() - 1):  # the keyword is one token, not pieces
            t.fire(tok, 2.0 if m.group() in _ENGLISH_KEYWORDS else 6.0)
    return t.acts


def closing_brackets(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    depth = 0
    for i, ch in enumerate(t.text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            t.fire(t.token_at(i), min(2.0 + 1.5 * max(depth, 1), 8.0))
            depth = max(depth - 1, 0)
    return t.acts


_SENTENCE_START = re.compile(r"(?:\A\s*|[.!?]\s+)([A-Z][A-Za-z]*)")


def sentence_starts(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _SENTENCE_START.finditer(t.text):
        t.fire(t.token_at(m.start(1)), min(4.0 + 0.5 * len(m.group(1)), 8.0))
    return t.acts


_COMPARISON = frozenset({"==", "!=", "<", ">", "<=", ">="})
_BINARY_OP = re.compile(r"(?<=\S) +(\*\*|//|==|!=|<=|>=|[-+*/%<>])(?=\s|\Z)")


def operators(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _BINARY_OP.finditer(t.text):
        t.fire(t.token_at(m.end(1) - 1), 7.0 if m.group(1) in _COMPARISON else 4.0)
    return t.acts


_DEF_NAME = re.compile(r"(?<!\w)def[ \t]+([A-Za-z_]\w*)")


def def_names(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _DEF_NAME.finditer(t.text):
        t.fire_span(m.start(1), m.end(1), lambda k: max(8.0 - k, 4.0))
    return t.acts


_TIME_UNITS = {
    "second": 2.0,
    "minute": 3.0,
    "hour": 4.0,
    "day": 5.0,
    "week": 6.0,
    "month": 7.0,
    "year": 8.0,
    "decade": 9.0,
    "century": 9.5,
    "centuries": 9.5,
    "millennium": 10.0,
    "millennia": 10.0,
}
TIME_UNIT = re.compile(
    r"(?<![A-Za-z])(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|century|centuries|"
    r"millennium|millennia)(?![A-Za-z])",
    re.IGNORECASE,
)


def time_unit_value(m: re.Match[str]) -> float:
    word = m.group().lower()
    return _TIME_UNITS.get(word) or _TIME_UNITS[word[:-1]]


_ALL_CAPS = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])")


def all_caps(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _ALL_CAPS.finditer(t.text):
        if sum(ch.isupper() for ch in m.group()) >= 2:
            t.fire_span(m.start(), m.end(), lambda k: min(3.0 + k, 7.0))
    return t.acts
