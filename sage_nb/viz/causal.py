"""Views of a steering result: clean and steered continuations side by side, and the next-token logit shift.

Every text (prompts, continuations, tokens) is escaped; whitespace in continuations is kept as written.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

from sage_nb.causal.steering import SteeringResult
from sage_nb.core.text import visible

PROMOTED_COLOR, SUPPRESSED_COLOR = "#2e7d32", "#c62828"


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def steering_caption(result: SteeringResult) -> str:
    """One line naming the edit and its effect, e.g. ``feature 743: add 45 (KL 0.50 nats)``."""
    return f"feature {result.feature}: {result.mode} {result.strength:.3g} (KL {result.kl:.2f} nats)"


def continuations_html(result: SteeringResult) -> str:
    """An HTML table: one row per prompt with its clean and steered greedy continuations."""
    cell = 'style="white-space:pre-wrap;text-align:left;vertical-align:top"'
    rows = "".join(
        f"<tr><td {cell}><b>{_esc(p)}</b></td><td {cell}>{_esc(c)}</td><td {cell}>{_esc(s)}</td></tr>"
        for p, c, s in zip(result.prompts, result.clean, result.steered, strict=True)
    )
    return (
        f'<table class="snb-steer"><caption style="text-align:left">{_esc(steering_caption(result))}</caption>'
        f"<tr><th>prompt</th><th>clean</th><th>steered</th></tr>{rows}</table>"
    )


@dataclass(frozen=True)
class ContinuationsTable:
    """Clean vs steered continuations; displays as an HTML table in notebooks."""

    result: SteeringResult

    def to_html(self) -> str:
        return continuations_html(self.result)

    def _repr_html_(self) -> str:
        return self.to_html()


def continuations_table(result: SteeringResult) -> ContinuationsTable:
    """The continuations of ``result`` side by side (clean | steered), for display in a notebook."""
    return ContinuationsTable(result)


def logit_shift_chart(result: SteeringResult, k: int = 10, ax: Any = None) -> Any:
    """Horizontal bars of the ``k`` most promoted (positive, green) and suppressed (negative, red) next tokens,
    by mean log-probability change; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    shifts = sorted(result.promoted[:k] + result.suppressed[:k], key=lambda s: s.change)
    if ax is None:
        _, ax = plt.subplots(figsize=(5.0, 0.28 * max(len(shifts), 4) + 0.9))
    values = [s.change for s in shifts]
    colors = [PROMOTED_COLOR if v > 0 else SUPPRESSED_COLOR for v in values]
    ax.barh(range(len(shifts)), values, color=colors)
    ax.set_yticks(range(len(shifts)), [visible(s.token) for s in shifts])
    ax.axvline(0, color="#666666", linewidth=0.8)
    ax.set_xlabel("change in next-token log-probability (nats)")
    ax.set_title(steering_caption(result), fontsize=10)
    ax.figure.tight_layout()
    return ax.figure


__all__ = ["ContinuationsTable", "continuations_html", "continuations_table", "logit_shift_chart", "steering_caption"]
