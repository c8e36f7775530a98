"""Neuronpedia's JSON as typed records: a feature's stored data and one text's activations.

The server's fields, as read here:

- an activation (stored, or measured by ``POST /api/activation/new``): ``tokens`` (strings), ``values`` (one per
  token), ``maxValue``; stored ones also ``binMin``/``binMax``/``binContains`` (``binMin == -1`` or no bin marks
  the top activations, the others are samples from activation intervals);
- a feature (``GET /api/feature/...``): ``activations[]`` (strongest first), ``explanations[]`` (``description``,
  ``explanationModelName``, ``typeName``; best-scored first), ``maxActApprox``, ``frac_nonzero``, ``pos_str`` /
  ``pos_values`` and ``neg_str`` / ``neg_values`` (the output tokens the decoder direction raises and lowers),
  ``freq_hist_data_bar_values`` / ``_heights`` (a histogram), and ``source.saelensConfig`` (``d_sae``, ``hook_name``)
  when the source has one.

Tokens are cleaned the same way everywhere (:func:`clean_tokens`): a leading special token (``<bos>``) is dropped
with its value, and sentencepiece's ``▁`` is read as a space, so joining a row's tokens gives its text back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from sage_nb.targets.neuronpedia.errors import NeuronpediaRequestError

#: A whole token that is a special marker: ``<bos>``, ``<s>``, ``<|endoftext|>``, ``<|begin_of_text|>`` ...
SPECIAL_TOKEN = re.compile(r"<\|[^<>|]+\|>|<[A-Za-z_/][^<>\s]*>")
#: Sentencepiece's word-start mark, shown by some tokenizers instead of a space.
SPACE_MARK = "\u2581"


def clean_tokens(tokens: list[str], values: list[float], text: str | None = None) -> tuple[list[str], list[float]]:
    """Tokens and values aligned, a leading special token dropped, ``▁`` read as a space.

    A server that already dropped the BOS activation sends one value fewer than tokens: the first token goes.
    ``text`` (the measured text, when known) keeps a leading token that the text itself starts with.
    """
    tokens = [str(t).replace(SPACE_MARK, " ") for t in tokens]
    values = [float(v) for v in values]
    if len(values) == len(tokens) - 1:
        tokens = tokens[1:]
    elif len(values) != len(tokens):
        raise NeuronpediaRequestError(f"malformed activation: {len(tokens)} tokens but {len(values)} values")
    if tokens and SPECIAL_TOKEN.fullmatch(tokens[0]) and not (text or "").startswith(tokens[0]):
        tokens, values = tokens[1:], values[1:]
    return tokens, values


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True)
class StoredActivation:
    """One context's activations as Neuronpedia stores or measures them (BOS dropped)."""

    tokens: list[str]
    values: list[float]
    bin_min: float | None = None  # None or -1: one of the top activations
    bin_max: float | None = None
    bin_contains: float | None = None  # fraction of activations in this interval

    @property
    def max_value(self) -> float:
        return max(self.values, default=0.0)

    @property
    def is_top(self) -> bool:
        """Whether it is one of the feature's top activations rather than an interval sample."""
        return self.bin_min is None or self.bin_min == -1

    @classmethod
    def from_api(cls, data: dict[str, Any], text: str | None = None) -> StoredActivation:
        """From an activation object (values either flat or under ``activations``, as older docs show)."""
        values = data.get("values")
        if values is None and isinstance(data.get("activations"), dict):
            values = data["activations"].get("values")
        if not isinstance(data.get("tokens"), list) or not isinstance(values, list):
            raise NeuronpediaRequestError(f"malformed activation: no tokens/values in {sorted(data)}")
        tokens, values = clean_tokens(data["tokens"], values, text)
        return cls(tokens, values, _float(data.get("binMin")), _float(data.get("binMax")),
                   _float(data.get("binContains")))  # fmt: skip


