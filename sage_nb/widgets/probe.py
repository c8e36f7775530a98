"""Probe widget: type a text, see one feature's activation on each of its tokens.

All logic is in :func:`probe_html` (pure, tested); the widget only wires inputs to it and shows the
result in an ``ipywidgets.HTML`` (plain HTML: widget views do not run scripts).
"""

from __future__ import annotations

import html
from collections.abc import Callable

import ipywidgets as widgets

from sage_nb.data.records import TokenActivations
from sage_nb.viz.tokens import escape_token, fmt, token_view

Measure = Callable[[str, int], TokenActivations]

HINT = "Type some text and press Probe."


def message_html(message: str, *, error: bool = True) -> str:
    """A visible message box (red for errors, grey for hints); ``message`` is escaped."""
    style = "color:#b00020;border:1px solid #b00020;background:#fff5f5" if error else "color:#555;border:1px solid #ccc"
    icon = "⚠ " if error else ""
    return f'<div class="snb-msg" style="{style};padding:4px 8px;border-radius:4px">{icon}{html.escape(message)}</div>'


def probe_html(measure: Measure, text: str, feature: int, max_value: float | None = None) -> str:
    """HTML of ``feature``'s activation on each token of ``text``, or a visible message saying why not.

    Empty text, a negative feature index, a non-positive ``max_value``, a malformed result, and ValueError,
    IndexError or KeyError raised by ``measure`` (e.g. unknown feature) become messages; other exceptions
    propagate (they are bugs, not input errors).
    """
    if not text or not text.strip():
        return message_html(HINT, error=False)
    if feature < 0:
        return message_html(f"Feature index must be 0 or more, got {feature}.")
    if max_value is not None and not max_value > 0:
        return message_html(f"max_value must be positive, got {max_value}.")
    try:
        result = measure(text, feature)
    except (ValueError, IndexError, KeyError) as exc:
        detail = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        return message_html(f"Cannot measure feature {feature}: {type(exc).__name__}: {detail}")
    if not isinstance(result, TokenActivations):
        return message_html(f"measure returned {type(result).__name__}, expected TokenActivations.")
    if len(result.tokens) != len(result.acts):
        return message_html(f"measure returned {len(result.tokens)} tokens but {len(result.acts)} activations.")
    if not result.tokens:
        return message_html("The text has no tokens to show.")
    peak = result.argmax
    header = (
        f"feature {feature} · {len(result.tokens)} tokens · max {fmt(result.max_act)} "
        f'at <code style="white-space:pre">{escape_token(result.tokens[peak])}</code> (position {peak})'
    )
    view = token_view(result.tokens, result.acts, max_value=max_value, mark_peak=result.max_act > 0)
    return f'<div class="snb-probe"><div style="margin:2px 0">{header}</div>{view.static_html()}</div>'


class ProbeWidget(widgets.VBox):
    """Text box + feature index + Probe button; shows the feature's per-token activations below."""

    def __init__(
        self,
        measure: Measure,
        feature: int,
        max_value: float | None = None,
        *,
        text: str = "",
        multiline: bool = True,
    ) -> None:
        self.measure = measure
        self.max_value = max_value
        self.last_error: BaseException | None = None
        box = widgets.Textarea if multiline else widgets.Text  # Text: Enter submits; Textarea: blur or button
        self.text_box = box(
            value=text,
            placeholder="Text to probe",
            continuous_update=False,
            layout=widgets.Layout(width="100%"),
        )
        self.feature_box = widgets.IntText(value=feature, description="feature", layout=widgets.Layout(width="200px"))
        self.button = widgets.Button(description="Probe", button_style="primary")
        self.output = widgets.HTML()
        self.text_box.observe(self._on_change, names="value")
        self.feature_box.observe(self._on_change, names="value")
        self.button.on_click(self._on_click)
        super().__init__([self.text_box, widgets.HBox([self.feature_box, self.button]), self.output])
        self.refresh()

    def _on_change(self, _change: dict) -> None:
        self.refresh()

    def _on_click(self, _button: widgets.Button) -> None:
        self.refresh()

    def refresh(self) -> str:
        """Measure the current text and feature, show the result (or the error) and return its HTML."""
        try:
            value = probe_html(self.measure, self.text_box.value, int(self.feature_box.value), self.max_value)
            self.last_error = None
        except Exception as exc:  # handler exceptions would be swallowed by ipywidgets: show them instead
            self.last_error = exc
            value = message_html(f"Unexpected error: {type(exc).__name__}: {exc}")
        self.output.value = value
        return value

    def probe(self, text: str, feature: int | None = None) -> str:
        """Set the text (and optionally the feature) as a user would, and return the shown HTML."""
        if feature is not None:
            self.feature_box.value = feature
        self.text_box.value = text  # observers refresh the output when a value changes
        return self.output.value

    def __repr__(self) -> str:
        return f"ProbeWidget(feature {self.feature_box.value}, {len(self.text_box.value)} chars)"


def probe_widget(target, feature: int, max_value: float | None = None, text: str = "") -> ProbeWidget:
    """A :class:`ProbeWidget` that measures with ``target`` (a :class:`sage_nb.Target`)."""
    target.check_features(feature)
    return ProbeWidget(target.measure, feature, max_value=max_value, text=text)
