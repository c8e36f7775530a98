"""Computed evidence about one SAE feature, in a compact structured form for explainers.

:class:`Evidence` counts which tokens carry a feature's peak activation (and which tokens stand just before and
after it), what kind of token the peak is (digit, punctuation, keyword, inside a string, sub-word piece ...), how
the activation is spread over a window, and which output tokens the decoder direction promotes or suppresses.
Designed test texts can be added (:meth:`Evidence.add_tests`); each is judged against its expectation relative to
the feature's own scale (a fraction of the top exemplar's activation, never an absolute threshold).

:meth:`Evidence.to_text` renders a short, deterministic summary for prompts. Tokens are shown in single quotes with
whitespace made visible (``' name'`` -> ``'␣name'``, newline -> ``'↵'``) and double quotes / backslashes replaced,
so a model can quote them inside JSON strings without escaping. Pure computation: no model, no I/O.
"""

from __future__ import annotations

import keyword
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sage_nb.core.text import is_word_char, show_token, visible, word_span
from sage_nb.data.records import Exemplar, FeatureData, TokenActivations

# -- thresholds and sizes (all relative to a feature's own scale) ---------------------------------------------------
#: A window token belongs to the active span when its activation is at least this fraction of the row's maximum.
SPAN_FRACTION = 0.5
#: Mean span (tokens) from which the activation counts as spread rather than a short span.
SPREAD_SPAN = 3.0
#: Mean span (tokens) below which the activation counts as sitting on one token.
ONE_TOKEN_SPAN = 1.5
#: A test text counts as 'high' when its maximum reaches this fraction of the top exemplar's activation ...
HIGH_FRACTION = 0.3
#: ... and as 'low' when its maximum stays below this fraction ('medium' in between).
LOW_FRACTION = 0.1
#: The sentence-start and all-caps shares are written into :meth:`Evidence.to_text` only from this share of the
#: peaks: they refine 'capitalised' and 'line start', and are noise to a reader when rare.
NOTABLE_SHAPE = 0.6
#: Distinct code markers a window needs before keywords and '#' comments count as code.
CODE_MIN_MARKERS = 2
#: Substrings that suggest a window is source code.
CODE_MARKERS = (
    "def ", "return", "import ", " = ", "==", "()", "):", "self.", "{", "}", ";\n", "->", "\n    ", "print(", "+=",
)  # fmt: skip
#: Items shown per list in :meth:`Evidence.to_text`, and the longest token rendering (characters).
TEXT_ITEMS = 5
#: Test texts shown in :meth:`Evidence.to_text` (unexpected results first).
TEXT_TESTS = 6
#: Tokens shown on each side of the peak in a test text's snippet.
SNIPPET_SIDE = 2

LEVELS = ("high", "medium", "low")
_LEVEL_ALIASES = {"fires": "high", "fire": "high", "strong": "high", "mid": "medium", "weak": "medium"}
_LEVEL_ALIASES |= {"none": "low", "zero": "low", "silent": "low", "no": "low", "yes": "high"}
#: Token classes, in display order. Word-position classes ('whole word', 'word start', 'subword') are exclusive.
CLASSES = (
    "whole word", "word start", "subword", "capitalised", "digit", "punctuation", "whitespace",
    "keyword", "in string", "in comment", "code",
)  # fmt: skip
#: Classes :func:`token_classes` also returns that refine 'capitalised', and the :class:`Shape` field that keeps
#: their share of the peaks.
SHAPE_CLASSES = {"sentence start": "sentence_start", "all caps": "all_caps"}


_SPACE_MARKS = (" ", "Ġ", "▁")  # leading-space marks of byte-level / sentencepiece tokenizers


# -- token classes ----------------------------------------------------------------------------------------------------
def _strip_space(token: str) -> str:
    for mark in _SPACE_MARKS:
        if token.startswith(mark):
            return token[len(mark) :]
    return token


