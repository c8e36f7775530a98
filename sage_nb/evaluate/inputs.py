"""The input metric (SAEExplainer): do texts written from the explanation activate the feature more than unrelated ones?

In one call the LLM reads the candidate's text and writes ``n`` texts that should activate the feature (positives)
and ``n`` unrelated texts (negatives). All are measured on the target; the value is 1.0 when the positives' mean
maximum activation exceeds the negatives', else 0.0.
"""

from __future__ import annotations

from sage_nb.evaluate import prompts
from sage_nb.evaluate.base import Candidate, EvalSetup, Score, Scorer
from sage_nb.evaluate.generation import clean_texts, failed, text_rows, word_notes


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


class InputScorer(Scorer):
    """SAEExplainer's input metric: 1.0 if ``n`` written positives out-activate ``n`` unrelated negatives, else 0.0."""

    name = "input"

    def __init__(self, n: int = prompts.INPUT_TEXTS) -> None:
        prompts.input_schema(n)  # validates the count
        self.n = n

    def __repr__(self) -> str:
        return f"InputScorer(n={self.n})"

    def score(self, candidate: Candidate, setup: EvalSetup) -> Score:
        """Ask for positives and negatives, measure both, compare their mean maxima."""
        result = setup.llm.complete(
            prompts.input_messages(candidate.text(setup.representation), self.n),
            prompts.input_schema(self.n),
            role=self.name,
            feature=str(setup.feature),
            seed=setup.seed,
            max_tokens=prompts.text_reply_tokens(2 * self.n),
        )
        if not result.ok or result.parsed is None:
            return failed(self.name, candidate, setup, f"LLM reply failed: {result.error_kind}: {result.error}")
        positives, pos_notes = clean_texts(result.parsed.positives)
        negatives, neg_notes = clean_texts(result.parsed.negatives)
        notes = [f"positives: {n}" for n in pos_notes] + [f"negatives: {n}" for n in neg_notes]
        both = {t.casefold() for t in positives} & {t.casefold() for t in negatives}
        if both:
            notes.append(f"dropped {len(both)} text(s) given as both positive and negative")
            positives = [t for t in positives if t.casefold() not in both]
            negatives = [t for t in negatives if t.casefold() not in both]
        if not positives or not negatives:
            why = f" ({'; '.join(notes)})" if notes else ""
            return failed(self.name, candidate, setup, f"the LLM wrote no usable positives or negatives{why}")
        assert setup.measure is not None  # EvalSetup always sets one
        rows = setup.measure.measure(positives + negatives, setup.feature)
        pos_rows, neg_rows = rows[: len(positives)], rows[len(positives) :]
        pos_mean = _mean([r.max_act for r in pos_rows])
        neg_mean = _mean([r.max_act for r in neg_rows])
        details = {
            "positive_mean": pos_mean,
            "negative_mean": neg_mean,
            "gap": pos_mean - neg_mean,
            "gap_fraction": (pos_mean - neg_mean) / setup.scale if setup.scale > 0 else None,
            "scale": setup.scale,
            "representation": setup.representation,
            "positives": text_rows(pos_rows),
            "negatives": text_rows(neg_rows),
        }
        value = 1.0 if pos_mean > neg_mean else 0.0
        notes += word_notes(positives + negatives)
        return Score(self.name, setup.feature, candidate.explainer, value, len(rows), details, notes)


__all__ = ["InputScorer"]
