"""Run view: one turn (header, reply, measured texts, board), the explanation, and the whole run, all escaped."""

from __future__ import annotations

import re

import pytest
from run_samples import CLAIMS, HOSTILE, hostile_run, make_run, measurement  # noqa: F401

from sage_nb.agent.records import Explanation, RunState, Turn
from sage_nb.viz import RunView, reset_bundle, set_render_mode, token_view, turn_html
from sage_nb.viz.run_view import BOARD_COLUMNS, board_frame, explanation_html, turn_label, value_html


@pytest.fixture(autouse=True)
def fresh_session():
    reset_bundle()
    set_render_mode("circuitsvis")
    token_view(["warm"], [1.0])._repr_html_()  # the bundle is sent once per session, not by the views tested here
    yield
    reset_bundle()


def test_turn_header_reply_and_board():
    html = turn_html(make_run(), 0)
    assert "turn 1/5 · explainer" in html and "added H1, H2" in html and "120 tokens" in html
    assert "<th>hypotheses</th>" in html and "alternative" in html  # reply as key/value table
    assert "fires on &#x27; cat&#x27; after &#x27;The&#x27;" in html  # claim on the board, escaped
    assert html.count(">open</span>") == 2 and "new" in html
    assert "Measured texts" not in html and "Explanation" not in html


def test_designer_turn_shows_measurements_with_badges_on_the_feature_scale():
    html = turn_html(make_run(), 1)
    assert "turn 2/5 · designer · H1" in html
    assert html.count("<div data-snb-cv=") == 3  # one circuitsvis mount per measured text
    assert html.count("<script>") == 1  # one view script, bundle not re-sent
    for text in (">ok<", ">partial<", ">miss<", ">expect high<", ">high<", ">medium<", ">low<"):
        assert text in html
    assert "0 … 4" in html  # state.scale
    assert "0 … 8" in turn_html(make_run(), 1, max_value=8.0)
    assert "3.2 (80%)" in html
    assert "outline:2px solid #111" in html  # peaks outlined
    assert "prompt (19 chars)" in html


def test_static_mode_has_no_scripts_and_keeps_the_coloured_tokens():
    html = turn_html(make_run(), 1, mode="static")
    assert "<script" not in html and "data-snb-cv" not in html
    assert html.count('class="snb-tk"') == 3 and 'title="3.2"' in html


def test_scale_falls_back_to_the_largest_measured_value():
    state = make_run()
    state.scale = 0.0
    assert "0 … 3.2" in turn_html(state, 1)
    with pytest.raises(ValueError, match="max_value must be positive"):
        turn_html(state, 1, max_value=0.0)


def test_board_frame_per_turn():
    state = make_run()
    frames = [board_frame(state, i) for i in range(len(state.turns))]
    assert all(list(f.columns) == BOARD_COLUMNS for f in frames)
    statuses = [dict(zip(f["id"], f["status"], strict=True)) for f in frames]
    assert statuses[0] == statuses[1] == {"H1": "open", "H2": "open"}
    assert statuses[2] == {"H1": "accepted", "H2": "open"}
    assert statuses[3] == statuses[4] == {"H1": "accepted", "H2": "inconclusive"}
    assert frames[0]["previous"].isna().all()
    assert frames[2].set_index("id").loc["H1", "previous"] == "open"
    assert list(frames[2]["claim"]) == [CLAIMS["H1"], CLAIMS["H2"]]
    assert board_frame(RunState(1, turns=[Turn(0, "explainer", None, "", None)]), 0).empty


def test_board_html_marks_changes_and_the_turn_hypothesis():
    state = make_run()
    analyzer = turn_html(state, 2)
    assert '>accepted</span> <span style="color:#888">was open</span>' in analyzer
    assert 'background:#fff8c5"><td><b>H1</b>' in analyzer  # the turn's hypothesis is highlighted
    reviewer = turn_html(state, 3)
    assert '>inconclusive</span> <span style="color:#888">was open</span>' in reviewer
    assert "was open" not in turn_html(state, 4)


def test_last_turn_shows_the_explanation():
    html = turn_html(make_run(), -1)
    assert "turn 5/5 · synthesis" in html
    assert "Explanation" in html and "The token &#x27; cat&#x27; after &#x27;The&#x27;." in html
    assert ">animal</span>" in html and ">supports</span>" in html and ">contradicts</span>" in html