def looks_like_code(text: str) -> bool:
    """Whether ``text`` holds at least :data:`CODE_MIN_MARKERS` distinct :data:`CODE_MARKERS`."""
    return sum(marker in text for marker in CODE_MARKERS) >= CODE_MIN_MARKERS


def _quote_state(prefix: str, code: bool) -> tuple[bool, bool]:
    """(inside a string/quotation, inside a '#' comment) at the end of ``prefix``.

    Quotes open and close strings (triple quotes too; backslash escapes inside); an apostrophe between two letters
    is not a quote; a newline ends single-line strings and comments. Comments count only in code.
    """
    quote: str | None = None
    comment = False
    i = 0
    while i < len(prefix):
        c = prefix[i]
        if comment:
            comment = c != "\n"
        elif quote is None:
            triple = prefix[i : i + 3]
            if triple in ('"""', "'''"):
                quote = triple
                i += 3
                continue
            if c == "#" and code:
                comment = True
            elif c == '"':
                quote = c
            elif c == "'":
                before = prefix[i - 1] if i else " "
                after = prefix[i + 1] if i + 1 < len(prefix) else " "
                if not (before.isalpha() and after.isalpha()):
                    quote = c
        else:
            if c == "\\":
                i += 2
                continue
            if len(quote) == 3 and prefix.startswith(quote, i):
                quote = None
                i += 3
                continue
            if c == quote or (c == "\n" and len(quote) == 1):
                quote = None
        i += 1
    return quote is not None, comment


def word_position(tokens: Sequence[str], i: int) -> str | None:
    """'whole word', 'word start' or 'subword' for a token that starts with a word character, else None.

    A token starting with a space (or following a newline, punctuation or the window's start) starts a word; a token
    glued to a word character before it continues one. A word start followed by a glued token is a 'word start',
    otherwise a 'whole word'.
    """
    token = tokens[i]
    body = _strip_space(token)
    if not body or not is_word_char(body[0]):
        return None
    glued_before = body == token and i > 0 and bool(tokens[i - 1]) and is_word_char(tokens[i - 1][-1])
    if glued_before:
        return "subword"
    nxt = tokens[i + 1] if i + 1 < len(tokens) else ""
    continues = bool(nxt) and is_word_char(nxt[0]) and is_word_char(token[-1])
    return "word start" if continues else "whole word"


def token_classes(tokens: Sequence[str], i: int) -> set[str]:
    """The :data:`CLASSES` and :data:`SHAPE_CLASSES` that token ``i`` of a window belongs to (judged from the
    window's tokens only)."""
    token = tokens[i]
    body = token.strip()
    found: set[str] = set()
    code = looks_like_code("".join(tokens))
    position = word_position(tokens, i)
    if position:
        found.add(position)
    if token and token.isspace():
        found.add("whitespace")
    if body:
        if body.isdigit():
            found.add("digit")
        if body.isalpha() and body[0].isupper():
            found.add("capitalised")
        if all(unicodedata.category(c)[0] in "PS" for c in body):
            found.add("punctuation")
        if code and body in keyword.kwlist:
            found.add("keyword")
    if in_all_caps_word(tokens, i):
        found.add("all caps")
    if at_sentence_start(tokens, i):
        found.add("sentence start")
    in_string, in_comment = _quote_state("".join(tokens[:i]), code)
    if in_string:
        found.add("in string")
    if in_comment:
        found.add("in comment")
    if code:
        found.add("code")
    return found


def at_line_start(tokens: Sequence[str], i: int) -> bool:
    """Whether token ``i`` starts a line: only whitespace lies between the last newline in the window and it."""
    if tokens[i].startswith("\n") and tokens[i].strip():
        return True
    prefix = "".join(tokens[:i])
    cut = prefix.rfind("\n")
    return cut >= 0 and not prefix[cut + 1 :].strip()


