"""Activation-coloured token views rendered with circuitsvis, offline and without bloating notebooks.

circuitsvis' own ``render`` probes the internet on every display and, offline, inlines its 1.3 MB JS
bundle into every output. Here the bundle is read once from the installed package's ``dist/cdn/iife.js``
and sent to the page once per kernel session, as a classic ``<script>`` that defines ``window.CircuitsVis``.
Every view carries a plain-HTML rendering (colours computed in Python) plus a small script that hands its
mount points to circuitsvis as soon as ``window.CircuitsVis`` exists (now, or when the bundle's script runs,
in whatever order outputs are rendered). Without JavaScript (untrusted notebooks, static exports, widgets)
the plain HTML stays. No network access is ever attempted.
"""

from __future__ import annotations

import functools
import hashlib
import html
import importlib.metadata
import importlib.util
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from sage_nb.core.text import visible_token
from sage_nb.data.records import Exemplar, TokenActivations

RenderMode = Literal["circuitsvis", "static"]

_QUEUE = "__sageNbCvQueue"  # window global: callbacks waiting for the bundle
_MOUNT_ATTR = "data-snb-cv"
_POSITIVE_RGB = (0, 0, 255)  # circuitsvis' ColoredTokens defaults: blue for positive values ...
_NEGATIVE_RGB = (255, 0, 0)  # ... and red for negative ones
_PEAK_OUTLINE = "outline:2px solid #111;outline-offset:-1px"

_BOX_CSS = (
    "<style>.snb-tk>span{display:inline-block;border:1px solid #eee;margin:0 -1px 1px 0;padding:1px 0;"
    "line-height:1.15em}.snb-tbl td,.snb-tbl th{padding:2px 6px;text-align:left;vertical-align:top}"
    ".snb-tbl th{border-bottom:1px solid #ccc}</style>"
)


@dataclass
class _Session:
    """What this kernel session has sent to the page."""

    bundle_sent: bool = False
    mode: RenderMode = "circuitsvis"


_SESSION = _Session()


# ----------------------------------------------------------------------------------------------- bundle


def circuitsvis_bundle_path() -> Path:
    """Path of circuitsvis' installed browser bundle (``dist/cdn/iife.js``), found without importing it."""
    spec = importlib.util.find_spec("circuitsvis")  # does not execute the package (which imports torch)
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = Path(location) / "dist" / "cdn" / "iife.js"
        if path.is_file():
            return path
    raise FileNotFoundError("circuitsvis is not installed, or its dist/cdn/iife.js bundle is missing")


@functools.lru_cache(maxsize=1)
def circuitsvis_bundle_js() -> str:
    """The bundle's JavaScript, read once and made safe to inline in a ``<script>`` element."""
    js = circuitsvis_bundle_path().read_text(encoding="utf-8")
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.MULTILINE)  # no map fetches from the page
    return re.sub(r"</(script)", r"<\\/\1", js, flags=re.IGNORECASE)  # only occurs inside a string literal


def circuitsvis_version() -> str:
    """Version of the installed circuitsvis package."""
    return importlib.metadata.version("circuitsvis")


# Runs (once the bundle has defined window.CircuitsVis) the views that were rendered before it.
_DRAIN_JS = (
    f"(function(w){{var q=w.{_QUEUE}||[];w.{_QUEUE}=[];for(var i=0;i<q.length;i++){{"
    'try{q[i](w.CircuitsVis)}catch(e){console.warn("sage_nb:",e)}}})(window);'
)


def bundle_html() -> str:
    """Scripts that define ``window.CircuitsVis`` from the local bundle and run views waiting for it."""
    return (
        f"<script>/* circuitsvis {circuitsvis_version()} browser bundle, inlined once by sage_nb */\n"
        f"{circuitsvis_bundle_js()}\n</script><script>{_DRAIN_JS}</script>"
    )


def bundle_sent() -> bool:
    """Whether this kernel session already sent the circuitsvis bundle to the page."""
    return _SESSION.bundle_sent


def reset_bundle() -> None:
    """Forget that the bundle was sent: the next view sends it again (e.g. after clearing all outputs)."""
    _SESSION.bundle_sent = False


