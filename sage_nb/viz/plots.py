"""Small inline-SVG plots (no matplotlib, no images): a few KB each, crisp, and diff-friendly."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence


def _num(value: float) -> str:
    return f"{value:.3g}"


def histogram_svg(
    edges: Sequence[float],
    counts: Sequence[int],
    *,
    width: int = 320,
    height: int = 120,
    log_y: bool = False,
    color: str = "#4a6fe3",
    title: str | None = None,
) -> str:
    """Histogram of ``counts`` over bins ``edges`` (len(edges) == len(counts) + 1) as an inline ``<svg>``."""
    if not counts:
        return '<div style="color:#888">(no histogram data)</div>'
    if len(edges) != len(counts) + 1:
        raise ValueError(f"{len(edges)} edges need {len(edges) - 1} counts, got {len(counts)}")
    left, right, top, bottom = 34, 6, 14 if title else 6, 18
    plot_w, plot_h = width - left - right, height - top - bottom
    ys = [math.log10(1 + c) if log_y else float(c) for c in counts]
    y_max = max(ys) or 1.0
    x0, x1 = float(edges[0]), float(edges[-1])
    span = (x1 - x0) or 1.0
    bars = []
    for lo, hi, c, y in zip(edges[:-1], edges[1:], counts, ys, strict=True):
        if c <= 0:
            continue
        bx = left + (float(lo) - x0) / span * plot_w
        bw = max((float(hi) - float(lo)) / span * plot_w, 0.5)
        bh = y / y_max * plot_h
        bars.append(
            f'<rect x="{bx:.1f}" y="{top + plot_h - bh:.1f}" width="{bw:.1f}" height="{bh:.1f}">'
            f"<title>{_num(float(lo))}–{_num(float(hi))}: {c}</title></rect>"
        )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" style="font:10px sans-serif" role="img">',
        f"<title>{html.escape(title or 'histogram')}</title>",
        f'<text x="{left}" y="10" font-weight="bold">{html.escape(title)}</text>' if title else "",
        f'<g fill="{html.escape(color)}">{"".join(bars)}</g>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#666"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#666"/>',
        f'<text x="{left}" y="{height - 4}">{_num(x0)}</text>',
        f'<text x="{left + plot_w}" y="{height - 4}" text-anchor="end">{_num(x1)}</text>',
        f'<text x="{left - 3}" y="{top + 8}" text-anchor="end">{max(counts)}</text>',
        f'<text x="{left + plot_w}" y="{top + 8}" text-anchor="end" fill="#888">log scale</text>' if log_y else "",
        f'<text x="{left - 3}" y="{top + plot_h}" text-anchor="end">0</text>',
        "</svg>",
    ]
    return "".join(parts)