def test_explanation_or_why_not():
    state = make_run()
    html = explanation_html(state)
    assert "<script" not in html and "3.2 (80%)" in html and "It rained today" in html
    state.explanation = None
    assert "no explanation yet (phase done)" in explanation_html(state)
    state.stop_reason = "budget exhausted"
    assert "stopped without an explanation: budget exhausted" in explanation_html(state)
    state.explanation = Explanation("fallback", ["x"], source="hypotheses")
    assert "synthesis call failed" in explanation_html(state) and "stop reason: budget exhausted" in explanation_html(
        state
    )


def test_failed_turn_shows_its_error():
    state = make_run()
    state.turns[2] = Turn(2, "analyzer", "H1", "Judge H1", None, ok=False, error="invalid JSON <here>")
    html = turn_html(state, 2)
    assert ">failed</span>" in html and "⚠ invalid JSON &lt;here&gt;" in html
    assert "(no hypotheses yet)" in html


def test_measurement_without_tokens_shows_its_text():
    state = make_run()
    state.turns[1].measurements[2].tokens = []
    html = turn_html(state, 1)
    assert html.count("<div data-snb-cv=") == 2 and "It rained today</pre>" in html


def test_turn_index_like_a_list():
    state = make_run()
    assert turn_label(state, -1) == "turn 5/5 · synthesis" and turn_label(state, 1) == "turn 2/5 · designer · H1"
    for bad in (5, -6):
        with pytest.raises(IndexError, match="the run has 5 turns"):
            turn_html(state, bad)
    with pytest.raises(IndexError):
        turn_html(RunState(1), 0)


def test_value_html_nested_and_escaped():
    html = value_html({"a": [1, True, None, {"b": "x<y"}], "c": {}, "d": []})
    assert "<th>a</th>" in html and "<code>1</code>" in html and "<code>true</code>" in html and ">null<" in html
    assert "x&lt;y" in html and "<td>{}</td>" in html and "<td>[]</td>" in html
    assert html.count("<li>") == 4


@pytest.mark.parametrize("mode", ["circuitsvis", "static"])
def test_hostile_text_is_escaped_everywhere(mode):
    state = hostile_run()
    pages = [turn_html(state, i, mode=mode) for i in range(len(state.turns))]
    pages += [RunView(state).to_html(mode), explanation_html(state)]
    for page in pages:
        assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    designer = pages[1]
    assert designer.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 8  # token, source, reply, prompt, board ...


def test_run_view_shows_every_turn_collapsed_and_the_explanation():
    state = make_run()
    view = RunView(state, open_turns=[4])
    html = view._repr_html_()
    assert len(re.findall(r"<details class=\"snb-turn\"", html)) == 5
    assert html.count('<details class="snb-turn" open>') == 1
    for i in range(5):
        assert turn_label(state, i) in html
    assert "SAGE run on feature 7" in html and "5 turns · phase done · 5 LLM calls" in html
    assert html.count("Explanation") == 1  # once, at the end (not inside the last turn)
    assert html.count("<div data-snb-cv=") == 3 and html.count("<script>") == 1
    assert "<script" not in view.static_html()
    assert repr(view) == "RunView(feature 7, 5 turns, phase done)"


def test_run_view_of_a_run_without_turns():
    html = RunView(RunState(3))._repr_html_()
    assert "0 turns" in html and "no explanation yet (phase exemplars)" in html and "<script" not in html


def test_the_exemplars_turn_shows_the_evidence_the_explainer_read_and_no_reply():
    state = make_run()
    state.evidence_text = "Peak tokens (share of activation, count): '<cat>' 80% (4)"
    state.turns.insert(0, Turn(index=0, role="exemplars", hypothesis=None, prompt="", reply=None, ok=True))
    html = turn_html(state, 0)
    assert "Evidence (the explainer&#x27;s prompt)" in html and "&#x27;&lt;cat&gt;&#x27; 80% (4)" in html
    assert "no reply" not in html and "Reply" not in html
    state.evidence_text = ""  # a run without the evidence shows no panel
    assert "Evidence (" not in turn_html(state, 0)
