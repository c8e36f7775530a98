"""Token views: bundle sent once per session, no network, escaping, stable reprs, one script per output."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
from html.parser import HTMLParser

import pytest

from sage_nb.data.records import Exemplar, TokenActivations
from sage_nb.viz import tokens as tk
from sage_nb.viz.tokens import (
    bundle_sent,
    load_circuitsvis,
    multi_token_view,
    reset_bundle,
    set_render_mode,
    static_tokens_html,
    token_view,
    tokens_table,
)

SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)
NASTY = ["<script>alert(1)</script>", " &amp;", '"quoted"', "it's", "\n", "a\r\nb", "   ", "\t", "\x00", " name"]


@pytest.fixture(autouse=True)
def fresh_session():
    reset_bundle()
    set_render_mode("circuitsvis")
    yield
    reset_bundle()
    set_render_mode("circuitsvis")


def scripts(html: str) -> list[str]:
    return SCRIPT.findall(html)


def view_specs(html: str) -> list:
    """The [component, props] pairs passed to circuitsvis by an output's view script."""
    (view,) = [s for s in scripts(html) if "var k=" in s]
    return json.loads(re.search(r",sp=(\[.*?\]),s=d\.currentScript", view).group(1))


class _Text(HTMLParser):
    """Text of the spans inside the first .snb-tk block (the plain-HTML fallback)."""

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.tokens, self.inside = 0, [], False

    def handle_starttag(self, tag, attrs):
        if tag == "div" and ("class", "snb-tk") in attrs and not self.tokens:
            self.inside = True
        elif self.inside and tag == "span":
            self.tokens.append("")

    def handle_endtag(self, tag):
        if tag == "div":
            self.inside = False

    def handle_data(self, data):
        if self.inside and self.tokens:
            self.tokens[-1] += data