def set_render_mode(mode: RenderMode) -> None:
    """``"circuitsvis"`` (interactive, with a plain-HTML fallback) or ``"static"`` (plain HTML only)."""
    if mode not in ("circuitsvis", "static"):
        raise ValueError(f"render mode must be 'circuitsvis' or 'static', not {mode!r}")
    _SESSION.mode = mode


def render_mode() -> RenderMode:
    """The current render mode."""
    return _SESSION.mode


class CircuitsVisBundle:
    """Display this (e.g. in a notebook's first cell) to put the bundle in that cell's output."""

    def _repr_html_(self) -> str:
        _SESSION.bundle_sent = True
        note = f"circuitsvis {html.escape(circuitsvis_version())} loaded (local bundle, no network)"
        return f'{bundle_html()}<div style="color:#888;font-size:85%">{note}</div>'

    def __repr__(self) -> str:
        return f"CircuitsVisBundle(circuitsvis {circuitsvis_version()})"


def load_circuitsvis() -> CircuitsVisBundle:
    """An object whose display sends the circuitsvis bundle to the page (marks it sent for this session)."""
    return CircuitsVisBundle()


# ------------------------------------------------------------------------------------- text and colour


def escape_token(token: str) -> str:
    """HTML-escaped visible token text (quotes included)."""
    return html.escape(visible_token(token), quote=True)


def fmt(value: float) -> str:
    """Short, stable number format used in labels and tooltips."""
    return f"{value:.3g}" if math.isfinite(value) else str(value)


# colord's ``mix`` (which circuitsvis uses) interpolates in CIE Lab (D50); ported so both renderings match.
_WHITE_D50 = (96.422, 100.0, 82.521)
_EPS, _KAPPA = 216 / 24389, 24389 / 27


def _to_linear(c: float) -> float:
    c /= 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _from_linear(c: float) -> float:
    v = 255 * (1.055 * c ** (1 / 2.4) - 0.055 if c > 0.0031308 else 12.92 * c)
    return min(max(v, 0.0), 255.0)


def _rgb_to_lab(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    r, g, b = (_to_linear(c) for c in rgb)
    x = 100 * (0.4124564 * r + 0.3575761 * g + 0.1804375 * b)
    y = 100 * (0.2126729 * r + 0.7151522 * g + 0.072175 * b)
    z = 100 * (0.0193339 * r + 0.119192 * g + 0.9503041 * b)
    x, y, z = (  # Bradford D65 -> D50
        1.0478112 * x + 0.0228866 * y - 0.050127 * z,
        0.0295424 * x + 0.9904844 * y - 0.0170491 * z,
        -0.0092345 * x + 0.0150436 * y + 0.7521316 * z,
    )
    fx, fy, fz = (
        t ** (1 / 3) if t > _EPS else (_KAPPA * t + 16) / 116
        for t in (min(max(v, 0.0), w) / w for v, w in zip((x, y, z), _WHITE_D50, strict=True))
    )
    return 116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)


def _lab_to_rgb(lab: tuple[float, float, float]) -> tuple[int, int, int]:
    lum, a, b = lab
    fy = (lum + 16) / 116
    fx, fz = a / 500 + fy, fy - b / 200
    x = (fx**3 if fx**3 > _EPS else (116 * fx - 16) / _KAPPA) * _WHITE_D50[0]
    y = (fy**3 if lum > 8 else lum / _KAPPA) * _WHITE_D50[1]
    z = (fz**3 if fz**3 > _EPS else (116 * fz - 16) / _KAPPA) * _WHITE_D50[2]
    x, y, z = (  # Bradford D50 -> D65
        0.9555766 * x - 0.0230393 * y + 0.0631636 * z,
        -0.0282895 * x + 1.0099416 * y + 0.0210077 * z,
        0.0122982 * x - 0.020483 * y + 1.3299098 * z,
    )
    r = _from_linear(0.032404542 * x - 0.015371385 * y - 0.004985314 * z)
    g = _from_linear(-0.00969266 * x + 0.018760108 * y + 0.00041556 * z)
    bl = _from_linear(0.000556434 * x - 0.002040259 * y + 0.010572252 * z)
    return round(r), round(g), round(bl)


