"""GEN: can an LLM write texts that activate the feature from the explanation alone?

The LLM reads the candidate's text (``candidate.text(setup.representation)``) and writes ``n_texts`` short texts
meant to activate the feature strongly, sampled at :data:`~sage_nb.evaluate.prompts.GEN_TEMPERATURE`. Each is
measured on the target; a text succeeds when its maximum activation reaches the threshold, and the score is the
success rate. Two thresholds:

* ``"sage"`` (SAGE paper): :data:`THRESHOLD_FRACTION` x the mean maximum of the top-10 exemplars;
* ``"saeexplainer"`` (SAEExplainer paper): :data:`THRESHOLD_FRACTION` x the feature's maximum activation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sage_nb.core.text import unvisible
from sage_nb.data.records import TokenActivations
from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, Score, Scorer

#: Both thresholds are this fraction of their reference activation.
THRESHOLD_FRACTION = 0.5
#: Top exemplars whose mean maximum is the reference of the "sage" threshold.
SAGE_TOP = 10
THRESHOLDS = ("sage", "saeexplainer")


def clean_texts(texts: Sequence[str]) -> tuple[list[str], list[str]]:
    """Texts with visible whitespace marks undone and spaces collapsed; empty ones, duplicates and copies of the
    prompt's worked example (:func:`~sage_nb.evaluate.prompts.copies_example`) dropped.

    Returns the kept texts and notes on what was dropped (duplicates compare case-insensitively).
    """
    kept: list[str] = []
    seen: set[str] = set()
    dropped = {"empty": 0, "duplicate": 0, "example-copying": 0}
    for raw in texts:
        text = " ".join(unvisible(raw).split())
        if not text:
            dropped["empty"] += 1
        elif text.casefold() in seen:
            dropped["duplicate"] += 1
        elif prompts.copies_example(text):
            dropped["example-copying"] += 1
        else:
            seen.add(text.casefold())
            kept.append(text)
    notes = [f"dropped {k} {what} text(s)" for what, k in dropped.items() if k]
    return kept, notes


def word_notes(texts: Sequence[str]) -> list[str]:
    """A note when texts fall outside the asked word bounds (they are still measured)."""
    off = sum(not prompts.GEN_MIN_WORDS <= len(t.split()) <= prompts.GEN_MAX_WORDS for t in texts)
    bounds = f"{prompts.GEN_MIN_WORDS}-{prompts.GEN_MAX_WORDS}"
    return [f"{off} text(s) outside {bounds} words (measured anyway)"] if off else []


def text_rows(rows: Sequence[TokenActivations], threshold: float | None = None) -> list[dict[str, Any]]:
    """Measured texts for a score's details: text, max activation (and success against ``threshold``)."""
    out = []
    for row in rows:
        item: dict[str, Any] = {"text": row.text, "max_act": round(row.max_act, 4)}
        if threshold is not None:
            item["success"] = row.max_act >= threshold
        out.append(item)
    return out


def failed(metric: str, candidate: Candidate, setup: EvalSetup, note: str) -> Score:
    """A score that could not be computed (value None), with the reason in its notes."""
    return Score(metric, setup.feature, candidate.explainer, None, notes=[note])


class GenerationScorer(Scorer):
    """GEN: the success rate of ``n_texts`` LLM-written texts at reaching the ``threshold`` ('sage'/'saeexplainer')."""

    name = "gen"

    def __init__(
        self,
        n_texts: int = prompts.GEN_TEXTS,
        threshold: str = "sage",
        temperature: float | None = prompts.GEN_TEMPERATURE,
    ) -> None:
        """The reader samples at ``temperature`` (None: the backend's default, greedy for the local engines, where a
        small reader may write one text ten times; duplicates are dropped and noted)."""
        if threshold not in THRESHOLDS:
            raise ValueError(f"Unknown threshold {threshold!r}: use one of {THRESHOLDS}")
        if temperature is not None and temperature < 0:
            raise ValueError(f"temperature must be 0 or more, got {temperature}")
        prompts.generation_schema(n_texts)  # validates the count
        self.n_texts = n_texts
        self.threshold = threshold
        self.temperature = temperature

    def __repr__(self) -> str:
        return f"GenerationScorer(n_texts={self.n_texts}, threshold={self.threshold!r}, temperature={self.temperature})"

    def threshold_value(self, setup: EvalSetup) -> float:
        """The activation a text must reach to count as a success."""
        if self.threshold == "sage":
            return THRESHOLD_FRACTION * setup.mean_top_max(SAGE_TOP)
        return THRESHOLD_FRACTION * float(setup.feature_data.max_activation)

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Ask for texts, measure them, and count those reaching the threshold."""
        threshold = self.threshold_value(setup)
        if threshold <= 0:
            return failed(self.name, candidate, setup, "the feature never fired in the mined corpus: no threshold")
        result = setup.llm.complete(
            prompts.generation_messages(candidate.text(setup.representation), self.n_texts),
            prompts.generation_schema(self.n_texts),
            role=self.name,
            feature=str(setup.feature),
            temperature=self.temperature,
            seed=setup.seed,
            max_tokens=prompts.text_reply_tokens(self.n_texts),
        )
        if not result.ok or result.parsed is None:
            return failed(self.name, candidate, setup, f"LLM reply failed: {result.error_kind}: {result.error}")
        texts, notes = clean_texts(result.parsed.texts)
        if not texts:
            why = f" ({'; '.join(notes)})" if notes else ""
            return failed(self.name, candidate, setup, f"the LLM wrote no usable texts{why}")
        assert setup.measure is not None  # EvalSetup always sets one
        rows = setup.measure.measure(texts, setup.feature)
        maxima = [row.max_act for row in rows]
        mean_max = sum(maxima) / len(maxima)
        details = {
            "threshold": self.threshold,
            "threshold_value": threshold,
            "mean_max_act": mean_max,
            "mean_max_fraction": mean_max / setup.scale if setup.scale > 0 else None,
            "scale": setup.scale,
            "representation": setup.representation,
            "requested": self.n_texts,
            "temperature": self.temperature,
            "texts": text_rows(rows, threshold),
        }
        value = sum(m >= threshold for m in maxima) / len(maxima)
        notes += word_notes(texts)
        return Score(self.name, setup.feature, candidate.explainer, value, len(rows), details, notes)


__all__ = ["THRESHOLDS", "THRESHOLD_FRACTION", "GenerationScorer", "clean_texts"]
