"""Views of a steering result: escaped side-by-side continuations and a signed bar chart of the logit shift."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from sage_nb.causal.distributions import TokenShift  # noqa: E402
from sage_nb.causal.steering import SteeringResult  # noqa: E402
from sage_nb.viz.causal import (  # noqa: E402
    PROMOTED_COLOR,
    SUPPRESSED_COLOR,
    continuations_html,
    continuations_table,
    logit_shift_chart,
)


def result() -> SteeringResult:
    up = [TokenShift(" time", 1, 2.0, 0.1, 0.5), TokenShift("<b>", 2, 1.0, 0.0, 0.1)]
    down = [TokenShift("\n", 3, -1.5, 0.3, 0.1)]
    return SteeringResult(
        feature=743,
        mode="add",
        strength=45.0,
        start=0,
        prompts=["<script>alert(1)</script>", "I think that"],
        kl=0.5,
        kl_per_prompt=[0.4, 0.6],
        promoted=up,
        suppressed=down,
        clean=[" & more", " it is"],
        steered=[' "quoted"', " time\nand time"],
        clean_logits=torch.zeros(2, 4),
        steered_logits=torch.zeros(2, 4),
    )


def test_continuations_are_escaped_side_by_side():
    html = continuations_html(result())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp; more" in html and "&quot;quoted&quot;" in html
    assert html.count("<tr>") == 3 and "<th>clean</th><th>steered</th>" in html
    assert "feature 743: add 45 (KL 0.50 nats)" in html
    assert continuations_table(result())._repr_html_() == html


def test_logit_shift_chart_has_signed_bars():
    fig = logit_shift_chart(result())
    ax = fig.axes[0]
    widths = [bar.get_width() for bar in ax.patches]
    assert widths == [-1.5, 1.0, 2.0]
    colors = [matplotlib.colors.to_hex(bar.get_facecolor()) for bar in ax.patches]
    assert colors == [SUPPRESSED_COLOR, PROMOTED_COLOR, PROMOTED_COLOR]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["↵", "<b>", "␣time"]
    matplotlib.pyplot.close(fig)
