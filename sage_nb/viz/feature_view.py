"""The feature view: one SAE feature's statistics, output effects and exemplars in a single output."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from sage_nb.data.records import FeatureData
from sage_nb.evidence import Evidence
from sage_nb.viz.evidence_view import evidence_panel_html
from sage_nb.viz.plots import histogram_svg
from sage_nb.viz.tokens import TokensTable, _Output, _View, check_rows, escape_token, fmt


def density_text(density: float) -> str:
    """Density (a fraction) as a percentage with three significant digits."""
    return f"{density * 100:.3g}%"


def logit_table_html(title: str, items: Sequence[tuple[str, float]], *, color: str = "#333") -> str:
    """A small two-column table of output tokens and their values."""
    rows = "".join(
        f'<tr><td><code style="white-space:pre">{escape_token(tok)}</code></td>'
        f'<td style="text-align:right;color:{color}">{value:+.3g}</td></tr>'
        for tok, value in items
    )
    body = rows or '<tr><td colspan="2" style="color:#888">(none)</td></tr>'
    return f'<table class="snb-tbl"><tr><th colspan="2">{html.escape(title)}</th></tr>{body}</table>'


@dataclass(frozen=True, repr=False)
class FeatureView(_View):
    """Displays a :class:`FeatureData` as HTML: header, histogram, output tokens, the computed evidence (unless
    ``evidence`` is False), exemplars, quantile bands."""

    feature: FeatureData
    max_exemplars: int | None = None
    include_bundle: bool = False
    log_hist: bool = False
    evidence: bool = True

    def _exemplars(self, items: list) -> list:
        return items if self.max_exemplars is None else items[: self.max_exemplars]

    def _output(self) -> _Output:
        f = self.feature
        scale = f.max_activation if f.max_activation > 0 else None
        hist = histogram_svg(f.hist_edges, f.hist_counts, log_y=self.log_hist, title="activations > 0")
        out = _Output()
        out.add(
            '<div class="snb-feature" style="font-family:sans-serif">'
            f'<h3 style="margin:4px 0">Feature {f.index}</h3>'
            f'<div style="margin-bottom:6px">max activation <b>{fmt(f.max_activation)}</b> · '
            f"density <b>{density_text(f.density)}</b> · {len(f.top)} top exemplars</div>"
            '<div style="display:flex;flex-wrap:wrap;gap:24px;align-items:flex-start">'
            f'<div class="snb-hist">{hist}</div>'
            f"<div>{logit_table_html('promoted tokens', f.promoted, color='#1a7f37')}</div>"
            f"<div>{logit_table_html('suppressed tokens', f.suppressed, color='#b00020')}</div>"
            "</div>"
        )
        if self.evidence and f.top:
            out.add(evidence_panel_html(Evidence.from_feature(f)))
        TokensTable(self._exemplars(f.top), scale, "Top activations").add_to(out)
        if f.quantiles:
            out.add('<h4 style="margin:10px 0 2px">Activation bands</h4>')
            for label, exemplars in f.quantiles:
                TokensTable(self._exemplars(exemplars), scale, label).add_to(out)
        out.add("</div>")
        return out

    def __repr__(self) -> str:
        f = self.feature
        return (
            f"FeatureView(feature {f.index}, max {fmt(f.max_activation)}, density {density_text(f.density)}, "
            f"{len(f.top)} top exemplars, {len(f.quantiles)} bands)"
        )


def feature_view(
    feature: FeatureData,
    *,
    max_exemplars: int | None = None,
    include_bundle: bool = False,
    log_hist: bool = False,
    evidence: bool = True,
) -> FeatureView:
    """A displayable view of one feature (exemplars coloured on the feature's max-activation scale), with the
    panel of its computed evidence unless ``evidence`` is False."""
    if feature.hist_counts and len(feature.hist_edges) != len(feature.hist_counts) + 1:
        raise ValueError("hist_edges must have one more entry than hist_counts")
    check_rows(feature.top)
    for _, exemplars in feature.quantiles:
        check_rows(exemplars)
    return FeatureView(feature, max_exemplars, include_bundle, log_hist, evidence)