def _mix_white(rgb: tuple[int, int, int], weight: float) -> tuple[int, int, int]:
    """``weight`` of ``rgb`` and the rest white, mixed in Lab like circuitsvis."""
    w = min(max(weight, 0.0), 1.0)
    c, white = _rgb_to_lab(rgb), _rgb_to_lab((255, 255, 255))
    lum, a, b = (ci * w + wi * (1 - w) for ci, wi in zip(c, white, strict=True))
    return _lab_to_rgb((min(max(lum, 0.0), 400.0), a, b))


def token_colors(value: float, scale: float) -> tuple[str, str]:
    """(background, text) CSS colours for ``value`` on a symmetric ``[-scale, scale]`` scale, like circuitsvis."""
    if not math.isfinite(value) or scale <= 0:
        return "#ffffff", "#000000"
    rgb = _mix_white(_POSITIVE_RGB if value >= 0 else _NEGATIVE_RGB, abs(value) / scale)
    brightness = (rgb[0] * 299 + rgb[1] * 587 + rgb[2] * 114) / 255000
    return "#{:02x}{:02x}{:02x}".format(*rgb), ("#ffffff" if brightness < 0.6 else "#000000")


def _floats(values: Iterable[float]) -> list[float]:
    if hasattr(values, "tolist"):  # numpy arrays, torch tensors
        values = values.tolist()  # type: ignore[union-attr]
    return [float(v) for v in values]


def color_scale(values: Sequence[float], max_value: float | None = None) -> float:
    """The colour scale: ``max_value`` if given, else the largest |value| (1.0 when all are zero)."""
    if max_value is not None:
        if not max_value > 0:
            raise ValueError(f"max_value must be positive, got {max_value}")
        return float(max_value)
    finite = [abs(v) for v in values if math.isfinite(v)]
    return max(finite, default=0.0) or 1.0


def static_tokens_html(
    tokens: Sequence[str], values: Sequence[float], *, max_value: float | None = None, peak: int | None = None
) -> str:
    """Plain-HTML coloured tokens (no script): one ``<span>`` per token, non-zero values in its tooltip, peak
    outlined. Views also hand these spans to circuitsvis (text and ``title`` are its tokens and values)."""
    vals = _floats(values)
    if len(tokens) != len(vals):
        raise ValueError(f"{len(tokens)} tokens but {len(vals)} values")
    scale = color_scale(vals, max_value)
    spans = []
    for i, (tok, val) in enumerate(zip(tokens, vals, strict=True)):
        bg, fg = token_colors(val, scale)
        styles = [] if bg == "#ffffff" else [f"background:{bg}"]
        if fg != "#000000":
            styles.append(f"color:{fg}")
        if i == peak:
            styles.append(_PEAK_OUTLINE)
        style_attr = f' style="{";".join(styles)}"' if styles else ""
        title_attr = f' title="{fmt(val)}"' if val != 0 else ""
        spans.append(f"<span{style_attr}{title_attr}>{escape_token(tok)}</span>")
    return f'<div class="snb-tk" style="white-space:pre-wrap;font-family:monospace">{"".join(spans)}</div>'


# ------------------------------------------------------------------------------ mounts and one script


