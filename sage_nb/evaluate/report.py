"""Evaluate many features and several explainers in one call: scores, files, tables, plots and paired tests.

``evaluate(target, candidates, llm, index=..., held_out=...)`` scores every candidate explanation with every
scorer on the same held-out samples, writes ``feature_{F}_comparison.json`` per feature and ``summary.json`` to
``output_dir``, and returns an :class:`EvalReport`. LLM calls and measurements are cached in ``output_dir`` so a
re-run costs nothing.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sage_nb.core.io import write_json
from sage_nb.evaluate.base import Candidate, EvalSetup, MeasureCache, Score, Scorer, held_out_samples
from sage_nb.llm.factory import as_llm

if TYPE_CHECKING:  # the protocol only types arguments; importing it would load torch
    from sage_nb.targets.base import FeatureTarget

#: Scorers by name: (module, class). ``evaluate(scorers=[...])`` takes names or Scorer instances.
SCORERS: dict[str, tuple[str, str]] = {
    "gen": ("sage_nb.evaluate.generation", "GenerationScorer"),
    "simulation": ("sage_nb.evaluate.simulation", "SimulationScorer"),
    "detection": ("sage_nb.evaluate.detection", "DetectionScorer"),
    "fuzzing": ("sage_nb.evaluate.detection", "FuzzingScorer"),
    "input": ("sage_nb.evaluate.inputs", "InputScorer"),
    "output": ("sage_nb.evaluate.output_metric", "OutputMetricScorer"),  # needs a target with a model (steering)
}
DEFAULT_SCORERS = ("gen", "simulation", "detection", "input")
#: Bootstrap resamples for confidence intervals and the paired bootstrap test.
BOOTSTRAP = 2000
#: Files written to ``output_dir``.
MEASURE_CACHE, LLM_CACHE, SUMMARY = "measurements.json", "llm_cache.jsonl", "summary.json"


def make_scorer(spec: str | Scorer) -> Scorer:
    """A scorer from its name (see :data:`SCORERS`) or the instance itself."""
    if isinstance(spec, Scorer):
        return spec
    if spec not in SCORERS:
        raise ValueError(f"Unknown scorer {spec!r}: use one of {sorted(SCORERS)}")
    module, name = SCORERS[spec]
    return getattr(importlib.import_module(module), name)()


def bootstrap_ci(values: Sequence[float], seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean (nan, nan for no values)."""
    x = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(BOOTSTRAP, x.size))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


@dataclass
class PairedTest:
    """A paired comparison of two explainers on one metric over the features both were scored on."""

    metric: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float  # a - b
    ci_low: float
    ci_high: float
    wilcoxon_p: float | None  # None when undefined (fewer than 2 pairs or all differences zero)
    bootstrap_p: float  # two-sided paired bootstrap p-value of the mean difference

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_test(metric: str, a: str, b: str, pairs: Sequence[tuple[float, float]], seed: int = 0) -> PairedTest:
    """Wilcoxon signed-rank (scipy) and a paired bootstrap on ``pairs`` of (a, b) values."""
    from scipy import stats

    x = np.asarray(pairs, dtype=float).reshape(-1, 2)
    diff = x[:, 0] - x[:, 1]
    n = int(diff.size)
    p_w: float | None = None
    if n >= 2 and np.any(diff != 0):
        p_w = float(stats.wilcoxon(x[:, 0], x[:, 1], zero_method="wilcox").pvalue)
    lo, hi = bootstrap_ci(diff.tolist(), seed)
    if n:
        rng = np.random.default_rng(seed)
        centred = diff - diff.mean()
        boots = centred[rng.integers(0, n, size=(BOOTSTRAP, n))].mean(axis=1)
        p_b = float((np.abs(boots) >= abs(diff.mean())).mean())
    else:
        p_b = float("nan")
    mean = lambda v: float(v.mean()) if v.size else float("nan")  # noqa: E731
    return PairedTest(metric, a, b, n, mean(x[:, 0]), mean(x[:, 1]), mean(diff), lo, hi, p_w, p_b)