def in_all_caps_word(tokens: Sequence[str], i: int) -> bool:
    """Whether token ``i`` is a piece of an all-caps word: the whole word (:func:`~sage_nb.core.text.word_span`) has
    at least two upper-case letters and no lower-case one ('HTTP', 'ZIP_STORED', 'UTF8')."""
    lo, hi = word_span(tokens, i)
    word = "".join(tokens[lo:hi])
    return sum(c.isupper() for c in word) >= 2 and not any(c.islower() for c in word)


_DOCUMENT_START = re.compile(r"<\|?[A-Za-z_]+\|?>$")  # <|endoftext|>, <bos>, <s> ...


def at_sentence_start(tokens: Sequence[str], i: int) -> bool:
    """Whether token ``i`` is a capitalised word that starts a sentence: whitespace lies between it and a '.', '!'
    or '?' before it in the window, or it follows a document marker (``<|endoftext|>``). A window that starts at
    the token cannot tell, and does not count."""
    body = _strip_space(tokens[i]).lstrip()
    if not body[:1].isupper():
        return False
    prefix = "".join(tokens[:i])
    ended = prefix.rstrip()
    if _DOCUMENT_START.search(ended):
        return True
    spaced = len(ended) < len(prefix) or tokens[i][:1].isspace() or tokens[i][:1] in _SPACE_MARKS
    return spaced and ended.endswith((".", "!", "?"))


def span_length(acts: Sequence[float], peak: int, fraction: float = SPAN_FRACTION) -> int:
    """Length of the contiguous run around ``peak`` whose activations reach ``fraction`` of the peak's."""
    if not acts or acts[peak] <= 0:
        return 0
    cut = fraction * acts[peak]
    lo = peak
    while lo > 0 and acts[lo - 1] >= cut:
        lo -= 1
    hi = peak
    while hi + 1 < len(acts) and acts[hi + 1] >= cut:
        hi += 1
    return hi - lo + 1


# -- records ----------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenStat:
    """One token (or token pair) over the analysed windows: how often, and its share of the activation mass."""

    token: str
    count: int
    share: float  # of the summed peak activations over the rows that have this slot
    mean_fraction: float  # mean peak activation of its rows / the feature's scale


@dataclass(frozen=True)
class Shape:
    """How the activation is distributed inside the windows (fractions are over analysed rows)."""

    n_rows: int
    word_start: float  # peak is the first token of a word (a whole word or its first piece)
    first_token_only: float  # ... and no neighbouring token reaches SPAN_FRACTION of the peak
    line_start: float  # peak is the first token of a line
    active_fraction: float  # mean fraction of window tokens at >= SPAN_FRACTION of the row max
    mean_span: float  # mean length of the contiguous run around the peak at >= SPAN_FRACTION
    density: float  # fraction of corpus tokens where the feature fires (from mining)
    sentence_start: float = 0.0  # peak is a capitalised word that starts a sentence
    all_caps: float = 0.0  # peak is a piece of an all-caps word

    @property
    def label(self) -> str:
        """'one token', 'short span' or 'spread' from :attr:`mean_span`."""
        if self.mean_span < ONE_TOKEN_SPAN:
            return "one token"
        return "short span" if self.mean_span < SPREAD_SPAN else "spread"


