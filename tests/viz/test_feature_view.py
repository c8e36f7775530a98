"""Feature view: header, histogram, output-token tables, exemplars and bands in one small output."""

from __future__ import annotations

import re

import pytest

from sage_nb.data.records import Exemplar, FeatureData
from sage_nb.viz import EvidenceView, feature_view, reset_bundle, set_render_mode, token_view
from sage_nb.viz.feature_view import density_text, logit_table_html


@pytest.fixture(autouse=True)
def fresh_session():
    reset_bundle()
    set_render_mode("circuitsvis")
    yield
    reset_bundle()


def exemplar(ctx: int, peak_value: float) -> Exemplar:
    return Exemplar(ctx, ["My", " name", " is", "\n", " <Bob>"], [0.0, peak_value, 0.2, 0.0, 0.1], 1)


def make_feature(**overrides) -> FeatureData:
    data = dict(
        index=1234,
        max_activation=4.5,
        density=0.00123,
        hist_edges=[0.0, 1.0, 2.0, 3.0, 4.0, 4.5],
        hist_counts=[500, 120, 30, 0, 2],
        top=[exemplar(10 + i, 4.5 - i / 2) for i in range(6)],
        quantiles=[("0.0–1.5 (low)", [exemplar(90, 1.0)]), ("1.5–3.0 <mid>", [exemplar(91, 2.0)])],
        promoted=[(" Smith", 1.25), ("<eos>", 0.5)],
        suppressed=[(" the", -0.75)],
    )
    data.update(overrides)
    return FeatureData(**data)


def warm_bundle() -> None:
    token_view(["warm"], [1.0])._repr_html_()


def test_header_histogram_tables_and_exemplars():
    warm_bundle()
    html = feature_view(make_feature())._repr_html_()
    assert "Feature 1234" in html
    assert "max activation <b>4.5</b>" in html and "density <b>0.123%</b>" in html
    svg = re.search(r"<svg.*?</svg>", html, re.DOTALL).group(0)
    assert svg.count("<rect") == 4  # one bar per non-empty bin
    assert "promoted tokens" in html and '<code style="white-space:pre"> Smith</code>' in html and "+1.25" in html
    assert "&lt;eos&gt;" in html and "suppressed tokens" in html and "-0.75" in html
    assert "Top activations" in html and "<td>10</td>" in html and "<td>15</td>" in html
    assert "Activation bands" in html and "0.0–1.5 (low)" in html and "1.5–3.0 &lt;mid&gt;" in html
    assert "&lt;Bob&gt;" in html and "<Bob>" not in html
    assert "↵" in html


def test_one_script_for_the_whole_view_and_small():
    warm_bundle()
    html = feature_view(make_feature())._repr_html_()
    assert html.count("<script>") == 1
    assert html.count("<div data-snb-cv=") == 6 + 2  # top exemplars + one per band
    assert len(html) < 15_000


def test_exemplars_share_the_feature_scale_and_mark_peaks():
    warm_bundle()
    html = feature_view(make_feature()).to_html()
    assert html.count('data-snb-s="4.5"') == 8
    assert html.count(".colored-tokens>span:nth-of-type(2)>span{outline") == 8
    static = feature_view(make_feature()).static_html()
    assert "<script" not in static and static.count("outline:2px solid #111") == 8


def test_first_feature_view_carries_the_bundle():
    html = feature_view(make_feature())._repr_html_()
    assert "var CircuitsVis=" in html
    assert "var CircuitsVis=" not in feature_view(make_feature())._repr_html_()


def test_max_exemplars_and_missing_parts():
    warm_bundle()
    html = feature_view(make_feature(), max_exemplars=2)._repr_html_()
    assert html.count("<div data-snb-cv=") == 2 + 2
    bare = make_feature(hist_edges=[], hist_counts=[], quantiles=[], promoted=[], suppressed=[], top=[])
    html = feature_view(bare)._repr_html_()
    assert "(no histogram data)" in html and "(none)" in html and "(no rows)" in html
    assert "Activation bands" not in html


def test_invalid_feature_data_is_rejected():
    with pytest.raises(ValueError):
        feature_view(make_feature(hist_edges=[0.0, 1.0]))
    with pytest.raises(ValueError):
        feature_view(make_feature(top=[Exemplar(0, ["a"], [1.0], 5)]))


def test_repr_is_stable():
    view = feature_view(make_feature())
    assert repr(view) == "FeatureView(feature 1234, max 4.5, density 0.123%, 6 top exemplars, 2 bands)"
    assert "0x" not in repr(view)


def test_helpers():
    assert density_text(0.5) == "50%" and density_text(0.0001234) == "0.0123%"
    table = logit_table_html("t<", [("\n", 1.0)])
    assert "t&lt;" in table and "↵" in table and "+1" in table


def test_the_computed_evidence_is_a_panel_of_the_feature_view():
    from sage_nb.evidence import Evidence

    feature = make_feature()
    html = feature_view(feature)._repr_html_()
    assert "Computed evidence" in html
    panel = html[html.index("Computed evidence") : html.index("Top activations")]
    assert "peak token" in panel and "token before" in panel and "token after" in panel
    # every exemplar peaks on ' name' after 'My': all of the peak activation, in each of the 8 distinct contexts
    assert '<code style="white-space:pre"> name</code></td><td style="text-align:right">100%</td>' in panel
    assert '<td style="text-align:right">8</td>' in panel and "<b>8</b> contexts analysed" in panel
    assert "Computed evidence" not in feature_view(feature, evidence=False)._repr_html_()
    assert "Computed evidence" in EvidenceView(Evidence.from_feature(feature)).to_html()


def test_in_a_notebook_evidence_displays_as_its_panel():
    from IPython.core.interactiveshell import InteractiveShell

    import sage_nb
    from sage_nb.evidence import Evidence

    feature = make_feature()
    shell = InteractiveShell.instance()
    assert sage_nb.register_notebook_displays()
    data, _ = shell.display_formatter.format(Evidence.from_feature(feature))
    assert "Computed evidence" in data["text/html"]  # the record displays as its panel
