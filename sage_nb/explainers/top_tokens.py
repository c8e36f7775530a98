"""An explanation computed from the evidence alone, with no LLM: the floor an LLM explainer should beat.

:class:`TopTokensExplainer` reads a feature's :class:`~sage_nb.evidence.Evidence` and writes one sentence naming
the tokens that carry most of its peak activation, the token class most peaks share, the token most often just
before the peak and how far the activation spreads. Its labels are those tokens (and the class). Scored beside
SAGE and the one-shot baseline on the same held-out samples, it tells how much of a score the plain statistics
already earn, and how much an explainer's reading of the exemplars adds (or loses).

It is a *computed* explanation: every phrase comes from a count, none is interpreted. Candidates carry the
explainer name ``top-tokens`` so they never pass for an LLM's work.
"""

from __future__ import annotations

from collections.abc import Sequence

from sage_nb.core.records import Candidate
from sage_nb.core.text import token_label, token_phrase, whitespace_name
from sage_nb.data.records import FeatureData
from sage_nb.evidence import SHAPE_CLASSES, Evidence, feature_scale
from sage_nb.explainers.base import ExplainError

#: The explainer name on the candidates this module returns.
EXPLAINER = "top-tokens"
#: At most this many peak tokens are named ...
MAX_TOKENS = 3
#: ... stopping once they hold this share of the peak activation mass ...
COVERAGE = 0.6
#: ... and never one holding less than this share.
MIN_SHARE = 0.05
#: A token class (or the token before the peak) is named when at least this fraction of the peaks share it.
CLASS_FRACTION = 0.6
#: Token classes worth naming (word-position classes say little on their own), in order of preference, and how.
CLASS_PHRASES = {
    "digit": "a digit",
    "punctuation": "punctuation",
    "keyword": "a code keyword",
    "sentence start": "the first word of a sentence",
    "all caps": "part of an all-caps word",
    "capitalised": "a capitalised word",
    "in string": "inside a string",
    "in comment": "inside a comment",
    "whitespace": "whitespace",
    "subword": "a piece inside a word",
}
#: Stems of the words by which a description names each token class ("digits" or "numbers" for a digit).
CLASS_STEMS = {
    "digit": ("digit", "number", "numeral"),
    "punctuation": ("punctuation",),
    "keyword": ("keyword",),
    "sentence start": ("sentence",),
    "all caps": ("all-caps", "caps", "uppercase", "upper"),
    "capitalised": ("capital", "uppercase", "upper"),
    "in string": ("string",),
    "in comment": ("comment",),
    "whitespace": ("whitespace", "space", "newline", "indent"),
    "subword": ("subword", "piece"),
}
#: How the activation's spread (:attr:`~sage_nb.evidence.Shape.label`) is said.
SPREAD_PHRASES = {
    "one token": "the activation stays on that token",
    "short span": "the activation covers a short span around it",
    "spread": "the activation spreads over the surrounding text",
}


def class_share(evidence: Evidence, name: str) -> float:
    """The share of the analysed peaks in token class ``name`` (a key of :data:`CLASS_PHRASES`)."""
    if name in SHAPE_CLASSES:
        return getattr(evidence.shape, SHAPE_CLASSES[name])
    return evidence.classes.get(name, 0) / max(evidence.n_rows, 1)


class TopTokensExplainer:
    """Explain a feature from its computed :class:`~sage_nb.evidence.Evidence`: peak tokens, class, context, spread."""

    name = EXPLAINER

    def __init__(self, max_tokens: int = MAX_TOKENS, coverage: float = COVERAGE, min_share: float = MIN_SHARE) -> None:
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
        if not 0 < coverage <= 1 or not 0 <= min_share < 1:
            raise ValueError(f"coverage must be in (0, 1] and min_share in [0, 1), got {coverage}, {min_share}")
        self.max_tokens, self.coverage, self.min_share = max_tokens, coverage, min_share

    def __repr__(self) -> str:
        return f"TopTokensExplainer(max_tokens={self.max_tokens}, coverage={self.coverage}, min_share={self.min_share})"

    def explain(self, feature_data: FeatureData) -> Candidate:
        """The computed explanation of one feature; raises :class:`ExplainError` when it never fired."""
        if not feature_data.top or feature_scale(feature_data) <= 0:
            raise ExplainError(
                feature_data.index, "the feature never fired in the mined corpus: no exemplars", EXPLAINER
            )
        return self.from_evidence(Evidence.from_feature(feature_data))

    def explain_many(self, feature_datas: Sequence[FeatureData]) -> list[Candidate | ExplainError]:
        """Explain several features, in order; a feature that never fired gets its :class:`ExplainError`."""
        out: list[Candidate | ExplainError] = []
        for fd in feature_datas:
            try:
                out.append(self.explain(fd))
            except ExplainError as err:
                out.append(err)
        return out

    def named_tokens(self, evidence: Evidence) -> list[tuple[str, float]]:
        """The peak tokens the sentence names, as (phrase, share of the peak activation mass), largest first."""
        merged: dict[str, float] = {}  # ' mail' and 'mail' read the same: one entry, shares summed
        for stat in evidence.peak:
            merged[token_phrase(stat.token)] = merged.get(token_phrase(stat.token), 0.0) + stat.share
        ranked = sorted(merged.items(), key=lambda item: -item[1])
        chosen: list[tuple[str, float]] = []
        covered = 0.0
        for phrase, share in ranked[: self.max_tokens]:
            if chosen and (share < self.min_share or covered >= self.coverage):
                break
            chosen.append((phrase, share))
            covered += share
        return chosen

    def from_evidence(self, evidence: Evidence) -> Candidate:
        """The sentence and labels for already computed evidence."""
        if not evidence.peak:
            raise ExplainError(evidence.feature, "the evidence holds no peak tokens", EXPLAINER)
        chosen = self.named_tokens(evidence)
        listed = [
            f"{phrase} ({share:.0%}" + (" of the peak activation)" if not i else ")")
            for i, (phrase, share) in enumerate(chosen)
        ]
        parts = ["Fires on " + ", ".join(listed)]
        labels = [phrase.strip("'") for phrase, _ in chosen]
        n = max(evidence.n_rows, 1)
        common = [phrase for c, phrase in CLASS_PHRASES.items() if class_share(evidence, c) >= CLASS_FRACTION]
        if common and common[0] not in labels:
            parts.append(f"the peak token is usually {common[0]}")
            labels.append(common[0])
        if evidence.before and evidence.before[0].count / n >= CLASS_FRACTION:
            parts.append(f"most often right after {token_phrase(evidence.before[0].token)}")
        parts.append(SPREAD_PHRASES[evidence.shape.label])
        description = "; ".join(parts) + "."
        return Candidate(evidence.feature, EXPLAINER, description, list(dict.fromkeys(labels)))


__all__ = [
    "CLASS_PHRASES",
    "CLASS_STEMS",
    "EXPLAINER",
    "TopTokensExplainer",
    "class_share",
    "token_label",
    "token_phrase",
    "whitespace_name",
]
