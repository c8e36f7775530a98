"""Whether a generalizer's class name names a class at all.

A small model asked for the class of its peak tokens often copies a word-position label from the evidence block
('whole word'), strings the tokens themselves together ('return class'), or names a bare kind of token ('keyword',
'punctuation') without the language, topic or use it belongs to. None says what kind of token fires, and a class
tested under such a name can only be accepted as what the statistics already said.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections.abc import Callable, Sequence

from sage_nb.evidence import CLASSES

#: The evidence's word-position classes: where a token sits in its word, never what kind of word it is.
POSITION_CLASSES = frozenset(CLASSES[:3])
#: Words that only say "a token" when a class name is made of them and of the seen tokens.
_FILLER = frozenset({"token", "word", "words", "tokens", "the", "a", "an", "and", "or", "of", "piece", "pieces"})
#: Kinds of token that say nothing of their domain when they stand alone (singular): 'keyword' could be any
#: language's, 'symbol' any notation's. With a word of the domain they name a class.
GENERIC_KINDS = frozenset(
    {"keyword", "symbol", "punctuation", "mark", "character", "identifier", "operator", "term", "name", "special"}
)


#: Bare kinds the evidence can qualify: (the class they name, whether a token is one), when every seen token is one
#: and the feature's exemplars are code.
QUALIFIED_KINDS: dict[str, tuple[str, Callable[[str], bool]]] = {"keyword": ("Python keywords", keyword.iskeyword)}
#: Share of a feature's top exemplars that must look like code for a bare kind to be qualified.
CODE_SHARE = 0.5
#: Unicode categories of brackets, and the class a bare kind of punctuation names when every seen token holds one.
BRACKET_KINDS = {"Pe": "closing brackets", "Ps": "opening brackets"}


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _words(name: str) -> list[str]:
    """The words of a class name, case-folded and singular."""
    return [_singular(w) for w in re.findall(r"\w+", name.casefold())]


def _kind_words(name: str) -> list[str]:
    """The words of a class name that say what kind it is: :func:`_words` without filler ('tokens', 'the')."""
    return [w for w in _words(name) if w not in _FILLER]


#: Why a bare kind names no class (:func:`class_name_problem`): the loop measures its members before asking again.
BARE_KIND = "it names a bare kind of token without saying of which language, topic or use"
#: Why a name like 'pos_and_size_pair' names no class: it is an identifier of the code, not a kind of token.
IDENTIFIER = "it is an identifier from the code, not the name of a kind of token"
#: The words that name a shape class by itself (see :func:`names_shape`): a digit is no control for 'digits', but
#: '(' is one for 'closing brackets'.
SHAPE_WORDS: dict[str, frozenset[str]] = {
    "digit": frozenset({"digit", "number", "numeral", "numeric", "integer"}),
    "punctuation": GENERIC_KINDS | {"punctuation", "sign", "special"},
}


def class_name_problem(name: str, seen: Sequence[str]) -> str:
    """Why ``name`` names no class of the ``seen`` tokens ('' when it does): a word-position label of the
    evidence, an identifier from the code ('pos_and_size_pair'), nothing but the seen tokens themselves (and filler
    words such as 'word'), or a bare kind of token (:data:`GENERIC_KINDS`)."""
    words = _words(name)
    if not words:
        return "it holds no word"
    if len(name.split()) == 1 and "_" in name.strip("_"):
        return IDENTIFIER
    if " ".join(words) in {_singular(c) for c in POSITION_CLASSES} | {"word", "token"}:
        return "it says where a token sits in its word, not what kind of token it is"
    own = {_singular(t.strip().casefold()) for t in seen if t.strip()}
    if all(w in own or w in _FILLER for w in words):
        return "it repeats the tokens instead of naming their kind"
    if all(w in GENERIC_KINDS or w in _FILLER for w in words):
        return BARE_KIND
    return ""


def names_shape(name: str, shape: str) -> bool:
    """Whether the class ``name`` is the shape class ``shape`` itself ('digits', 'punctuation marks'), so that a
    token of that shape cannot stand outside it; a narrower name ('even digits', 'closing brackets') can."""
    words = _kind_words(name)
    return bool(words) and all(w in SHAPE_WORDS.get(shape, ()) for w in words)


def holds_category(category: str) -> Callable[[str], bool]:
    """Whether a token holds a character of the Unicode ``category`` ('Pe': a closing bracket)."""
    return lambda token: any(unicodedata.category(c) == category for c in token.strip())


def _qualified() -> list[tuple[str, Callable[[str], bool]]]:
    """Every kind the evidence can check: (qualified name, membership test)."""
    return [*QUALIFIED_KINDS.values(), *((kind, holds_category(c)) for c, kind in BRACKET_KINDS.items())]


def qualified_kind(name: str, seen: Sequence[str], code_share: float) -> tuple[str, Callable[[str], bool]] | None:
    """The class a bare kind ``name`` names once the evidence qualifies it, and the test of its members; None when
    it cannot be qualified. 'keyword' for ``seen`` tokens that are all Python keywords, in exemplars of which at least
    :data:`CODE_SHARE` look like code (``code_share``), is 'Python keywords': the tokens say which language. A bare
    kind of punctuation ('punctuation', 'special characters') for seen tokens that all hold a character of one
    :data:`BRACKET_KINDS` category is that kind of bracket: ')', '])' and ')),' are closing brackets."""
    words = _kind_words(name)
    tokens = [t.strip() for t in seen if t.strip()]
    if not words or not tokens:
        return None
    if len(words) == 1 and words[0] in QUALIFIED_KINDS and code_share >= CODE_SHARE:
        qualified, member = QUALIFIED_KINDS[words[0]]
        return (qualified, member) if all(member(t) for t in tokens) else None
    if all(w in SHAPE_WORDS["punctuation"] for w in words):
        for category, qualified in BRACKET_KINDS.items():
            member = holds_category(category)
            if all(member(t) for t in tokens):
                return qualified, member
    return None


def kind_member(name: str) -> Callable[[str], bool] | None:
    """The membership test of a class named as one of the kinds the evidence can check (the qualified names of
    :data:`QUALIFIED_KINDS` and :data:`BRACKET_KINDS`, e.g. 'Python keywords'), or None for any other name: a keyword
    listed as a non-member of 'Python keywords' is no control for it, whoever named the class."""
    words = _kind_words(name)
    for qualified, member in _qualified():
        if words == _words(qualified):
            return member
    return None


__all__ = [
    "BARE_KIND",
    "BRACKET_KINDS",
    "CODE_SHARE",
    "GENERIC_KINDS",
    "IDENTIFIER",
    "POSITION_CLASSES",
    "QUALIFIED_KINDS",
    "SHAPE_WORDS",
    "class_name_problem",
    "holds_category",
    "kind_member",
    "names_shape",
    "qualified_kind",
]
