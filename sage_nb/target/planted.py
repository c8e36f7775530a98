"""Planted ground-truth features: a stand-in for an SAE whose features are known functions of the tokens.

Real SAE features have no answer key, so nobody can say whether an explanation is right. A
:class:`PlantedTarget` has the same interface as :class:`~sage_nb.target.target.Target` (``activations``,
``measure``, ``encode``, ``check_features``, ...), so the explaining agent, the feature index
(:func:`~sage_nb.data.index.mine`) and the widgets run on it unchanged, but each of its "features" is a
hand-written rule such as "weekday names" or "tokens inside a ``#`` comment". Learners can check their
own explanations against the truth, and tests and benchmarks can count how many planted concepts an
agent recovers (:meth:`PlantedFeature.matches`).

Only a tokenizer is needed, never a model forward pass. Activations mimic SAE features: non-negative,
zero almost everywhere, graded by a stated rule and at most 10. Every rule reads the text that the tokens
spell, so leading-space tokens (``' Monday'``) and words split into pieces (``' sund'`` + ``'ay'``) are
handled alike. Unlike a causal model, a rule may look a few characters ahead to tell a whole word.
"""

from __future__ import annotations

import keyword
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from sage_nb.config import DEFAULT_MODEL, cache_dir
from sage_nb.data.contexts import bos_id
from sage_nb.target.base import EncodedBatch, TokenTarget
from sage_nb.target.models import EMBEDDED_MODELS, load_hf_model
from sage_nb.target.saes import SAESource

#: Bumped whenever a planted rule changes, so cached feature indexes of the old rules are not reused.
PLANTED_VERSION = 1

TokenFn = Callable[[Sequence[str]], list[float]]


# -- the feature record ----------------------------------------------------------------------------------
def _normalise(text: str) -> str:
    """Lower case, with runs of spaces, hyphens and underscores made one space (``day-of-week`` -> ``day of week``)."""
    return re.sub(r"[\s\-_]+", " ", text.lower()).strip()