@dataclass(frozen=True)
class TestEvidence:
    """One designed test text measured on the feature, judged against its expectation."""

    __test__ = False  # not a pytest class

    text: str
    expectation: str | None  # 'high' / 'medium' / 'low' or None
    max_act: float
    fraction: float  # max_act / the feature's scale
    level: str  # observed: 'high' / 'medium' / 'low'
    verdict: str | None  # 'ok', 'partial' (one level off from high/low) or 'miss'; None without expectation
    peak_token: str | None  # None when nothing fired
    before: str | None
    after: str | None
    active_tokens: list[str]  # tokens at >= SPAN_FRACTION of this text's max, in text order
    snippet: str  # the peak and its neighbours, visible, peak in ⟦ ⟧

    @classmethod
    def from_row(cls, row: TokenActivations, scale: float, expectation: str | bool | None = None) -> TestEvidence:
        """Judge one measured text against ``expectation`` relative to ``scale`` (the top exemplar activation).

        ``expectation`` is 'high', 'medium', 'low' (a few aliases: 'fires', 'none', ...), a bool or None.
        """
        expected = normalise_expectation(expectation)
        max_act = max(row.max_act, 0.0)
        fraction = max_act / scale if scale > 0 else float(max_act > 0)  # no scale: firing at all counts as high
        level = level_of(fraction)
        verdict = None if expected is None else _verdict(expected, level)
        if max_act <= 0:
            start = "".join(visible(t) for t in row.tokens[: 2 * SNIPPET_SIDE + 1])
            more = "…" if len(row.tokens) > 2 * SNIPPET_SIDE + 1 else ""
            return cls(row.text, expected, 0.0, 0.0, level, verdict, None, None, None, [], start + more)
        p = row.argmax
        toks = row.tokens
        lo, hi = max(0, p - SNIPPET_SIDE), min(len(toks), p + SNIPPET_SIDE + 1)
        snippet = (
            ("…" if lo > 0 else "")
            + "".join(visible(t) for t in toks[lo:p])
            + f"⟦{visible(toks[p])}⟧"
            + "".join(visible(t) for t in toks[p + 1 : hi])
            + ("…" if hi < len(toks) else "")
        )
        cut = SPAN_FRACTION * max_act
        return cls(
            text=row.text,
            expectation=expected,
            max_act=max_act,
            fraction=fraction,
            level=level,
            verdict=verdict,
            peak_token=toks[p],
            before=toks[p - 1] if p > 0 else None,
            after=toks[p + 1] if p + 1 < len(toks) else None,
            active_tokens=[t for t, a in zip(toks, row.acts, strict=True) if a >= cut],
            snippet=snippet,
        )

    def to_line(self) -> str:
        """One line for :meth:`Evidence.to_text`."""
        head = f"{self.verdict or 'seen'}: "
        if self.expectation:
            head += f"expected {self.expectation}, "
        head += f"got {self.level} ({self.fraction:.0%} of top)"
        if self.peak_token is None:
            return f"{head}; nothing fired in '{self.snippet}'"
        return f"{head}; peak {show_token(self.peak_token)} in '{self.snippet}'"

    def to_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "level": self.level,
            "verdict": self.verdict,
            "fraction": round(self.fraction, 4),
            "max_act": round(self.max_act, 4),
            "peak": self.peak_token,
            "before": self.before,
            "after": self.after,
            "snippet": self.snippet,
        }


def level_of(fraction: float) -> str:
    """'high', 'medium' or 'low' for a maximum given as a fraction of the feature's scale."""
    if fraction >= HIGH_FRACTION:
        return "high"
    return "low" if fraction < LOW_FRACTION else "medium"


def normalise_expectation(expectation: str | bool | None) -> str | None:
    """One of :data:`LEVELS` (or None) from a level name, a common alias, or a bool (True = high)."""
    if expectation is None:
        return None
    if isinstance(expectation, bool):
        return "high" if expectation else "low"
    key = str(expectation).strip().lower()
    if not key:
        return None
    key = _LEVEL_ALIASES.get(key, key)
    if key not in LEVELS:
        raise ValueError(f"Unknown expectation {expectation!r}: use one of {', '.join(LEVELS)} (or None)")
    return key


def _verdict(expected: str, level: str) -> str:
    if expected == level:
        return "ok"
    if expected != "medium" and level == "medium":
        return "partial"
    return "miss"


@dataclass(frozen=True)
class _Row:
    tokens: list[str]
    acts: list[float]
    peak: int

    @property
    def weight(self) -> float:
        return max(self.acts[self.peak], 0.0)


def _stats(items: Iterable[tuple[str, float]], scale: float) -> list[TokenStat]:
    counts: Counter[str] = Counter()
    mass: defaultdict[str, float] = defaultdict(float)
    for token, weight in items:
        counts[token] += 1
        mass[token] += weight
    total, n = sum(mass.values()), sum(counts.values())
    out = [
        TokenStat(
            token=t,
            count=c,
            share=mass[t] / total if total > 0 else c / n,
            mean_fraction=mass[t] / c / scale if scale > 0 else 0.0,
        )
        for t, c in counts.items()
    ]
    return sorted(out, key=lambda s: (-s.share, -s.count, s.token))


