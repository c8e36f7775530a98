"""The catalogue of planted features: each one's name, rule, answer key and the words that name its concept.

:func:`planted_features` is the one source of truth for them; bump :data:`PLANTED_VERSION` whenever a rule changes,
so cached feature indexes of the old rules are not reused.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from sage_nb.targets.planted.rules import (
    TIME_UNIT,
    WEEKDAYS,
    TokenFn,
    all_caps,
    closing_brackets,
    def_names,
    digits,
    inside,
    months,
    operators,
    python_keywords,
    sentence_starts,
    time_unit_value,
    weekdays,
    words,
)

#: Bumped whenever a planted rule changes, so cached feature indexes of the old rules are not reused.
PLANTED_VERSION = 1


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
                r"(" + "|".join(WEEKDAYS) + r")s?",
            ),
            weekdays,
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
            months,
        ),
        (
            "digit",
            "Digits 0-9: every token holding a digit fires 1.5 + the digit's place in its run of consecutive "
            "digits (1 for the first), capped at 8.0, so later digits of long numbers fire more.",
            ("digits", "numbers"),
            (r"digits?", r"numbers?", r"numerals?", r"numeric(al)?", r"integers?"),
            digits,
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
            python_keywords,
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
            closing_brackets,
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
            inside("s", 2.0, 0.5, 6.0),
        ),
        (
            "comment",
            "Tokens of a # comment, after the # (which does not fire) up to the end of the line; a # inside a "
            "string does not start one: 3.0 + 0.5 per earlier token of the same comment, capped at 7.0.",
            ("code comments", "text after #"),
            (r"comments?", r"after (a |the )?(#|hash|pound)( sign| symbol| character)?"),
            inside("m", 3.0, 0.5, 7.0),
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
            sentence_starts,
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
            operators,
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
            def_names,
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
            words(TIME_UNIT, time_unit_value),
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
            all_caps,
        ),
    ]
    return [
        PlantedFeature(i, name, description, labels, keywords, fn)
        for i, (name, description, labels, keywords, fn) in enumerate(specs)
    ]