def fallback_tokens(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.tokens


# ------------------------------------------------------------------------------------------- bundle


def test_bundle_is_read_from_the_installed_package_and_safe_to_inline():
    path = tk.circuitsvis_bundle_path()
    assert path.name == "iife.js" and path.parent.name == "cdn"
    js = tk.circuitsvis_bundle_js()
    assert "var CircuitsVis=" in js[:200]
    assert "</script" not in js.lower()
    assert "sourceMappingURL" not in js


def test_first_view_sends_the_bundle_and_later_views_are_small():
    assert not bundle_sent()
    first = token_view(["a", " b"], [0.0, 1.0])._repr_html_()
    assert bundle_sent()
    assert len(first) > 1_000_000 and "var CircuitsVis=" in first
    second = token_view(["c", " d"], [2.0, 0.0])._repr_html_()
    assert len(second) < 5_000
    assert "var CircuitsVis=" not in second
    # the same object displayed again after the bundle went out is small too
    third = token_view(["a", " b"], [0.0, 1.0])._repr_html_()
    assert len(third) < 5_000


def test_include_bundle_forces_it_into_the_output():
    token_view(["a"], [1.0])._repr_html_()
    forced = token_view(["a"], [1.0], include_bundle=True)._repr_html_()
    assert "var CircuitsVis=" in forced
    table = tokens_table([TokenActivations("a", ["a"], [1.0])], include_bundle=True)._repr_html_()
    assert "var CircuitsVis=" in table


def test_bundle_script_comes_before_the_view_script():
    html = token_view(["a"], [1.0])._repr_html_()
    found = scripts(html)
    assert len(found) == 3  # bundle, drain queue, view
    assert "var CircuitsVis=" in found[0] and "__sageNbCvQueue" in found[1] and "var k=" in found[2]


def test_reset_bundle_sends_it_again():
    token_view(["a"], [1.0])._repr_html_()
    reset_bundle()
    assert "var CircuitsVis=" in token_view(["a"], [1.0])._repr_html_()


def test_load_circuitsvis_object_sends_bundle_and_marks_it_sent():
    obj = load_circuitsvis()
    assert "CircuitsVisBundle(circuitsvis " in repr(obj) and "0x" not in repr(obj)
    assert "var CircuitsVis=" in obj._repr_html_()
    assert bundle_sent()
    assert len(token_view(["a"], [1.0])._repr_html_()) < 5_000


def test_no_network_and_no_circuitsvis_python_render(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    # circuitsvis' Python render (which probes google.com) must not even be imported
    monkeypatch.setitem(sys.modules, "circuitsvis.utils.render", None)
    monkeypatch.setitem(sys.modules, "circuitsvis.tokens", None)
    tk.circuitsvis_bundle_js.cache_clear()
    html = token_view(["x", " y"], [0.5, 1.0])._repr_html_()
    assert "var CircuitsVis=" in html and "unpkg" not in html
    rows = [Exemplar(3, ["a", "b"], [0.0, 2.0], 1)]
    assert "ColoredTokens" in tokens_table(rows)._repr_html_()
    assert "ColoredTokensMulti" in multi_token_view(["a"], [[1.0, 2.0]], ["f1", "f2"])._repr_html_()


def test_output_is_deterministic_for_the_same_content():
    token_view(["warm"], [1.0])._repr_html_()
    one = token_view(["a", " b"], [0.25, 1.0], title="t")._repr_html_()
    two = token_view(["a", " b"], [0.25, 1.0], title="t")._repr_html_()
    assert one == two
    assert "0x" not in one


# ----------------------------------------------------------------------------------------- escaping


def test_visible_token():
    assert tk.visible_token("\n") == "↵"
    assert tk.visible_token("a\r\nb") == "a↵b"
    assert tk.visible_token("\t") == "⇥"
    assert tk.visible_token("   ") == "␣␣␣"
    assert tk.visible_token(" name") == " name"
    assert tk.visible_token("\x00") == "␀"


def test_static_html_escapes_tokens():
    html = static_tokens_html(NASTY, [float(i) for i in range(len(NASTY))])
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&amp;amp;" in html and "&quot;quoted&quot;" in html and "it&#x27;s" in html
    assert "\n" not in html and "\x00" not in html
    assert fallback_tokens(html) == [tk.visible_token(t) for t in NASTY]


def test_circuitsvis_reads_escaped_tokens_from_the_fallback_and_nothing_closes_the_script():
    token_view(["warm"], [1.0])._repr_html_()
    html = token_view(NASTY, [1.0] * len(NASTY))._repr_html_()
    # tokens and values are not sent twice: the script reads the fallback spans (innerHTML, title)
    assert view_specs(html) == ["ColoredTokens"]
    assert '<div data-snb-cv="' in html and 'data-snb-s="1"' in html
    assert fallback_tokens(html) == [tk.visible_token(t) for t in NASTY]
    assert html.count("</script>") == len(scripts(html)) == 1
    view = scripts(html)[0]
    assert "</" not in view and "<!--" not in view


def test_json_props_are_script_safe():
    text = tk._script_json(["</script><!--", "a&b", "\u2028"])
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == ["</script><!--", "a&b", "\u2028"]


def test_non_finite_and_zero_values():
    html = static_tokens_html(["a", "b", "c"], [float("nan"), 1.0, 0.0])
    assert '<span title="nan">a</span>' in html  # no colour; the script reads it as 0
    assert "<span>c</span>" in html  # zeros carry no tooltip


# ------------------------------------------------------------------------------------ reprs, colours


def test_text_repr_is_stable_and_informative():
    view = token_view(["My", " name", " is"], [0.1, 3.4123, 0.0])
    assert repr(view) == "TokenView(3 tokens, max 3.41 at ' name')"
    assert repr(token_view([], [])) == "TokenView(0 tokens)"
    assert repr(token_view(["a\n"], [1.0])) == "TokenView(1 tokens, max 1 at 'a\\n')"
    rows = [Exemplar(1, ["a", "b"], [0.0, 2.5], 1), Exemplar(2, ["c"], [1.0], 0)]
    assert repr(tokens_table(rows)) == "TokensTable(2 rows, max 2.5)"
    assert repr(multi_token_view(["a"], [[1, 2]], ["f1", "f2"])) == "MultiTokenView(1 tokens x 2 values: f1, f2)"


def test_colours_follow_circuitsvis_scale():
    assert tk.token_colors(0.0, 2.0) == ("#ffffff", "#000000")
    assert tk.token_colors(2.0, 2.0) == ("#0000ff", "#ffffff")
    assert tk.token_colors(5.0, 2.0) == ("#0000ff", "#ffffff")  # clamped
    assert tk.token_colors(-2.0, 2.0) == ("#ff0000", "#ffffff")
    assert tk.token_colors(1.0, 2.0) == ("#af89ff", "#000000")  # as circuitsvis (colord Lab mix)


def test_max_value_sets_the_scale():
    html = static_tokens_html(["a"], [1.0], max_value=2.0)
    assert "background:#af89ff" in html
    with pytest.raises(ValueError):
        token_view(["a"], [1.0], max_value=0)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        token_view(["a", "b"], [1.0])
    with pytest.raises(ValueError):
        tokens_table([TokenActivations("ab", ["a", "b"], [1.0])])
    with pytest.raises(ValueError):
        tokens_table([Exemplar(0, ["a"], [1.0], 3)])
    with pytest.raises(TypeError):
        tokens_table([("a", 1.0)])  # type: ignore[list-item]


def test_accepts_numpy_values():
    np = pytest.importorskip("numpy")
    assert repr(token_view(["a", "b"], np.array([0.5, 2.0], dtype=np.float32))) == "TokenView(2 tokens, max 2 at 'b')"


# ----------------------------------------------------------------------------------- tables, modes


def test_tokens_table_is_one_output_with_one_script():
    token_view(["warm"], [1.0])._repr_html_()
    rows = [Exemplar(i, ["The", " name", " is", "\n"], [0.0, 3.0 - i / 10, 0.5, 0.0], 1) for i in range(12)]
    html = tokens_table(rows)._repr_html_()
    assert len(scripts(html)) == 1
    assert view_specs(html) == ["ColoredTokens"] * 12
    assert html.count('data-snb-s="3"') == 12  # one shared scale
    assert html.count("<div data-snb-cv=") == 12
    # the peak is outlined in the plain-HTML fallback and, by a CSS rule per row, in circuitsvis' rendering
    assert html.count(".colored-tokens>span:nth-of-type(2)>span{outline:2px solid #111") == 12
    assert html.count("outline:2px solid #111") == 24
    assert "<th>ctx</th>" in html and "<td>11</td>" in html
    assert len(html) < 12_000


def test_tokens_table_of_texts_marks_argmax():
    rows = [TokenActivations("ab", ["a", "b"], [0.1, 0.9]), TokenActivations("c", ["c"], [0.3])]
    html = tokens_table(rows, 1.0).to_html(mode="static")
    assert "<th>#</th>" in html and html.count("outline:2px") == 2
    assert "<script" not in html


def test_empty_table():
    html = tokens_table([])._repr_html_()
    assert "(no rows)" in html and "<script" not in html
    assert not bundle_sent()  # nothing to render with circuitsvis: no bundle spent on it


def test_static_mode_has_no_scripts_and_sends_no_bundle():
    set_render_mode("static")
    html = token_view(["a", " b"], [0.0, 1.0])._repr_html_()
    assert "<script" not in html and "snb-tk" in html
    assert not bundle_sent()
    assert "<script" not in token_view(["a"], [1.0]).static_html()
    with pytest.raises(ValueError):
        set_render_mode("fancy")  # type: ignore[arg-type]


def test_multi_token_view():
    token_view(["warm"], [1.0])._repr_html_()
    view = multi_token_view(["a", "<b>"], [[1.0, 0.0], [0.0, 2.0]], ["f1", "f<2>"])
    html = view._repr_html_()
    ((component, props),) = view_specs(html)
    assert component == "ColoredTokensMulti"
    assert props == {"tokens": ["a", "&lt;b&gt;"], "values": [[1.0, 0.0], [0.0, 2.0]], "labels": ["f1", "f<2>"]}
    assert "f&lt;2&gt;" in html  # fallback table label escaped
    with pytest.raises(ValueError):
        multi_token_view(["a"], [[1.0, 2.0]], ["only one"])


# ------------------------------------------------------------------------------- the JS, under node


NODE_HARNESS = r"""
const vm = require("vm");
const [view, drain] = JSON.parse(require("fs").readFileSync(0, "utf8"));
function Span(html, title) { this.innerHTML = html; this.title = title; }
function El(spans) { this.attrs = { "data-snb-s": "2" }; this.id = ""; this.isConnected = true; this.spans = spans; }
El.prototype.getAttribute = function (n) { return n in this.attrs ? this.attrs[n] : null; };
El.prototype.setAttribute = function (n, v) { this.attrs[n] = String(v); };
El.prototype.querySelectorAll = function (q) { return q === ".snb-tk>span" ? this.spans : []; };
const els = [new El([new Span("a", ""), new Span("&lt;b&gt;", "1.5")]), new El([new Span("c", "2")])];
const queries = [];
const root = { querySelectorAll: (q) => { queries.push(q); return els; } };
const ctx = { window: {}, document: { currentScript: { parentNode: root }, querySelectorAll: () => [] },
              console: console, Math: Math, parseFloat: parseFloat };
vm.createContext(ctx);
vm.runInContext(view, ctx);                 // bundle not loaded yet: the view queues itself
const queued = ctx.window.__sageNbCvQueue.length;
const calls = [];
ctx.window.CircuitsVis = { ColoredTokens: "CT", render: (id, c, p) => calls.push([id.slice(0, 7), c, p]) };
vm.runInContext(drain, ctx);                // the bundle's second script runs the queue
vm.runInContext(view, ctx);                 // a view rendered after the bundle runs at once, skips done mounts
console.log(JSON.stringify({ queued, calls, queries, done: els.map((e) => e.attrs["data-snb-done"]) }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_view_script_queues_until_bundle_then_renders_each_mount_once(tmp_path):
    token_view(["warm"], [1.0])._repr_html_()
    rows = [Exemplar(0, ["a"], [1.0], 0), Exemplar(1, ["b"], [2.0], 0)]
    (view,) = scripts(tokens_table(rows)._repr_html_())
    payload = json.dumps([view, tk._DRAIN_JS])
    proc = subprocess.run(["node", "-e", NODE_HARNESS], input=payload, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["queued"] == 1
    assert [c[:2] for c in result["calls"]] == [["snb-cv-", "CT"], ["snb-cv-", "CT"]]
    assert result["calls"][0][2] == {"tokens": ["a", "&lt;b&gt;"], "values": [0, 1.5], "minValue": -2, "maxValue": 2}
    assert result["calls"][1][2]["values"] == [2]
    assert result["done"] == ["1", "1"]
    assert result["queries"][0].startswith('[data-snb-cv="')
