"""Probe: pure HTML function (errors become visible messages) and the widget's wiring."""

from __future__ import annotations

import ipywidgets as widgets
import pytest

from sage_nb.data.records import TokenActivations
from sage_nb.widgets.probe import HINT, ProbeWidget, probe_html

N_FEATURES = 10


def fake_measure(text: str, feature: int) -> TokenActivations:
    """Splits on spaces; the feature fires on words of length == feature."""
    if feature >= N_FEATURES:
        raise IndexError(f"feature {feature} out of range (the SAE has {N_FEATURES})")
    if not text.strip():
        raise ValueError("empty text")
    tokens = [("" if i == 0 else " ") + w for i, w in enumerate(text.split(" "))]
    return TokenActivations(text, tokens, [float(len(t.strip()) == feature) * 2.0 for t in tokens])


class Counting:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def __call__(self, text: str, feature: int) -> TokenActivations:
        self.calls.append((text, feature))
        return fake_measure(text, feature)


def test_probe_html_shows_tokens_and_peak():
    html = probe_html(fake_measure, "my name is <Bob>", 5)
    assert "feature 5 · 4 tokens · max 2 at" in html
    assert "&lt;Bob&gt;" in html and "<Bob>" not in html
    assert "outline:2px solid #111" in html  # peak marked
    assert "<script" not in html  # widget views do not run scripts: plain HTML only
    assert "snb-msg" not in html


def test_probe_html_uses_max_value_for_the_scale():
    assert "0 … 8" in probe_html(fake_measure, "abcd", 4, max_value=8.0)
    assert "0 … 2" in probe_html(fake_measure, "abcd", 4)


def test_empty_text_is_a_hint_not_an_exception():
    for text in ("", "   ", "\n"):
        html = probe_html(fake_measure, text, 3)
        assert HINT in html and "snb-msg" in html


def test_unknown_feature_is_a_visible_error():
    html = probe_html(fake_measure, "hello", 99)
    assert "snb-msg" in html and "⚠" in html
    assert "Cannot measure feature 99: IndexError: feature 99 out of range (the SAE has 10)" in html


def test_errors_from_measure_are_escaped_and_visible():
    def bad(text: str, feature: int) -> TokenActivations:
        raise ValueError("text <too> long & odd")

    html = probe_html(bad, "x", 1)
    assert "ValueError: text &lt;too&gt; long &amp; odd" in html

    def missing(text: str, feature: int) -> TokenActivations:
        raise KeyError("layer 99")

    assert "KeyError: layer 99" in probe_html(missing, "x", 1)


def test_input_errors_checked_before_measuring():
    measure = Counting()
    assert "must be 0 or more" in probe_html(measure, "x", -1)
    assert "max_value must be positive" in probe_html(measure, "x", 1, max_value=0.0)
    assert measure.calls == []


def test_malformed_results_are_reported():
    assert "expected TokenActivations" in probe_html(lambda t, f: [1.0], "x", 1)  # type: ignore[arg-type,return-value]
    assert "2 tokens but 1 activations" in probe_html(lambda t, f: TokenActivations(t, ["a", "b"], [1.0]), "x", 1)
    assert "no tokens" in probe_html(lambda t, f: TokenActivations(t, [], []), "x", 1)


def test_other_exceptions_propagate_from_the_pure_function():
    def broken(text: str, feature: int) -> TokenActivations:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        probe_html(broken, "x", 1)


def test_widget_starts_with_a_hint_and_uses_an_html_output():
    w = ProbeWidget(fake_measure, 3)
    assert isinstance(w.output, widgets.HTML)
    assert HINT in w.output.value
    assert repr(w) == "ProbeWidget(feature 3, 0 chars)"


def test_widget_updates_when_text_or_feature_change():
    measure = Counting()
    w = ProbeWidget(measure, 3)
    w.text_box.value = "the cat sat"
    assert measure.calls == [("the cat sat", 3)]
    assert "max 2 at" in w.output.value and "the" in w.output.value
    w.feature_box.value = 99
    assert "IndexError: feature 99 out of range" in w.output.value
    w.feature_box.value = 4
    assert "max 0 at" in w.output.value


def test_widget_button_and_probe_method():
    measure = Counting()
    w = ProbeWidget(measure, 3, text="a cat")
    assert len(measure.calls) == 1
    w.button.click()
    assert len(measure.calls) == 2
    html = w.probe("big dog", feature=3)
    assert html == w.output.value and "big" in html and "dog" in html


def test_widget_shows_unexpected_errors_instead_of_swallowing_them():
    def broken(text: str, feature: int) -> TokenActivations:
        raise RuntimeError("model not loaded")

    w = ProbeWidget(broken, 1)
    w.text_box.value = "hello"
    assert "Unexpected error: RuntimeError: model not loaded" in w.output.value
    assert isinstance(w.last_error, RuntimeError)


def test_single_line_mode_uses_text():
    assert isinstance(ProbeWidget(fake_measure, 1, multiline=False).text_box, widgets.Text)