def _script_json(obj: object) -> str:
    """JSON that is safe inside an inline ``<script>``."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, esc in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, esc)
    return text


def _js_number(value: float) -> float:
    return float(f"{value:.4g}") if math.isfinite(value) else 0.0


@dataclass
class _Mount:
    """A place circuitsvis renders into; ``fallback`` is shown until (or unless) it does.

    Without ``props``, a ColoredTokens mount takes its tokens and values from the fallback's spans (so they are
    not sent twice) and its colour scale from ``scale``.
    """

    component: str
    props: dict | None
    fallback: str
    peak: int | None = None
    scale: float | None = None

    def div(self, key: str, i: int) -> str:
        scale = f' data-snb-s="{self.scale:.6g}"' if self.props is None and self.scale is not None else ""
        return f'<div {_MOUNT_ATTR}="{key}" data-snb-i="{i}"{scale}>{self.fallback}</div>'


@dataclass
class _Output:
    """One display's HTML: text parts and circuitsvis mounts, joined with at most one view script."""

    parts: list[str | _Mount] = field(default_factory=list)

    def add(self, part: str | _Mount) -> None:
        self.parts.append(part)

    def render(self, *, include_bundle: bool = False, mode: RenderMode | None = None) -> str:
        mode = mode or _SESSION.mode
        mounts = [p for p in self.parts if isinstance(p, _Mount)]
        if mode == "static" or not mounts:
            body = "".join(p.fallback if isinstance(p, _Mount) else p for p in self.parts)
            return f'<div class="snb">{_BOX_CSS}{body}</div>'
        specs = _script_json([m.component if m.props is None else [m.component, m.props] for m in mounts])
        digest = hashlib.sha1(specs.encode())
        for m in mounts:
            digest.update(m.fallback.encode())
        key = digest.hexdigest()[:12]  # deterministic: same content, same output
        out = ['<div class="snb">']
        if include_bundle or not _SESSION.bundle_sent:
            out.append(bundle_html())
            _SESSION.bundle_sent = True
        out.append(_BOX_CSS)
        peak_css = [
            f'[{_MOUNT_ATTR}="{key}"][data-snb-i="{i}"] .colored-tokens>span:nth-of-type({m.peak + 1})>span'
            f"{{{_PEAK_OUTLINE}}}"
            for i, m in enumerate(mounts)
            if m.peak is not None and m.peak >= 0
        ]
        if peak_css:
            out.append(f"<style>{''.join(peak_css)}</style>")
        i = 0
        for part in self.parts:
            if isinstance(part, _Mount):
                out.append(part.div(key, i))
                i += 1
            else:
                out.append(part)
        out.append(_view_script(key, specs))
        out.append("</div>")
        return "".join(out)


def _view_script(key: str, specs_json: str) -> str:
    """Small script: find this output's mounts and render them once ``window.CircuitsVis`` exists."""
    return (
        "<script>(function(w,d){"
        f'var k="{key}",sp={specs_json},s=d.currentScript,r=s&&s.parentNode,'
        f"q='[{_MOUNT_ATTR}=\"'+k+'\"]',e=r&&r.querySelectorAll?r.querySelectorAll(q):[];"
        "if(!e.length)e=d.querySelectorAll(q);"
        # a spec is [component, props], or a component name whose props are read from the fallback's spans
        'function pr(el,p){if(typeof p!="string")return p[1];var m=+el.getAttribute("data-snb-s"),t=[],v=[],'
        'c=el.querySelectorAll(".snb-tk>span");for(var j=0;j<c.length;j++){t.push(c[j].innerHTML);'
        "v.push(parseFloat(c[j].title)||0)}return{tokens:t,values:v,minValue:-m,maxValue:m}}"
        "function go(cv){for(var i=0;i<e.length;i++){var el=e[i],p=sp[i%sp.length],"
        'c=typeof p=="string"?p:p[0];'
        'if(el.getAttribute("data-snb-done")||!el.isConnected||!cv[c])continue;'
        'try{var props=pr(el,p);if(!el.id)el.id="snb-cv-"+Math.random().toString(36).slice(2);'
        'cv.render(el.id,cv[c],props);el.setAttribute("data-snb-done","1")}'
        'catch(x){console.warn("sage_nb: circuitsvis render failed",x)}}}'
        f"if(w.CircuitsVis&&w.CircuitsVis.render)go(w.CircuitsVis);else(w.{_QUEUE}=w.{_QUEUE}||[]).push(go)"
        "})(window,document);</script>"
    )


def _colored_tokens_mount(
    tokens: Sequence[str], values: Sequence[float], scale: float, peak: int | None = None
) -> _Mount:
    # The script passes each span's innerHTML (escaped text, as circuitsvis puts tokens in innerHTML) and title.
    fallback = static_tokens_html(tokens, values, max_value=scale, peak=peak)
    return _Mount("ColoredTokens", None, fallback, peak, scale)


def _title_html(title: str | None) -> str:
    return f'<div style="font-weight:600;margin:4px 0">{html.escape(title)}</div>' if title else ""


