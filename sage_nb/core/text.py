"""Text helpers every layer shares: how a token is shown, how a text names a token, and how whitespace is called.

One home for each: :func:`visible` renders a token for prompts and panels (whitespace, quotes and control characters
made visible), :func:`unvisible` undoes it on text an LLM copied back, :func:`names_token` decides whether a text names
a token, and :data:`WHITESPACE_NAMES` / :func:`whitespace_name` say how whitespace is called.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence

#: Longest token shown by :func:`show_token` (characters, after making whitespace visible).
SHOWN_TOKEN_CHARS = 16
_VISIBLE = {" ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍", '"': "＂", "\\": "⧵"}
#: Quote pairs around a one-character token that count as naming it (``names_token(..., include_short=True)``).
_QUOTE_PAIRS = (("'", "'"), ('"', '"'), ("`", "`"), ("‘", "’"), ("“", "”"))
#: How a text names a whitespace token, by the first of these characters the token holds (a space otherwise).
WHITESPACE_NAMES = {
    "\n": ("line break", "newline", "new line", "blank line", "line-break", "↵", "\\n"),
    "\t": ("tab", "⇥", "\\t"),
    " ": ("space", "␣"),
}


def visible(token: str) -> str:
    """``token`` with whitespace, double quotes, backslashes and control characters made visible (no quotes added)."""
    if not token:
        return "∅"
    out = []
    for c in token:
        if c in _VISIBLE:
            out.append(_VISIBLE[c])
        elif c.isspace():
            out.append("␣")
        elif unicodedata.category(c) == "Cc":
            out.append("¤")
        else:
            out.append(c)
    return "".join(out)


_DISPLAY_CONTROL = {"\n": "↵", "\t": "⇥"}


def visible_token(token: str) -> str:
    """A token for display in the HTML views: newlines as ↵, tabs as ⇥, other control characters as symbols, a
    blank token as ␣; unlike :func:`visible` (for prompts), spaces inside a token stay spaces, which reads better."""
    out = token.replace("\r\n", "\n")
    out = "".join(_DISPLAY_CONTROL.get(c, chr(0x2400 + ord(c)) if ord(c) < 0x20 else c) for c in out)
    out = out.replace("\x7f", "␡")
    if out and not out.strip(" "):
        out = out.replace(" ", "␣")  # a token of spaces only would be an empty-looking box
    return out


def unvisible(text: str) -> str:
    """Undo :func:`visible` on text an LLM copied from a prompt (visible whitespace marks become whitespace)."""
    for char, mark in _VISIBLE.items():
        text = text.replace(mark, char)
    return text


def show_token(token: str, max_chars: int = SHOWN_TOKEN_CHARS) -> str:
    """``token`` made visible, shortened to ``max_chars`` and wrapped in single quotes."""
    text = visible(token)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return f"'{text}'"


def is_word_char(c: str) -> bool:
    return c.isalnum() or c == "_"


def _joins(left: str, right: str) -> bool:
    """Whether token ``right`` continues the word that token ``left`` ends (no space between, word characters)."""
    return right == right.lstrip() and is_word_char(right[:1]) and is_word_char(left[-1:])


def word_span(tokens: Sequence[str], at: int) -> tuple[int, int]:
    """Token indices ``[lo, hi)`` of the whole word that token ``at`` is a piece of (just ``at`` when the token is
    a whole word, or holds no letter, digit or underscore): 'ED' in 'ZIP_STOR' + 'ED' spans both tokens."""
    body = tokens[at].strip()
    if not body or not (is_word_char(body[0]) or is_word_char(body[-1])):
        return at, at + 1
    lo, hi = at, at + 1
    while lo > 0 and _joins(tokens[lo - 1], tokens[lo]):
        lo -= 1
    while hi < len(tokens) and _joins(tokens[hi - 1], tokens[hi]):
        hi += 1
    return lo, hi


def names_token(text: str, tokens: Iterable[str], include_short: bool = False, case_sensitive: bool = False) -> bool:
    """Whether ``text`` names one of ``tokens`` whole, case-insensitive unless ``case_sensitive``: 'ed' is not
    named by "used", '==' is named by "a==b". Tokens of one character and whitespace tokens are too ambiguous to
    count, unless ``include_short``: then a one-character token counts when it stands in quotes ('#', "L", `5`) and
    a whitespace token when the text calls it by name (:data:`WHITESPACE_NAMES`: "a line break", "newline", "a tab"
    ...)."""
    fold = (lambda x: x) if case_sensitive else str.casefold
    said = fold(text)
    for token in {fold(t) for t in tokens}:
        body = token.strip()
        if len(body) >= 2:
            before = r"(?<!\w)" if is_word_char(body[0]) else ""
            after = r"(?!\w)" if is_word_char(body[-1]) else ""
            if re.search(before + re.escape(body) + after, said):
                return True
        elif include_short and quotes_token(said, body):
            return True
        elif include_short and not body and token and _names_whitespace(said, token):
            return True
    return False


def quotes_token(text: str, token: str) -> bool:
    """Whether ``text`` cites ``token`` (stripped, case-insensitive) in quotes: 'the', "in", `x`, ‘a’ or “b”."""
    body, said = token.strip().casefold(), text.casefold()
    return bool(body) and any(f"{o}{body}{c}" in said for o, c in _QUOTE_PAIRS)


def _names_whitespace(said: str, token: str) -> bool:
    kind = next((mark for mark in WHITESPACE_NAMES if mark in token), " ")
    for name in WHITESPACE_NAMES[kind]:
        if name[0].isalpha():
            if re.search(r"(?<!\w)" + re.escape(name) + r"s?(?!\w)", said):
                return True
        elif name in said:
            return True
    return False


def whitespace_name(token: str) -> str:
    """A name for a whitespace token: 'a blank line', 'a line break', 'a tab', 'a space' or 'spaces' (each one of the
    names :data:`WHITESPACE_NAMES` lists, so :func:`names_token` counts it)."""
    if token.count("\n") > 1:
        return "a blank line"
    if "\n" in token:
        return "a line break"
    if "\t" in token:
        return "a tab"
    return "a space" if len(token) == 1 else "spaces"


def token_label(token: str) -> str:
    """A token as a reader would write it: its text without the leading space, or a name for whitespace."""
    return token.strip() or whitespace_name(token)


def token_phrase(token: str) -> str:
    """:func:`token_label` in quotes (names of whitespace stay unquoted)."""
    body = token.strip()
    return f"'{body}'" if body else whitespace_name(token)


def undo_prompt_marks(text: str) -> str:
    """An LLM's text with the marks it copied from a prompt undone (visible whitespace, the ⟦ ⟧ around a peak token),
    spaces collapsed."""
    return " ".join(unvisible(text).replace("⟦", "").replace("⟧", "").split())
