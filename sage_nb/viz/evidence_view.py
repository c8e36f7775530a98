"""The evidence panel: what :class:`~sage_nb.evidence.Evidence` computed about a feature, as small HTML tables.

The feature view shows it under its header; ``Evidence`` displays as it in a notebook; the stepper shows the
text block the explainer read on the exemplars turn. Pure functions: no widgets, no I/O.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from sage_nb.evidence import HIGH_FRACTION, Evidence, TokenStat
from sage_nb.viz.tokens import _Output, _View, escape_token

#: Rows per token table of the panel.
PANEL_ITEMS = 6

_PRE = "white-space:pre-wrap;margin:0;font-family:monospace"


def _stat_table(title: str, stats: list[TokenStat], max_items: int) -> str:
    rows = "".join(
        f'<tr><td><code style="white-space:pre">{escape_token(s.token)}</code></td>'
        f'<td style="text-align:right">{s.share:.0%}</td><td style="text-align:right">{s.count}</td></tr>'
        for s in stats[:max_items]
    )
    more = (
        f'<tr><td colspan="3" style="color:#888">+{len(stats) - max_items} more</td></tr>'
        if len(stats) > max_items
        else ""
    )
    body = rows + more or '<tr><td colspan="3" style="color:#888">(none)</td></tr>'
    return f'<table class="snb-tbl"><tr><th>{html.escape(title)}</th><th>share</th><th>count</th></tr>{body}</table>'


def evidence_panel_html(evidence: Evidence, max_items: int = PANEL_ITEMS) -> str:
    """The panel: peak / before / after token tables (share of the activation mass, count), the token classes at
    the peak, the activation's shape, and the judged tests when there are any."""
    n = max(evidence.n_rows, 1)
    classes = ", ".join(f"{c} {k / n:.0%}" for c, k in evidence.classes.items()) or "none"
    sh = evidence.shape
    tables = "".join(
        f"<div>{_stat_table(title, stats, max_items)}</div>"
        for title, stats in (
            ("peak token", evidence.peak),
            ("token before", evidence.before),
            ("token after", evidence.after),
        )
    )
    facts = (
        f"<div><b>{evidence.n_rows}</b> contexts analysed · peak token classes: {html.escape(classes)}</div>"
        f"<div>shape: <b>{html.escape(sh.label)}</b> (mean span {sh.mean_span:.1f} tokens) · word start "
        f"{sh.word_start:.0%} · first token only {sh.first_token_only:.0%} · line start {sh.line_start:.0%} · "
        f"sentence start {sh.sentence_start:.0%} · all-caps word {sh.all_caps:.0%}</div>"
    )
    tests = ""
    if evidence.tests:
        rows = "".join(
            f'<tr><td><pre style="{_PRE}">{html.escape(t.text)}</pre></td><td>{html.escape(t.expectation or "—")}'
            f"</td><td>{html.escape(t.level)} ({t.fraction:.0%})</td><td>{html.escape(t.verdict or '—')}</td></tr>"
            for t in evidence.tests
        )
        tests = (
            f'<div style="margin-top:4px">tests (high ≥ {HIGH_FRACTION:.0%} of the top activation):</div>'
            '<table class="snb-tbl"><tr><th>text</th><th>expected</th><th>measured</th><th>verdict</th></tr>'
            f"{rows}</table>"
        )
    return (
        '<div class="snb-evidence-panel">'
        '<h4 style="margin:10px 0 2px">Computed evidence</h4>'
        f'<div style="display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start">{tables}</div>'
        f'<div style="margin-top:4px">{facts}</div>{tests}</div>'
    )


def evidence_text_html(text: str, title: str = "Evidence (the explainer's prompt)") -> str:
    """An evidence text block (as a run keeps it in ``RunState.evidence_text``) in a collapsible panel."""
    if not text:
        return ""
    return (
        f'<details class="snb-evidence-panel" open><summary style="color:#555">{html.escape(title)}</summary>'
        f'<pre style="{_PRE}">{html.escape(text)}</pre></details>'
    )


@dataclass(frozen=True, repr=False)
class EvidenceView(_View):
    """Displays an :class:`~sage_nb.evidence.Evidence` as its panel."""

    evidence: Evidence
    max_items: int = PANEL_ITEMS
    include_bundle: bool = False

    def _output(self) -> _Output:
        out = _Output()
        out.add(f'<div style="font-family:sans-serif">{evidence_panel_html(self.evidence, self.max_items)}</div>')
        return out

    def __repr__(self) -> str:
        return f"EvidenceView(feature {self.evidence.feature}, {self.evidence.n_rows} contexts)"


__all__ = ["PANEL_ITEMS", "EvidenceView", "evidence_panel_html", "evidence_text_html"]