def _scale_html(scale: float) -> str:
    lo, hi = token_colors(0.0, scale)[0], token_colors(scale, scale)[0]
    return (
        f'<div style="color:#666;font-size:85%;margin:2px 0">colour scale: '
        f'<span style="background:linear-gradient(90deg,{lo},{hi});display:inline-block;width:60px;'
        f'height:0.8em;border:1px solid #ccc"></span> 0 … {fmt(scale)}</div>'
    )


# ---------------------------------------------------------------------------------------- view objects


class _View:
    """What every view shares: it builds an :class:`_Output`, and renders it as notebook HTML or plain HTML."""

    include_bundle: bool

    def _output(self) -> _Output:
        raise NotImplementedError

    def to_html(self, mode: RenderMode | None = None) -> str:
        """HTML for this view (``mode`` overrides the session's render mode)."""
        return self._output().render(include_bundle=self.include_bundle, mode=mode)

    def static_html(self) -> str:
        """Plain HTML without scripts (for widgets and static export)."""
        return self.to_html(mode="static")

    def _repr_html_(self) -> str:
        return self.to_html()


@dataclass(frozen=True, repr=False)
class TokenView(_View):
    """One text's tokens coloured by one value each (displays as HTML in notebooks)."""

    tokens: list[str]
    values: list[float]
    max_value: float | None = None
    title: str | None = None
    include_bundle: bool = False
    mark_peak: bool = False

    @property
    def scale(self) -> float:
        return color_scale(self.values, self.max_value)

    @property
    def peak(self) -> int | None:
        """Position of the largest value if it is to be outlined, else None."""
        if not self.mark_peak or not self.values:
            return None
        return max(range(len(self.values)), key=self.values.__getitem__)

    def _output(self) -> _Output:
        out = _Output()
        out.add(_title_html(self.title))
        out.add(_colored_tokens_mount(self.tokens, self.values, self.scale, self.peak))
        out.add(_scale_html(self.scale))
        return out

    def __repr__(self) -> str:
        if not self.tokens:
            return "TokenView(0 tokens)"
        top = max(range(len(self.values)), key=self.values.__getitem__)
        return f"TokenView({len(self.tokens)} tokens, max {fmt(self.values[top])} at {self.tokens[top]!r})"


def token_view(
    tokens: Sequence[str],
    values: Sequence[float],
    *,
    max_value: float | None = None,
    title: str | None = None,
    include_bundle: bool = False,
    mark_peak: bool = False,
) -> TokenView:
    """Tokens coloured by values (blue positive, red negative; scale ``max_value`` or the largest |value|).

    ``mark_peak`` outlines the token with the largest value; ``include_bundle`` forces the circuitsvis bundle
    into this view's output even if this session already sent it.
    """
    vals = _floats(values)
    if len(tokens) != len(vals):
        raise ValueError(f"{len(tokens)} tokens but {len(vals)} values")
    if max_value is not None:
        color_scale(vals, max_value)  # validates
    return TokenView([str(t) for t in tokens], vals, max_value, title, include_bundle, mark_peak)


@dataclass(frozen=True, repr=False)
class MultiTokenView(_View):
    """Tokens with K values each (e.g. K features); circuitsvis lets the reader switch between them."""

    tokens: list[str]
    values: list[list[float]]  # [S][K]
    labels: list[str]
    title: str | None = None
    include_bundle: bool = False

    def _output(self) -> _Output:
        out = _Output()
        out.add(_title_html(self.title))
        rows = []
        for k, label in enumerate(self.labels):
            column = [row[k] for row in self.values]
            rows.append(f"<tr><th>{html.escape(label)}</th><td>{static_tokens_html(self.tokens, column)}</td></tr>")
        fallback = f'<table class="snb-tbl">{"".join(rows)}</table>'
        props = {
            "tokens": [escape_token(t) for t in self.tokens],
            "values": [[_js_number(v) for v in row] for row in self.values],
            "labels": self.labels,
        }
        out.add(_Mount("ColoredTokensMulti", props, fallback))
        return out

    def __repr__(self) -> str:
        return f"MultiTokenView({len(self.tokens)} tokens x {len(self.labels)} values: {', '.join(self.labels)})"


