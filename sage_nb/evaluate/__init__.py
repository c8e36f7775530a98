"""Scoring explanations: the scorers of the SAGE and SAEExplainer papers and batch reports with intervals and
paired tests. Names load on first use (the CLI checks scorer names without importing torch).

>>> report = evaluate(target, candidates, llm, index=index, held_out=held_out)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sage_nb.core.records import Candidate
    from sage_nb.evaluate.base import EvalSetup, MeasureCache, Sample, Score, Scorer, held_out_samples
    from sage_nb.evaluate.detection import DetectionScorer, FuzzingScorer
    from sage_nb.evaluate.generation import GenerationScorer
    from sage_nb.evaluate.inputs import InputScorer
    from sage_nb.evaluate.output_metric import OutputMetricScorer
    from sage_nb.evaluate.report import DEFAULT_SCORERS, SCORERS, EvalReport, candidates_from, evaluate
    from sage_nb.evaluate.simulation import SimulationScorer

_LAZY = {
    "Candidate": "sage_nb.core.records",
    "EvalSetup": "sage_nb.evaluate.base",
    "MeasureCache": "sage_nb.evaluate.base",
    "Sample": "sage_nb.evaluate.base",
    "Score": "sage_nb.evaluate.base",
    "Scorer": "sage_nb.evaluate.base",
    "held_out_samples": "sage_nb.evaluate.base",
    "DetectionScorer": "sage_nb.evaluate.detection",
    "FuzzingScorer": "sage_nb.evaluate.detection",
    "GenerationScorer": "sage_nb.evaluate.generation",
    "InputScorer": "sage_nb.evaluate.inputs",
    "OutputMetricScorer": "sage_nb.evaluate.output_metric",
    "DEFAULT_SCORERS": "sage_nb.evaluate.report",
    "SCORERS": "sage_nb.evaluate.report",
    "EvalReport": "sage_nb.evaluate.report",
    "candidates_from": "sage_nb.evaluate.report",
    "evaluate": "sage_nb.evaluate.report",
    "SimulationScorer": "sage_nb.evaluate.simulation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sage_nb.evaluate' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Candidate",
    "DEFAULT_SCORERS",
    "DetectionScorer",
    "EvalReport",
    "EvalSetup",
    "FuzzingScorer",
    "GenerationScorer",
    "InputScorer",
    "MeasureCache",
    "OutputMetricScorer",
    "SCORERS",
    "Sample",
    "Score",
    "Scorer",
    "SimulationScorer",
    "candidates_from",
    "evaluate",
    "held_out_samples",
]
