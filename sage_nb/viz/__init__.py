"""Notebook views of tokens and features (circuitsvis offline, bundle sent once per kernel session)."""

from sage_nb.viz.causal import continuations_html, continuations_table, logit_shift_chart
from sage_nb.viz.evidence_view import EvidenceView, evidence_panel_html
from sage_nb.viz.feature_view import FeatureView, feature_view
from sage_nb.viz.plots import histogram_svg
from sage_nb.viz.run_view import RunView, board_frame, explanation_html, turn_html
from sage_nb.viz.tokens import (
    MultiTokenView,
    TokensTable,
    TokenView,
    bundle_sent,
    load_circuitsvis,
    multi_token_view,
    render_mode,
    reset_bundle,
    set_render_mode,
    static_tokens_html,
    token_view,
    tokens_table,
)

__all__ = [
    "EvidenceView",
    "FeatureView",
    "MultiTokenView",
    "RunView",
    "TokenView",
    "TokensTable",
    "board_frame",
    "bundle_sent",
    "continuations_html",
    "continuations_table",
    "evidence_panel_html",
    "explanation_html",
    "feature_view",
    "histogram_svg",
    "load_circuitsvis",
    "logit_shift_chart",
    "multi_token_view",
    "render_mode",
    "reset_bundle",
    "set_render_mode",
    "static_tokens_html",
    "token_view",
    "tokens_table",
    "turn_html",
]