def multi_token_view(
    tokens: Sequence[str],
    values: Sequence[Sequence[float]],
    labels: Sequence[str] | None = None,
    *,
    title: str | None = None,
    include_bundle: bool = False,
) -> MultiTokenView:
    """Tokens with several values each (``values`` is [tokens][K]), like ``circuitsvis.tokens.colored_tokens_multi``."""
    rows = [_floats(r) for r in (values.tolist() if hasattr(values, "tolist") else values)]  # type: ignore[union-attr]
    if len(rows) != len(tokens):
        raise ValueError(f"{len(tokens)} tokens but {len(rows)} rows of values")
    k = len(rows[0]) if rows else len(labels or [])
    if any(len(r) != k for r in rows):
        raise ValueError("every token needs the same number of values")
    names = [str(x) for x in labels] if labels is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} labels for {k} values per token")
    return MultiTokenView([str(t) for t in tokens], rows, names, title, include_bundle)


Row = TokenActivations | Exemplar


@dataclass(frozen=True, repr=False)
class TokensTable(_View):
    """Several token rows (texts or exemplars) in one output, one shared colour scale, peaks outlined."""

    rows: list[Row]
    max_value: float | None = None
    title: str | None = None
    include_bundle: bool = False

    @property
    def scale(self) -> float:
        return color_scale([r.max_act for r in self.rows], self.max_value)

    def add_to(self, out: _Output) -> None:
        """Append this table (title, rows as circuitsvis mounts) to an output being built."""
        out.add(_title_html(self.title))
        if not self.rows:
            out.add('<div style="color:#888">(no rows)</div>')
            return
        exemplars = all(isinstance(r, Exemplar) for r in self.rows)
        first = "<th>ctx</th>" if exemplars else "<th>#</th>"
        out.add(
            f'<table class="snb-tbl">{_caption(self.scale)}<tr>{first}<th>max</th><th>peak</th><th>tokens</th></tr>'
        )
        for n, row in enumerate(self.rows):
            peak = row.peak if isinstance(row, Exemplar) else row.argmax
            label = row.context_index if isinstance(row, Exemplar) else n
            peak_tok = escape_token(row.tokens[peak]) if 0 <= peak < len(row.tokens) else ""
            out.add(
                f"<tr><td>{label}</td><td>{fmt(row.max_act)}</td>"
                f'<td><code style="white-space:pre">{peak_tok}</code></td><td>'
            )
            out.add(_colored_tokens_mount(row.tokens, row.acts, self.scale, peak))
            out.add("</td></tr>")
        out.add("</table>")

    def _output(self) -> _Output:
        out = _Output()
        self.add_to(out)
        return out

    def __repr__(self) -> str:
        if not self.rows:
            return "TokensTable(0 rows)"
        return f"TokensTable({len(self.rows)} rows, max {fmt(max(r.max_act for r in self.rows))})"


def _caption(scale: float) -> str:
    return f'<caption style="caption-side:bottom;text-align:left">{_scale_html(scale)}</caption>'


def check_rows(rows: Sequence[Row]) -> list[Row]:
    """The rows as a list, after checking types, lengths and peak positions (ValueError/TypeError)."""
    items = list(rows)
    for r in items:
        if not isinstance(r, TokenActivations | Exemplar):
            raise TypeError(f"rows must be TokenActivations or Exemplar, not {type(r).__name__}")
        if len(r.tokens) != len(r.acts):
            raise ValueError(f"a row has {len(r.tokens)} tokens but {len(r.acts)} activations")
        if isinstance(r, Exemplar) and not 0 <= r.peak < len(r.acts):
            raise ValueError(
                f"exemplar of context {r.context_index} has peak {r.peak} outside its {len(r.acts)} tokens"
            )
    return items


def tokens_table(
    rows: Sequence[TokenActivations] | Sequence[Exemplar],
    max_value: float | None = None,
    *,
    title: str | None = None,
    include_bundle: bool = False,
) -> TokensTable:
    """Rows of coloured tokens in ONE output (one script for all rows); scale ``max_value`` or the largest max."""
    items = check_rows(rows)
    table = TokensTable(items, max_value, title, include_bundle)
    if max_value is not None:
        table.scale  # noqa: B018  (validates)
    return table