@lru_cache(maxsize=64)
def _matcher(labels: tuple[str, ...], keywords: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = [re.escape(_normalise(label)) for label in labels] + list(keywords)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@dataclass(frozen=True)
class PlantedFeature:
    """One planted feature: its rule ``fn`` (token strings of a text, BOS excluded -> activations) and names.

    ``labels`` are short names of the concept; ``keywords`` are regular expressions (lower case, words
    separated by single spaces) that an explanation naming the concept would contain.
    """

    index: int
    name: str
    description: str
    labels: tuple[str, ...]
    keywords: tuple[str, ...]
    fn: TokenFn = field(repr=False, compare=False)

    @property
    def token_level(self) -> bool:
        """Whether the feature fires on words or symbols of one kind wherever they stand (see ``TOKEN_LEVEL``)."""
        return self.name in TOKEN_LEVEL

    def matches(self, text: str) -> bool:
        """Whether an explanation or label names this feature's concept (case-insensitive keyword match)."""
        return bool(_matcher(self.labels, self.keywords).search(_normalise(text)))

    def activate(self, tokens: Sequence[str]) -> list[float]:
        """The feature's activation on each token of a text (BOS excluded)."""
        acts = self.fn(list(tokens))
        if len(acts) != len(tokens):
            raise RuntimeError(f"Planted feature {self.name!r} returned {len(acts)} values for {len(tokens)} tokens")
        return acts


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


def _words(pattern: re.Pattern[str], value: Callable[[re.Match[str]], float | None]) -> TokenFn:
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


def _inside(kind: str, base: float, step: float, cap: float) -> TokenFn:
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
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WEEKDAY_FULL = re.compile(r"(?<![A-Za-z])(?:" + "|".join(_WEEKDAYS) + r")s?(?![A-Za-z])", re.IGNORECASE)
_WEEKDAY_ABBR = re.compile(r"(?<![A-Za-z])(?:Mon|Tues?|Wed|Thu(?:rs?)?|Fri|Sat|Sun)(?![A-Za-z])")


def _weekdays(tokens: Sequence[str]) -> list[float]:
    full = _words(_WEEKDAY_FULL, lambda m: 8.0 if m.group()[0].isupper() else 6.0)(tokens)
    abbr = _words(_WEEKDAY_ABBR, lambda m: 4.0)(tokens)
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


def _months(tokens: Sequence[str]) -> list[float]:
    full = _words(_MONTH_FULL, _month_value)(tokens)
    abbr = _words(_MONTH_ABBR, lambda m: 3.0)(tokens)
    return [max(a, b) for a, b in zip(full, abbr, strict=True)]


def _digits(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    run = 0
    for i, ch in enumerate(t.text):
        run = run + 1 if "0" <= ch <= "9" else 0
        if run:
            t.fire(t.token_at(i), min(1.5 + run, 8.0))
    return t.acts


_ENGLISH_KEYWORDS = frozenset({"and", "as", "for", "from", "if", "in", "is", "not", "or", "with"})
_PY_KEYWORD = re.compile(r"(?<!\w)(?:" + "|".join(sorted(keyword.kwlist, key=len, reverse=True)) + r")(?!\w)")


def _python_keywords(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _PY_KEYWORD.finditer(t.text):
        tok = t.token_at(m.start())
        if tok == t.token_at(m.end() - 1):  # the keyword is one token, not pieces
            t.fire(tok, 2.0 if m.group() in _ENGLISH_KEYWORDS else 6.0)
    return t.acts


def _closing_brackets(tokens: Sequence[str]) -> list[float]:
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


def _sentence_starts(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _SENTENCE_START.finditer(t.text):
        t.fire(t.token_at(m.start(1)), min(4.0 + 0.5 * len(m.group(1)), 8.0))
    return t.acts


_COMPARISON = frozenset({"==", "!=", "<", ">", "<=", ">="})
_BINARY_OP = re.compile(r"(?<=\S) +(\*\*|//|==|!=|<=|>=|[-+*/%<>])(?=\s|\Z)")


def _operators(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _BINARY_OP.finditer(t.text):
        t.fire(t.token_at(m.end(1) - 1), 7.0 if m.group(1) in _COMPARISON else 4.0)
    return t.acts


_DEF_NAME = re.compile(r"(?<!\w)def[ \t]+([A-Za-z_]\w*)")


def _def_names(tokens: Sequence[str]) -> list[float]:
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
_TIME_UNIT = re.compile(
    r"(?<![A-Za-z])(?:seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|century|centuries|"
    r"millennium|millennia)(?![A-Za-z])",
    re.IGNORECASE,
)


def _time_unit_value(m: re.Match[str]) -> float:
    word = m.group().lower()
    return _TIME_UNITS.get(word) or _TIME_UNITS[word[:-1]]


_ALL_CAPS = re.compile(r"(?<![A-Za-z0-9_])[A-Z][A-Z0-9_]*[A-Z0-9](?![A-Za-z0-9_])")


def _all_caps(tokens: Sequence[str]) -> list[float]:
    t = _Text(tokens)
    for m in _ALL_CAPS.finditer(t.text):
        if sum(ch.isupper() for ch in m.group()) >= 2:
            t.fire_span(m.start(), m.end(), lambda k: min(3.0 + k, 7.0))
    return t.acts


#: Planted features that fire on words or symbols of one kind (a closed set of tokens, or a token's own shape)
#: wherever they stand. The others pick their tokens by the surroundings: inside a string or a comment, at a
#: sentence start, after 'def'. Naming the peak token explains the first kind; the second needs the context.
TOKEN_LEVEL = frozenset(
    {"weekday", "month", "digit", "python_keyword", "closing_bracket", "binary_operator", "time_unit", "all_caps"}
)


def planted_features() -> list[PlantedFeature]:
    """All planted features, in index order: the one source of truth for their rules and names."""
    specs: list[tuple[str, str, tuple[str, ...], tuple[str, ...], TokenFn]] = [
        (
            "weekday",
            "Names of the days of the week, on the token that completes the word: a full name (Monday..Sunday, "
            "any case, plural allowed) 8.0 when capitalised, 6.0 otherwise; a capitalised abbreviation "
            "(Mon, Tue, Tues, Wed, Thu, Thur, Thurs, Fri, Sat, Sun) 4.0.",
            ("weekday names", "days of the week"),
            (
                r"week ?days?",
                r"days? of (the )?week",
                r"(names? of|named) (the )?days",
                r"day names?",
                r"(" + "|".join(_WEEKDAYS) + r")s?",
            ),
            _weekdays,
        ),
        (
            "month",
            "Names of the months, on the token that completes the word: a capitalised full name (January.."
            "December, May and March included) 7.0, a lower-case one 5.0 (not 'may' or 'march'); a capitalised "
            "abbreviation (Jan, Feb, Mar, Apr, Jun, Jul, Aug, Sep, Sept, Oct, Nov, Dec) 3.0.",
            ("month names", "names of the months"),
            (
                r"month names?",
                r"names? of (the )?months",
                r"months of (the )?year",
                r"calendar months?",
                r"(january|february|april|june|july|august|september|october|november|december)",
            ),
            _months,
        ),
        (
            "digit",
            "Digits 0-9: every token holding a digit fires 1.5 + the digit's place in its run of consecutive "
            "digits (1 for the first), capped at 8.0, so later digits of long numbers fire more.",
            ("digits", "numbers"),
            (r"digits?", r"numbers?", r"numerals?", r"numeric(al)?", r"integers?"),
            _digits,
        ),
        (
            "python_keyword",
            "Python keywords (keyword.kwlist, case-sensitive) written as one whole-word token: 6.0, or 2.0 for "
            "those that are also common English words (and, as, for, from, if, in, is, not, or, with).",
            ("Python keywords", "reserved words"),
            (
                r"python keywords?",
                r"reserved (key)?words?",
                r"(language|programming|code|syntax|control flow) keywords?",
                r"keywords? (like|such as|e\.?g\.?)",
            ),
            _python_keywords,
        ),
        (
            "closing_bracket",
            "Closing brackets ) ] }: the token holding one fires 2.0 + 1.5 x the nesting depth it closes "
            "(at least 1), capped at 8.0, so deeply nested closers fire more.",
            ("closing brackets", "closing parentheses"),
            (
                r"clos(e|ed|ing) (round |square |curly )?(brackets?|parenthes[ie]s|parens?|braces?|delimiters?)",
                r"right (brackets?|parenthes[ie]s|parens?|braces?)",
                r"(brackets?|parenthes[ie]s|parens?|braces?) (being )?closed",
            ),
            _closing_brackets,
        ),
        (
            "string_literal",
            "Tokens inside a string literal, between matching quotes (the quotes themselves do not fire): "
            "2.0 + 0.5 per earlier token of the same string, capped at 6.0. A quote right after a letter or "
            "digit is an apostrophe; triple quotes span lines; a one-quote string ends at the end of its line.",
            ("inside string literals", "quoted strings"),
            (
                r"string literals?",
                r"(inside|within|in|between) (a |the )?(quoted )?(strings?|quotes|quotation marks)",
                r"quoted (text|strings?|words?)",
                r"string (contents?|values?|text)",
                r"docstrings?",
            ),
            _inside("s", 2.0, 0.5, 6.0),
        ),
        (
            "comment",
            "Tokens of a # comment, after the # (which does not fire) up to the end of the line; a # inside a "
            "string does not start one: 3.0 + 0.5 per earlier token of the same comment, capped at 7.0.",
            ("code comments", "text after #"),
            (r"comments?", r"after (a |the )?(#|hash|pound)( sign| symbol| character)?"),
            _inside("m", 3.0, 0.5, 7.0),
        ),
        (
            "sentence_start",
            "A capitalised word (first letter A-Z) that starts a sentence: at the start of the text or after "
            ". ! or ? and whitespace. The token holding the capital fires 4.0 + 0.5 x the word's letter count, "
            "capped at 8.0. Capitalised words elsewhere stay silent.",
            ("sentence-initial capitalised words", "first word of a sentence"),
            (
                r"(start|beginning|first word|opening word)s? of (a |the |each |every |new )?sentences?",
                r"sentence (start|initial|beginning|opening)\w*",
                r"(starts?|begins?|beginning|starting|opens?|opening) (a |the |each |every )?(new )?sentences?",
                r"after (a |the )?(period|full stop|sentence end)",
            ),
            _sentence_starts,
        ),
        (
            "binary_operator",
            "Arithmetic and comparison operators used as binary operators: spaces before them that follow a "
            "non-space character, and whitespace (or the end of the text) after them. Comparisons (== != < > <= "
            ">=) 7.0, arithmetic (+ - * / // % **) 4.0; assignment '=' and unary minus do not fire.",
            ("arithmetic and comparison operators", "binary operators"),
            (
                r"operators?",
                r"arithmetic",
                r"comparisons?",
                r"(math|mathematical) (symbols?|signs?)",
                r"(plus|minus|less than|greater than) signs?",
            ),
            _operators,
        ),
        (
            "def_name",
            "The name of a function being defined, right after 'def': every token of the name fires, 8.0 on the "
            "first and 1.0 less on each further piece, at least 4.0.",
            ("function names in definitions", "name after def"),
            (
                r"(function|method) names?",
                r"names? of (a |the )?(new |defined )?(functions?|methods?)",
                r"(functions?|methods?) being defined",
                r"(names?|identifiers?) (after|following) (the )?`?def`?( keyword)?",
                r"defined (functions?|methods?)",
                r"function identifiers?",
            ),
            _def_names,
        ),
        (
            "time_unit",
            "Words for units of time (second, minute, hour, day, week, month, year, decade, century, "
            "millennium; any case, plural allowed, whole words only), on the token completing the word; larger "
            "units fire more: second 2.0, minute 3.0, hour 4.0, day 5.0, week 6.0, month 7.0, year 8.0, "
            "decade 9.0, century 9.5, millennium 10.0.",
            ("units of time", "time units"),
            (
                r"units? of time",
                r"time units?",
                r"durations?",
                r"time (spans?|periods?|intervals?|durations?|measurements?)",
                r"(lengths?|periods?|amounts?|spans?) of time",
                r"(seconds|minutes|hours)",
            ),
            _words(_TIME_UNIT, _time_unit_value),
        ),
        (
            "all_caps",
            "All-caps words: a word of upper-case letters, digits and underscores that starts with a letter, "
            "has at least two upper-case letters and touches no lower-case letter (HTTP, MAX_SIZE, UTF8). Every "
            "token of it fires: 3.0 on the first piece and 1.0 more on each further piece, capped at 7.0.",
            ("all-caps words", "uppercase constants"),
            (
                r"all caps",
                r"all upper ?case",
                r"(fully|entirely|completely|wholly) (upper ?case|capitali[sz]ed)",
                r"upper ?case (constants?|identifiers?|names?|acronyms?|abbreviations?)",
                r"(named|module|global) constants?",
                r"constant names?",
                r"acronyms?",
                r"screaming snake case",
                r"capital letters only",
            ),
            _all_caps,
        ),
    ]
    return [
        PlantedFeature(i, name, description, labels, keywords, fn)
        for i, (name, description, labels, keywords, fn) in enumerate(specs)
    ]


# -- the target ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlantedHook:
    """Where a planted target "reads the model": nowhere; ``name`` keeps index metadata and cache keys apart."""

    name: str = "planted"


class PlantedTarget(TokenTarget):
    """A tokenizer plus planted features, measured through the same interface as a model + SAE.

    Build it with :func:`load_planted_target`. ``check_features``, ``tokenize``, ``activations`` and
    ``measure`` come from :class:`~sage_nb.target.base.TokenTarget`, as for a real SAE, so texts are tokenised,
    validated and masked exactly alike.
    """

    def __init__(
        self,
        tokenizer: PreTrainedTokenizerBase,
        features: Sequence[PlantedFeature] | None = None,
        *,
        model_name: str | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.features = list(planted_features() if features is None else features)
        if not self.features:
            raise ValueError("A planted target needs at least one planted feature")
        for position, feature in enumerate(self.features):
            if feature.index != position:
                raise ValueError(f"Planted feature {feature.name!r} has index {feature.index}, not {position}")
        self.model_name = model_name or Path(getattr(tokenizer, "name_or_path", "") or "tokenizer").name
        self.sae_source = SAESource(f"planted-v{PLANTED_VERSION}")
        self.hook = PlantedHook()
        self._bos = bos_id(tokenizer)
        self._special = torch.tensor(sorted(set(tokenizer.all_special_ids)), dtype=torch.long)
        self._strings: dict[int, str] = {}

    # -- facts -------------------------------------------------------------------------------------------
    @property
    def d_sae(self) -> int:
        return len(self.features)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def __repr__(self) -> str:
        return f"PlantedTarget(model={self.model_name!r}, sae={self.sae_source.label!r}, d_sae={self.d_sae})"

    def feature(self, key: int | str) -> PlantedFeature:
        """A planted feature by index or by name."""
        if isinstance(key, str):
            for feature in self.features:
                if feature.name == key:
                    return feature
            raise KeyError(f"No planted feature named {key!r}; names: {[f.name for f in self.features]}")
        (index,) = self.check_features(key)
        return self.features[index]

    def token_strings(self, ids: Sequence[int]) -> list[str]:
        """Each token id as the text it stands for (so that joining them gives the text back)."""
        out = []
        for i in ids:
            i = int(i)
            if i not in self._strings:
                self._strings[i] = self.tokenizer.decode([i])
            out.append(self._strings[i])
        return out

    # -- measuring ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def encode(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None, features: Sequence[int] | None = None
    ) -> EncodedBatch:
        """Planted activations for token ids (BOS at position 0). Padding, BOS and special tokens read as 0.

        Each run of real tokens between special tokens (document separators) is measured as its own text.
        """
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        chosen = list(range(self.d_sae)) if features is None else self.check_features(list(features))
        mask = attention_mask.bool() & ~torch.isin(input_ids, self._special)
        mask[:, 0] = False
        acts = torch.zeros(*input_ids.shape, len(chosen))
        for row in range(input_ids.shape[0]):
            keep = mask[row].tolist()
            ids = input_ids[row].tolist()
            pos = 0
            while pos < len(ids):
                if not keep[pos]:
                    pos += 1
                    continue
                end = pos
                while end < len(ids) and keep[end]:
                    end += 1
                tokens = self.token_strings(ids[pos:end])
                for j, f in enumerate(chosen):
                    acts[row, pos:end, j] = torch.tensor(self.features[f].activate(tokens))
                pos = end
        return EncodedBatch(input_ids, mask, acts)

    def top_output_tokens(self, feature: int, k: int = 10) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """Planted features have no decoder direction: no promoted and no suppressed tokens."""
        self.check_features(feature)
        return [], []

    def describe(self, feature: int) -> str:
        """The true rule behind a planted feature (the answer key; don't show it to the agent being tested)."""
        return self.feature(feature).description


def _embedded_tokenizer(name: str) -> PreTrainedTokenizerBase:
    folder = cache_dir() / "models" / name
    if not (folder / "config.json").exists() or not (folder / "tokenizer_config.json").exists():
        load_hf_model(name)  # builds the dequantised cache (tokenizer included) on first use
    return AutoTokenizer.from_pretrained(str(folder))


def load_planted_target(tokenizer: PreTrainedTokenizerBase | str | None = None) -> PlantedTarget:
    """A :class:`PlantedTarget` over ``tokenizer``: a tokenizer object, an embedded model name or a HF path/id.

    With no argument: the embedded SmolLM2-135M-Instruct's tokenizer (no model is kept in memory).

    >>> target = load_planted_target()  # doctest: +SKIP
    >>> target.measure("See you on Monday", feature=0).acts  # doctest: +SKIP
    [0.0, 0.0, 0.0, 8.0]
    """
    if tokenizer is None:
        tokenizer = DEFAULT_MODEL
    if isinstance(tokenizer, str):
        name = tokenizer
        tok = _embedded_tokenizer(name) if name in EMBEDDED_MODELS else AutoTokenizer.from_pretrained(name)
        return PlantedTarget(tok, model_name=name)
    return PlantedTarget(tokenizer)


__all__ = [
    "PLANTED_VERSION",
    "PlantedFeature",
    "PlantedHook",
    "PlantedTarget",
    "load_planted_target",
    "planted_features",
]