@dataclass(frozen=True)
class StoredExplanation:
    """An explanation Neuronpedia holds for a feature."""

    description: str
    model: str | None = None  # explanationModelName, e.g. 'gpt-4o-mini'
    type_name: str | None = None  # typeName, e.g. 'oai_token-act-pair'

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> StoredExplanation:
        return cls(str(data.get("description") or "").strip(), data.get("explanationModelName"), data.get("typeName"))


def _pairs(strings: Any, values: Any) -> list[tuple[str, float]]:
    if not isinstance(strings, list) or not isinstance(values, list):
        return []
    return [(str(s).replace(SPACE_MARK, " "), float(v)) for s, v in zip(strings, values, strict=False)]


@dataclass
class FeatureRecord:
    """A feature's stored data from ``GET /api/feature/{modelId}/{source}/{index}``."""

    model_id: str
    source: str
    index: int
    activations: list[StoredActivation]  # strongest first
    explanations: list[StoredExplanation]  # best first
    max_act_approx: float = 0.0
    density: float = 0.0  # frac_nonzero
    promoted: list[tuple[str, float]] = field(default_factory=list)  # pos_str / pos_values
    suppressed: list[tuple[str, float]] = field(default_factory=list)  # neg_str / neg_values
    hist_values: list[float] = field(default_factory=list)  # bar positions (activation values)
    hist_heights: list[float] = field(default_factory=list)
    d_sae: int | None = None  # from source.saelensConfig, when the server has it
    hook_name: str | None = None

    @classmethod
    def from_api(cls, data: dict[str, Any], model_id: str, source: str, index: int) -> FeatureRecord:
        acts = [StoredActivation.from_api(a) for a in data.get("activations") or [] if isinstance(a, dict)]
        acts = [a for a in acts if a.tokens]
        acts.sort(key=lambda a: a.max_value, reverse=True)
        explanations = [StoredExplanation.from_api(e) for e in data.get("explanations") or [] if isinstance(e, dict)]
        config = (data.get("source") or {}).get("saelensConfig") if isinstance(data.get("source"), dict) else None
        config = config if isinstance(config, dict) else {}
        meta = config.get("metadata") if isinstance(config.get("metadata"), dict) else {}
        d_sae = config.get("d_sae")
        hook = config.get("hook_name") or meta.get("hook_name") or config.get("hook_point")
        return cls(
            model_id=model_id,
            source=source,
            index=int(index),
            activations=acts,
            explanations=[e for e in explanations if e.description],
            max_act_approx=float(data.get("maxActApprox") or 0.0),
            density=float(data.get("frac_nonzero") or 0.0),
            promoted=_pairs(data.get("pos_str"), data.get("pos_values")),
            suppressed=_pairs(data.get("neg_str"), data.get("neg_values")),
            hist_values=[float(v) for v in data.get("freq_hist_data_bar_values") or []],
            hist_heights=[float(v) for v in data.get("freq_hist_data_bar_heights") or []],
            d_sae=int(d_sae) if isinstance(d_sae, int | float) and d_sae > 0 else None,
            hook_name=str(hook) if hook else None,
        )

    @property
    def max_activation(self) -> float:
        """The largest activation known: the stored approximation or the strongest stored context."""
        return max(self.max_act_approx, max((a.max_value for a in self.activations), default=0.0))

    def histogram(self) -> tuple[list[float], list[int]]:
        """Bin edges (midpoints between bar positions, ends extrapolated) and counts; empty when unknown."""
        if len(self.hist_values) < 2 or len(self.hist_values) != len(self.hist_heights):
            return [], []
        xs, hs = zip(*sorted(zip(self.hist_values, self.hist_heights, strict=True)), strict=True)
        mids = [(a + b) / 2 for a, b in zip(xs, xs[1:], strict=False)]
        edges = [xs[0] - (mids[0] - xs[0]), *mids, xs[-1] + (xs[-1] - mids[-1])]
        return edges, [round(h) for h in hs]


__all__ = ["SPACE_MARK", "SPECIAL_TOKEN", "FeatureRecord", "StoredActivation", "StoredExplanation", "clean_tokens"]
