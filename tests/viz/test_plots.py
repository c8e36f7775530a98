"""Inline SVG histogram."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from sage_nb.viz.plots import histogram_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_histogram_is_valid_small_svg():
    svg = histogram_svg([0.0, 0.5, 1.0, 1.5], [10, 0, 3], title="acts <0>")
    root = ET.fromstring(svg)
    rects = root.findall(f".//{SVG}rect")
    assert len(rects) == 2
    heights = [float(r.get("height")) for r in rects]
    assert heights[0] > heights[1] > 0
    assert "acts &lt;0&gt;" in svg
    assert rects[0].find(f"{SVG}title").text == "0–0.5: 10"
    assert len(svg) < 5_000


def test_many_bins_stay_small():
    svg = histogram_svg([i / 10 for i in range(101)], list(range(1, 101)))
    assert len(svg) < 30_000


def test_log_scale():
    linear = ET.fromstring(histogram_svg([0, 1, 2], [1000, 10]))
    log = ET.fromstring(histogram_svg([0, 1, 2], [1000, 10], log_y=True))
    h_lin = float(linear.findall(f".//{SVG}rect")[1].get("height"))
    h_log = float(log.findall(f".//{SVG}rect")[1].get("height"))
    assert h_log > h_lin


def test_bad_input():
    with pytest.raises(ValueError):
        histogram_svg([0, 1], [1, 2])
    assert "no histogram data" in histogram_svg([], [])
