"""PNG figures of a training run: each stage's training curves, and the metrics of the explainer stages in order."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

#: Curves drawn from a trainer's log history (missing ones are left out), train keys first, then held-out ones.
CURVE_KEYS = ("loss", "rewards/accuracies", "rewards/margins", "eval_loss", "eval_rewards/accuracies")


def _figure(n: int):
    from matplotlib.figure import Figure  # no pyplot: nothing global changes, nothing is shown

    fig = Figure(figsize=(3.4 * n, 3.0))
    return fig, fig.subplots(1, n, squeeze=False)[0]


def training_curves(history: Sequence[dict[str, Any]], path: str | Path, title: str) -> Path:
    """Plot every key of :data:`CURVE_KEYS` that the log history holds against the step; write a PNG."""
    keys = [k for k in CURVE_KEYS if any(k in row for row in history)]
    fig, axes = _figure(max(len(keys), 1))
    for ax, key in zip(axes, keys, strict=False):
        points = [(row["step"], row[key]) for row in history if key in row and "step" in row]
        ax.plot([p[0] for p in points], [p[1] for p in points], "o-", ms=3)
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def progression_plot(table: Any, order: Sequence[str], path: str | Path) -> Path:
    """Bars of each metric's mean (95% bootstrap interval) per explainer, explainers in ``order``; write a PNG.

    ``table`` is :meth:`EvalReport.table`'s frame (metric, explainer, mean, ci_low, ci_high, features).
    """
    import numpy as np

    metrics = sorted(table["metric"].unique())
    fig, axes = _figure(max(len(metrics), 1))
    for ax, metric in zip(axes, metrics, strict=False):
        sub = table[table["metric"] == metric].set_index("explainer").reindex(order)
        means = sub["mean"].to_numpy(dtype=float)
        err = np.vstack([means - sub["ci_low"].to_numpy(dtype=float), sub["ci_high"].to_numpy(dtype=float) - means])
        ax.bar(range(len(order)), np.nan_to_num(means), yerr=np.nan_to_num(err), capsize=4, color="#4c72b0")
        ax.set_xticks(range(len(order)), list(order), rotation=20)
        ax.set_title(metric)
        ax.set_ylim(0, max(1.0, float(np.nanmax(sub["ci_high"].to_numpy(dtype=float), initial=0.0))))
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


__all__ = ["progression_plot", "training_curves"]
