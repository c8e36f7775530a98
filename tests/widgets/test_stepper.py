"""Stepper: navigation (buttons, slider, play), following a live run, loading from a run folder, static fallback."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import ipywidgets as widgets
import pytest
from IPython.core.formatters import DisplayFormatter
from run_samples import HOSTILE, hostile_run, make_run

from sage_nb.agent.records import RunState
from sage_nb.widgets import Stepper
from sage_nb.widgets.stepper import EMPTY, STATE_FILE, load_state

ROLES = ["explainer", "designer", "analyzer", "reviewer", "synthesis"]


def first(state: RunState, n: int) -> RunState:
    """The run as it was after its first ``n`` turns (no explanation yet)."""
    return dataclasses.replace(state, turns=state.turns[:n], explanation=None, phase="running")


def shown_role(stepper: Stepper) -> str:
    return stepper.label.value.split(" · ")[1]


def write_state(folder: Path, state: RunState) -> Path:
    path = folder / STATE_FILE
    path.write_text(json.dumps(state.to_dict()), encoding="utf-8")
    return path


def test_starts_on_the_first_turn_with_plain_html():
    s = Stepper(make_run())
    assert s.index == 0 and s.label.value == "turn 1/5 · explainer"
    assert isinstance(s.output, widgets.HTML) and "turn 1/5 · explainer" in s.output.value
    assert "<script" not in s.output.value  # widget views do not run scripts
    assert s.previous_button.disabled and not s.next_button.disabled
    assert s.slider.max == s.play.max == 4
    assert s.reload_button is None
    assert repr(s) == "Stepper(feature 7, turn 1/5 · explainer)"


def test_next_and_previous_change_the_turn_and_its_board():
    s = Stepper(make_run())
    pages = [s.output.value]
    for role in ROLES[1:]:
        pages.append(s.next())
        assert shown_role(s) == role and f"· {role}" in pages[-1] and pages[-1] == s.output.value
    assert len(set(pages)) == 5
    assert ">accepted</span>" not in pages[1] and ">accepted</span> <span" in pages[2]  # H1 accepted by the analyzer
    assert ">inconclusive</span>" in pages[3] and "Explanation" in pages[4]
    assert s.previous() == pages[3] and s.index == 3
    s.previous_button.click()
    assert s.index == 2 and s.output.value == pages[2]
    s.next_button.click()
    assert s.index == 3


def test_navigation_clamps_at_both_ends():
    s = Stepper(make_run())
    s.previous()
    assert s.index == 0 and s.previous_button.disabled
    s.show(99)
    assert s.index == 4 and s.next_button.disabled and not s.previous_button.disabled
    html = s.output.value
    assert s.next() == html and s.index == 4
    assert s.show(-3) and s.index == 0
    assert Stepper(make_run(), index=10).index == 4


def test_slider_and_play_jump_to_a_turn():
    s = Stepper(make_run())
    s.slider.value = 3
    assert shown_role(s) == "reviewer" and "turn 4/5 · reviewer" in s.output.value
    s.play.value = 1  # the Play widget drives the slider
    assert s.slider.value == 1 and shown_role(s) == "designer"
    assert s.output.value.count('class="snb-tk"') == 3


def test_update_follows_the_last_turn():
    run = make_run()
    s = Stepper(first(run, 2), index=1)
    assert s.slider.max == 1
    s.update(first(run, 3))
    assert s.index == 2 and shown_role(s) == "analyzer" and s.slider.max == s.play.max == 2
    s.update(run)
    assert s.index == 4 and "Explanation" in s.output.value


def test_update_stays_on_an_earlier_turn():
    run = make_run()
    s = Stepper(first(run, 3), index=1)
    s.update(run)
    assert s.index == 1 and shown_role(s) == "designer" and s.slider.max == 4 and not s.next_button.disabled
    s.update(first(run, 1))  # a shorter state (e.g. another run): clamped
    assert s.index == 0 and s.slider.max == 0 and s.next_button.disabled


def test_follow_a_live_run_from_nothing():
    run = make_run()
    s = Stepper(RunState(7))
    assert s.label.value == "no turns yet" and EMPTY in s.output.value
    assert s.next_button.disabled and s.previous_button.disabled and s.slider.disabled
    on_step = s.follow()
    for n in range(1, 6):
        on_step(first(run, n))
        assert s.index == n - 1 and shown_role(s) == ROLES[n - 1]
    on_step(run)
    assert "Explanation" in s.output.value


def test_loads_a_run_folder_or_its_state_file(tmp_path):
    run = make_run()
    path = write_state(tmp_path, run)
    assert load_state(tmp_path) == run == load_state(path)
    for source in (tmp_path, path, str(tmp_path)):
        s = Stepper(source, index=2)
        assert s.path == path and s.state == run and shown_role(s) == "analyzer"
        assert s.reload_button is not None
    with pytest.raises(FileNotFoundError):
        Stepper(tmp_path / "missing")


def test_refresh_rereads_the_file_and_follows(tmp_path):
    run = make_run()
    write_state(tmp_path, first(run, 2))
    s = Stepper(tmp_path, index=1)
    write_state(tmp_path, run)
    s.reload_button.click()
    assert s.index == 4 and shown_role(s) == "synthesis" and s.status.value == ""


def test_refresh_keeps_the_state_when_the_file_is_half_written(tmp_path):
    path = write_state(tmp_path, first(make_run(), 3))
    s = Stepper(tmp_path, index=2)
    html = s.output.value
    path.write_text('{"feature": 7, "turns": [', encoding="utf-8")
    assert s.refresh() == html and len(s.state.turns) == 3
    assert "JSONDecodeError" in s.status.value and isinstance(s.last_error, json.JSONDecodeError)
    write_state(tmp_path, make_run())
    s.refresh()
    assert s.status.value == "" and s.index == 4


def test_refresh_without_a_path_rerenders():
    s = Stepper(make_run(), index=2)
    assert s.refresh() == s.output.value and s.index == 2


def test_hostile_text_is_escaped_in_the_widget():
    s = Stepper(hostile_run(), index=1)
    for html in (s.output.value, s.static_html()):
        assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert HOSTILE in s.label.value  # a Label shows text, not HTML


def test_static_fallback_for_saved_notebooks():
    s = Stepper(make_run(), index=2)
    html = s._repr_html_()
    assert "turn 3/5 · analyzer · H1 (feature 7)" in html and s.output.value in html and "<script" not in html
    data, _ = DisplayFormatter().format(s)
    assert "application/vnd.jupyter.widget-view+json" in data  # live kernels show the widget ...
    assert data["text/html"] == html  # ... exports and viewers without widget state show the current turn