def feature_scale(feature: FeatureData) -> float:
    """A feature's own scale: its top exemplar's activation (else the mined maximum; 0 when it never fired)."""
    if feature.top and feature.top[0].max_act > 0:
        return float(feature.top[0].max_act)
    return max(float(feature.max_activation), 0.0)  # 0: no activating context was mined


def _pct(x: float) -> str:
    return f"{x:.0%}"


def _density_text(density: float) -> str:
    if density <= 0:
        return "0%"
    return f"{density * 100:.2g}%"


# -- the evidence -----------------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    """Computed facts about one feature; build with :meth:`from_feature`, extend with :meth:`add_tests`."""

    feature: int
    scale: float  # top exemplar activation: the unit for every fraction
    density: float
    n_rows: int  # windows analysed (top exemplars + quantile samples, deduplicated)
    peak: list[TokenStat]
    before: list[TokenStat]
    after: list[TokenStat]
    pairs: list[TokenStat]  # token before + peak token, joined by ⟦ ⟧ around the peak
    classes: dict[str, int]  # class -> number of rows whose peak token has it
    shape: Shape
    weakest_band: tuple[str, list[TokenStat]] | None = None  # peak tokens of the weakest quantile band
    promoted: list[tuple[str, float]] = field(default_factory=list)
    suppressed: list[tuple[str, float]] = field(default_factory=list)
    tests: list[TestEvidence] = field(default_factory=list)

    @classmethod
    def from_feature(cls, feature: FeatureData, include_quantiles: bool = True) -> Evidence:
        """Evidence from a feature's top exemplars and (optionally) its quantile samples."""
        seen: set[tuple[int, tuple[str, ...], int]] = set()
        rows: list[_Row] = []
        groups: list[tuple[str | None, list[Exemplar]]] = [(None, feature.top)]
        if include_quantiles:
            groups += list(feature.quantiles)
        for _, exemplars in groups:
            for ex in exemplars:
                key = (ex.context_index, tuple(ex.tokens), ex.peak)
                if key in seen or not ex.tokens:
                    continue
                seen.add(key)
                rows.append(_Row(list(ex.tokens), [float(a) for a in ex.acts], ex.peak))
        return cls._from_rows(rows, feature, include_quantiles)

    @classmethod
    def _from_rows(cls, rows: list[_Row], feature: FeatureData, include_quantiles: bool) -> Evidence:
        scale, density = feature_scale(feature), feature.density
        peak = _stats(((r.tokens[r.peak], r.weight) for r in rows), scale)
        before = _stats(((r.tokens[r.peak - 1], r.weight) for r in rows if r.peak > 0), scale)
        after = _stats(((r.tokens[r.peak + 1], r.weight) for r in rows if r.peak + 1 < len(r.tokens)), scale)
        pairs = _stats(((f"{r.tokens[r.peak - 1]}⟦{r.tokens[r.peak]}⟧", r.weight) for r in rows if r.peak > 0), scale)
        classes: Counter[str] = Counter()
        word_start = first_only = line_start = 0
        active, spans = [], []
        for r in rows:
            found = token_classes(r.tokens, r.peak)
            classes.update(found)
            span = span_length(r.acts, r.peak)
            starts_word = bool(found & {"whole word", "word start"})
            word_start += starts_word
            first_only += starts_word and span == 1
            line_start += at_line_start(r.tokens, r.peak)
            cut = SPAN_FRACTION * r.acts[r.peak]
            active.append(sum(a >= cut for a in r.acts) / len(r.acts) if r.acts[r.peak] > 0 else 0.0)
            spans.append(span)
        n = len(rows)
        shape = Shape(
            n_rows=n,
            word_start=word_start / n if n else 0.0,
            first_token_only=first_only / n if n else 0.0,
            line_start=line_start / n if n else 0.0,
            active_fraction=sum(active) / n if n else 0.0,
            mean_span=sum(spans) / n if n else 0.0,
            density=density,
            **{field_: classes[c] / n if n else 0.0 for c, field_ in SHAPE_CLASSES.items()},
        )
        bands = [(label, exs) for label, exs in feature.quantiles if exs] if include_quantiles else []
        weakest = None
        if bands:  # quantile bands come weakest first
            label, exs = bands[0]
            weakest = (label, _stats(((ex.tokens[ex.peak], max(ex.max_act, 0.0)) for ex in exs), scale))
        return cls(
            feature=feature.index,
            scale=scale,
            density=density,
            n_rows=n,
            peak=peak,
            before=before,
            after=after,
            pairs=pairs,
            classes={c: classes[c] for c in CLASSES if classes[c]},
            shape=shape,
            weakest_band=weakest,
            promoted=list(feature.promoted),
            suppressed=list(feature.suppressed),
        )

    def add_tests(
        self,
        rows: Sequence[TokenActivations],
        expectations: Sequence[str | bool | None] | None = None,
    ) -> Evidence:
        """Judge measured test texts (with optional expectations, one per row) and keep them; returns ``self``."""
        if expectations is not None and len(expectations) != len(rows):
            raise ValueError(f"{len(rows)} test rows but {len(expectations)} expectations")
        for i, row in enumerate(rows):
            self.tests.append(TestEvidence.from_row(row, self.scale, expectations[i] if expectations else None))
        return self

    # -- views ------------------------------------------------------------------------------------------------------
    def _token_list(self, stats: list[TokenStat], max_items: int, counts: bool = True) -> str:
        if not stats:
            return "none"
        parts = [
            f"{show_token(s.token)} {_pct(s.share)}" + (f" ({s.count})" if counts else "") for s in stats[:max_items]
        ]
        if len(stats) > max_items:
            parts.append(f"+{len(stats) - max_items} more")
        return ", ".join(parts)

    def _pair_list(self, max_items: int) -> str:
        parts = []
        for s in self.pairs[:max_items]:
            before, _, rest = s.token.partition("⟦")
            parts.append(f"'{visible(before)}⟦{visible(rest[:-1])}⟧' {_pct(s.share)}")
        return ", ".join(parts) or "none"

    def _notable_shape(self) -> str:
        sh = self.shape
        shares = (("sentence start", sh.sentence_start), ("in an all-caps word", sh.all_caps))
        return "".join(f", {name} {_pct(share)}" for name, share in shares if share >= NOTABLE_SHAPE)

    def to_text(self, max_lines: int = 16, max_items: int = TEXT_ITEMS, max_tests: int = TEXT_TESTS) -> str:
        """A short, deterministic summary for prompts (at most ``max_lines`` lines)."""
        sh = self.shape
        if not self.n_rows:
            head = f"Feature {self.feature}: no activating contexts were mined."
        else:
            head = (
                f"Feature {self.feature}: top activation {self.scale:.3g}, fires on {_density_text(self.density)} of "
                f"tokens; {self.n_rows} contexts analysed."
            )
        lines = [
            head,
            f"Peak tokens (share of activation, count): {self._token_list(self.peak, max_items)}",
            f"Token before peak: {self._token_list(self.before, max_items)}",
            f"Token after peak: {self._token_list(self.after, max_items)}",
            f"Before+peak pairs: {self._pair_list(max(1, max_items - 2))}",
        ]
        if self.n_rows:
            classes = ", ".join(f"{c} {_pct(k / self.n_rows)}" for c, k in self.classes.items()) or "none"
            lines.append(f"Peak token classes (share of contexts): {classes}")
            lines.append(
                f"Shape: {sh.label} (mean span {sh.mean_span:.1f} tokens, {_pct(sh.active_fraction)} of window tokens "
                f"at >={_pct(SPAN_FRACTION)} of row max); word start {_pct(sh.word_start)}, first token only "
                f"{_pct(sh.first_token_only)}, line start {_pct(sh.line_start)}{self._notable_shape()}"
            )
        if self.weakest_band is not None:
            label, stats = self.weakest_band
            lines.append(f"Weakest band ({label}) peaks: {self._token_list(stats, 3, counts=False)}")
        if self.promoted:
            lines.append("Promotes: " + ", ".join(show_token(t) for t, _ in self.promoted[:max_items]))
        if self.suppressed:
            lines.append("Suppresses: " + ", ".join(show_token(t) for t, _ in self.suppressed[:max_items]))
        if self.tests:
            judged = [t for t in self.tests if t.verdict is not None]
            ok = sum(t.verdict == "ok" for t in judged)
            tally = f"; {ok}/{len(judged)} as expected" if judged else ""
            lines.append(
                f"Tests ({len(self.tests)}{tally}; high >={_pct(HIGH_FRACTION)} of top, low <{_pct(LOW_FRACTION)}):"
            )
            order = sorted(range(len(self.tests)), key=lambda i: (self.tests[i].verdict in ("ok", None), i))
            shown = order[:max_tests]
            lines += [f"T{i + 1} {self.tests[i].to_line()}" for i in sorted(shown)]
            if len(order) > len(shown):
                lines.append(f"... {len(order) - len(shown)} more tests")
        if len(lines) > max_lines:
            lines = lines[: max_lines - 1] + [f"... {len(lines) - max_lines + 1} more lines"]
        return "\n".join(lines)

    def to_frame(self, view: str = "peak"):
        """A pandas DataFrame: ``view`` is 'peak', 'before', 'after', 'pairs', 'classes' or 'tests'."""
        import pandas as pd

        tables = {"peak": self.peak, "before": self.before, "after": self.after, "pairs": self.pairs}
        if view in tables:
            return pd.DataFrame(
                [(s.token, visible(s.token), s.count, s.share, s.mean_fraction) for s in tables[view]],
                columns=["token", "shown", "count", "share", "mean_fraction"],
            )
        if view == "classes":
            n = max(self.n_rows, 1)
            return pd.DataFrame([(c, k, k / n) for c, k in self.classes.items()], columns=["class", "count", "share"])
        if view == "tests":
            return pd.DataFrame([t.to_dict() | {"text": t.text} for t in self.tests])
        raise ValueError(f"Unknown view {view!r}: use peak, before, after, pairs, classes or tests")

    def to_dict(self, max_items: int = 10) -> dict[str, Any]:
        """A compact JSON-serialisable summary (token lists as ``[token, count, share]``)."""

        def table(stats: list[TokenStat]) -> list[list[Any]]:
            return [[s.token, s.count, round(s.share, 4)] for s in stats[:max_items]]

        sh = self.shape
        return {
            "feature": self.feature,
            "scale": round(self.scale, 4),
            "density": self.density,
            "n_rows": self.n_rows,
            "peak": table(self.peak),
            "before": table(self.before),
            "after": table(self.after),
            "pairs": table(self.pairs),
            "classes": dict(self.classes),
            "shape": {
                "label": sh.label,
                "word_start": round(sh.word_start, 4),
                "first_token_only": round(sh.first_token_only, 4),
                "line_start": round(sh.line_start, 4),
                "sentence_start": round(sh.sentence_start, 4),
                "all_caps": round(sh.all_caps, 4),
                "active_fraction": round(sh.active_fraction, 4),
                "mean_span": round(sh.mean_span, 3),
            },
            "weakest_band": None if self.weakest_band is None else [self.weakest_band[0], table(self.weakest_band[1])],
            "promoted": [[t, round(w, 4)] for t, w in self.promoted[:max_items]],
            "suppressed": [[t, round(w, 4)] for t, w in self.suppressed[:max_items]],
            "tests": [t.to_dict() for t in self.tests],
        }