@dataclass
class EvalReport:
    """All scores of one evaluation, with views."""

    scores: list[Score]
    candidates: list[Candidate]
    representation: str = "description"
    meta: dict[str, Any] = field(default_factory=dict)

    def frame(self):
        """One row per (feature, explainer, metric): value, n, notes."""
        import pandas as pd

        rows = [
            {"feature": s.feature, "explainer": s.explainer, "metric": s.metric, "value": s.value, "n": s.n,
             "notes": "; ".join(s.notes)}
            for s in self.scores
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=["feature", "explainer", "metric", "value", "n", "notes"])

    def wide(self):
        """Features x (metric, explainer) table of values."""
        df = self.frame()
        return df.pivot_table(index="feature", columns=["metric", "explainer"], values="value", aggfunc="first")

    def table(self, seed: int = 0):
        """Mean of each metric per explainer with its 95% bootstrap interval and the number of features."""
        import pandas as pd

        df = self.frame().dropna(subset=["value"])
        rows = []
        for (metric, explainer), group in df.groupby(["metric", "explainer"]):
            lo, hi = bootstrap_ci(group["value"].tolist(), seed)
            rows.append(
                {"metric": metric, "explainer": explainer, "mean": group["value"].mean(), "ci_low": lo, "ci_high": hi,
                 "features": len(group)}
            )  # fmt: skip
        return pd.DataFrame(rows, columns=["metric", "explainer", "mean", "ci_low", "ci_high", "features"])

    def compare(self, a: str = "sage", b: str = "baseline", metrics: Sequence[str] | None = None, seed: int = 0):
        """Paired tests of explainer ``a`` against ``b`` per metric, over features where both have a value."""
        values: dict[tuple[str, str, int], float] = {}
        for s in self.scores:
            if s.value is not None:
                values[(s.metric, s.explainer, s.feature)] = s.value
        metrics = list(metrics) if metrics is not None else sorted({s.metric for s in self.scores})
        tests = []
        for metric in metrics:
            features = sorted({f for (m, e, f) in values if m == metric and e == a} & {
                f for (m, e, f) in values if m == metric and e == b})  # fmt: skip
            pairs = [(values[(metric, a, f)], values[(metric, b, f)]) for f in features]
            tests.append(paired_test(metric, a, b, pairs, seed))
        return tests

    def compare_frame(self, a: str = "sage", b: str = "baseline", seed: int = 0):
        import pandas as pd

        return pd.DataFrame([t.to_dict() for t in self.compare(a, b, seed=seed)])

    def plot(self, seed: int = 0):
        """Per-metric bars (mean with 95% interval) per explainer; returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        table = self.table(seed)
        metrics = sorted(table["metric"].unique())
        explainers = sorted(table["explainer"].unique())
        fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(3.2 * max(len(metrics), 1), 3.2), squeeze=False)
        for ax, metric in zip(axes[0], metrics, strict=False):
            sub = table[table["metric"] == metric].set_index("explainer").reindex(explainers)
            means = sub["mean"].to_numpy(dtype=float)
            err = np.vstack([means - sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float) - means])
            ax.bar(range(len(explainers)), means, yerr=np.nan_to_num(err), capsize=4, color="#4c72b0")
            ax.set_xticks(range(len(explainers)), explainers, rotation=20)
            ax.set_title(metric)
        fig.tight_layout()
        return fig

    def plot_paired(self, metric: str, a: str = "sage", b: str = "baseline"):
        """Per-feature paired dots (``b`` left, ``a`` right) joined by lines; returns the figure."""
        import matplotlib.pyplot as plt

        wide = self.wide()
        fig, ax = plt.subplots(figsize=(3.6, 3.4))
        if (metric, a) in wide.columns and (metric, b) in wide.columns:
            both = wide[[(metric, b), (metric, a)]].dropna()
            for _, row in both.iterrows():
                ax.plot([0, 1], row.to_numpy(dtype=float), "-o", color="#888888", alpha=0.7)
            ax.set_xticks([0, 1], [b, a])
        ax.set_title(f"{metric}: per feature")
        fig.tight_layout()
        return fig

    def summary(self, a: str = "sage", b: str = "baseline") -> dict[str, Any]:
        """The batch summary written to ``summary.json``."""
        table = self.table()
        return {
            "meta": self.meta,
            "representation": self.representation,
            "features": sorted({c.feature for c in self.candidates}),
            "explainers": sorted({c.explainer for c in self.candidates}),
            "means": table.to_dict(orient="records"),
            "paired": [t.to_dict() for t in self.compare(a, b)] if _has(self.candidates, a, b) else [],
        }


def _has(candidates: Sequence[Candidate], a: str, b: str) -> bool:
    names = {c.explainer for c in candidates}
    return a in names and b in names


def evaluate(
    target: FeatureTarget,
    candidates: Sequence[Candidate],
    llm: Any,
    *,
    index: Any,
    held_out: Any,
    scorers: Sequence[str | Scorer] = DEFAULT_SCORERS,
    representation: str = "description",
    output_dir: str | Path | None = None,
    seed: int = 0,
    active: int = 12,
    zeros: int = 8,
    progress: bool = True,
    on_score: Callable[[Score], None] | None = None,
) -> EvalReport:
    """Score every candidate with every scorer; one set of held-out samples per feature, shared by all explainers.

    ``index`` is the mined index the explainers' exemplars came from; ``held_out`` an index mined on held-out text
    (the samples are cut from it, never from the exemplars). ``llm`` is the backend (or spec) the scorers use.
    """

    llm = as_llm(llm)
    out = Path(output_dir) if output_dir is not None else None
    if out is not None:
        from sage_nb.llm.cache import CachedBackend

        out.mkdir(parents=True, exist_ok=True)
        llm = CachedBackend(llm, out / LLM_CACHE)
    measure = MeasureCache(target, out / MEASURE_CACHE if out is not None else None)
    active_scorers = [make_scorer(s) for s in scorers]
    by_feature: dict[int, list[Candidate]] = defaultdict(list)
    for c in candidates:
        by_feature[c.feature].append(c)
    target.check_features(sorted(by_feature))
    scores: list[Score] = []
    bar = _bar(progress, len(candidates) * len(active_scorers))
    for feature, group in sorted(by_feature.items()):
        fd = index.feature_data(target, feature)
        exclude = [ex.context_index for ex in fd.top] if held_out is index else []
        samples = held_out_samples(
            target, held_out, feature, active=active, zeros=zeros, seed=seed, exclude=exclude, measure=measure
        )
        setup = EvalSetup(target, llm, fd, samples, measure, representation, seed)
        feature_scores = []
        for candidate in group:
            for scorer in active_scorers:
                score = scorer.score(candidate, setup)
                feature_scores.append(score)
                if on_score is not None:
                    on_score(score)
                if bar is not None:
                    bar.update()
        scores += feature_scores
        measure.save()
        if out is not None:
            write_json(out / f"feature_{feature}_comparison.json", _comparison(feature, group, feature_scores, setup))
    if bar is not None:
        bar.close()
    meta = {"llm": llm.model, "backend": llm.name, "seed": seed, "scorers": [s.name for s in active_scorers],
            "samples": {"active": active, "zeros": zeros}}  # fmt: skip
    report = EvalReport(scores, list(candidates), representation, meta)
    if out is not None:
        write_json(out / SUMMARY, report.summary())
    return report


def _comparison(feature: int, group: Sequence[Candidate], scores: Sequence[Score], setup: EvalSetup) -> dict[str, Any]:
    per: dict[str, dict[str, Any]] = {}
    for c in group:
        per[c.explainer] = {"description": c.description, "labels": c.labels, "scores": {}}
    for s in scores:
        per[s.explainer]["scores"][s.metric] = s.to_dict()
    return {
        "feature": feature,
        "representation": setup.representation,
        "scale": setup.scale,
        "samples": [{"text": s.text, "band": s.band, "max_act": s.max_act} for s in setup.samples],
        "explainers": per,
    }


def _bar(progress: bool, total: int):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="scoring", unit="score")


def candidates_from(
    sage: Sequence[Any] = (),
    baseline: Sequence[Candidate] = (),
    user: Mapping[int, str] | None = None,
    user_name: str = "user",
) -> list[Candidate]:
    """Candidates from finished SAGE runs, baseline explanations, and ``{feature: description}`` of a user."""
    out = [Candidate.from_run(s) for s in sage if s.explanation is not None]
    out += list(baseline)
    out += [Candidate(f, user_name, text) for f, text in (user or {}).items()]
    return out
