"""Views of a SAGE run: one turn at a time (for the stepper) or the whole run (static, for saved notebooks).

A turn shows its header (turn k of n, role, hypothesis, decision), the role's structured reply, the texts it
measured (tokens coloured by the feature's activation through circuitsvis, with expectation, level and verdict
badges) and the hypothesis board after the turn. All text (LLM replies, corpus snippets, prompts) is escaped.
Pure functions: no widgets, no I/O.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sage_nb.agent.records import Measurement, RunState, Turn
from sage_nb.viz.evidence_view import evidence_text_html
from sage_nb.viz.tokens import RenderMode, _colored_tokens_mount, _Output, _scale_html, _View, color_scale, fmt

#: Badge colours per hypothesis status, measurement verdict and activation level.
STATUS_COLORS = {"open": "#0969da", "accepted": "#1a7f37", "refuted": "#b00020", "inconclusive": "#9a6700"}
VERDICT_COLORS = {"ok": "#1a7f37", "partial": "#9a6700", "miss": "#b00020"}
LEVEL_COLORS = {"high": "#0550ae", "medium": "#218bff", "low": "#8c959f"}
_GREY = "#8c959f"
#: Board columns of :func:`board_frame`.
BOARD_COLUMNS = ["id", "claim", "status", "previous"]

_PRE = "white-space:pre-wrap;margin:0;font-family:monospace"


# ------------------------------------------------------------------------------------------------- small pieces


def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def badge(text: str, color: str) -> str:
    """A small coloured label (``text`` is escaped)."""
    return (
        f'<span class="snb-badge" style="background:{color};color:#fff;border-radius:8px;padding:0 6px;'
        f'font-size:85%;white-space:nowrap">{_esc(text)}</span>'
    )


def _status_badge(status: str | None) -> str:
    return badge(status or "—", STATUS_COLORS.get(status or "", _GREY))


def _turn(state: RunState, index: int) -> Turn:
    """The turn at ``index`` (negative counts from the end, as in lists); IndexError outside the run."""
    n = len(state.turns)
    if not -n <= index < n:
        raise IndexError(f"turn index {index} out of range: the run has {n} turns")
    return state.turns[index]


def _position(state: RunState, index: int) -> int:
    _turn(state, index)
    return index % len(state.turns)


def turn_label(state: RunState, index: int) -> str:
    """Plain text such as ``'turn 3/5 · designer · H1'`` (0-based ``index``; negative counts from the end)."""
    turn = _turn(state, index)
    parts = [f"turn {_position(state, index) + 1}/{len(state.turns)}", turn.role]
    if turn.hypothesis:
        parts.append(turn.hypothesis)
    return " · ".join(parts)


def _header_html(state: RunState, index: int) -> str:
    turn = _turn(state, index)
    meta = [f"{turn.tokens} tokens"] if turn.tokens else []
    if turn.seconds:
        meta.append(f"{turn.seconds:.1f} s")
    meta_html = f' <span style="color:#888;font-weight:normal">({_esc(", ".join(meta))})</span>' if meta else ""
    failed = "" if turn.ok else " " + badge("failed", VERDICT_COLORS["miss"])
    decision = f' <span style="font-weight:normal">→ {_esc(turn.decision)}</span>' if turn.decision else ""
    return f"<b>{_esc(turn_label(state, index))}</b>{failed}{decision}{meta_html}"


# ------------------------------------------------------------------------------------------------------ reply


def value_html(value: Any) -> str:
    """A JSON-like value as compact, escaped HTML: objects as key/value tables, lists as numbered lists."""
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        rows = "".join(f"<tr><th>{_esc(k)}</th><td>{value_html(v)}</td></tr>" for k, v in value.items())
        return f'<table class="snb-tbl snb-kv">{rows}</table>'
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        items = "".join(f"<li>{value_html(v)}</li>" for v in value)
        return f'<ol style="margin:0;padding-left:1.6em">{items}</ol>'
    if value is None:
        return '<span style="color:#888">null</span>'
    if isinstance(value, str):
        return f'<span style="white-space:pre-wrap">{_esc(value)}</span>'
    return f"<code>{_esc(json.dumps(value))}</code>"


def _reply_html(turn: Turn) -> str:
    if turn.reply is None and turn.ok and not turn.prompt:  # a step the code took alone (e.g. minimal pairs)
        return '<div style="color:#888">no LLM call</div>'
    if turn.reply is None:
        error = turn.error or "no reply"
        return f'<div style="color:#b00020">⚠ {_esc(error)}</div>'
    error = f'<div style="color:#9a6700">⚠ {_esc(turn.error)}</div>' if turn.error else ""
    return f"{error}{value_html(turn.reply)}"


def _prompt_html(turn: Turn) -> str:
    if not turn.prompt:
        return ""
    return (
        f'<details><summary style="color:#555">prompt ({len(turn.prompt)} chars)</summary>'
        f'<pre style="{_PRE};max-height:24em;overflow:auto">{_esc(turn.prompt)}</pre></details>'
    )


# ------------------------------------------------------------------------------------------------ measurements


def run_scale(state: RunState, turns: Iterable[Turn], max_value: float | None = None) -> float:
    """Colour scale: ``max_value``, else the feature's scale (``state.scale``), else the largest measured value."""
    values = [a for turn in turns for m in turn.measurements for a in m.acts]
    if max_value is None and state.scale > 0:
        max_value = state.scale
    return color_scale(values, max_value)


def _measurement_badges(m: Measurement) -> str:
    expect = badge(f"expect {m.expect}", LEVEL_COLORS.get(m.expect or "", _GREY)) if m.expect else ""
    level = badge(m.level, LEVEL_COLORS.get(m.level, _GREY))
    verdict = badge(m.verdict or "not judged", VERDICT_COLORS.get(m.verdict or "", _GREY))
    return " ".join(b for b in (expect, level, verdict) if b)


def _add_measurements(out: _Output, turn: Turn, scale: float) -> None:
    if not turn.measurements:
        return
    out.add(
        f'<table class="snb-tbl snb-measure">'
        f'<caption style="caption-side:bottom;text-align:left">{_scale_html(scale)}</caption>'
        "<tr><th>#</th><th>source</th><th>max</th><th>judged</th><th>tokens</th></tr>"
    )
    for n, m in enumerate(turn.measurements, 1):
        out.add(
            f"<tr><td>{n}</td><td>{_esc(m.source)}</td><td>{fmt(m.max_act)} ({m.fraction:.0%})</td>"
            f"<td>{_measurement_badges(m)}</td><td>"
        )
        if m.tokens and len(m.tokens) == len(m.acts):
            peak = max(range(len(m.acts)), key=m.acts.__getitem__) if m.max_act > 0 else None
            out.add(_colored_tokens_mount(m.tokens, m.acts, scale, peak))
        else:  # nothing to colour: show the text itself
            out.add(f'<pre style="{_PRE}">{_esc(m.text)}</pre>')
        out.add("</td></tr>")
    out.add("</table>")


def _add_effects(out: _Output, turn: Turn) -> None:
    if not turn.effects:
        return
    out.add(
        '<table class="snb-tbl snb-effects"><tr><th>steered prompt</th><th>judged</th><th>clean</th>'
        "<th>steered</th><th>promoted</th><th>KL</th></tr>"
    )
    for e in turn.effects:
        verdict = badge(e.verdict or "not judged", VERDICT_COLORS.get(e.verdict or "", _GREY))
        expect = f"<br>expect {_esc(', '.join(e.expect))}" if e.expect else ""
        wrap = '<td style="white-space:pre-wrap">'
        out.add(
            f"<tr>{wrap}{_esc(e.prompt)}</td><td>{verdict}{expect}</td>{wrap}{_esc(e.clean)}</td>"
            f"{wrap}{_esc(e.steered)}</td><td>{_esc(', '.join(repr(t) for t in e.promoted[:5]))}</td>"
            f"<td>{e.kl:.2f}</td></tr>"
        )
    out.add("</table>")


# ------------------------------------------------------------------------------------------------------- board


def board_rows(state: RunState, index: int) -> list[dict[str, str | None]]:
    """The board after turn ``index``: one dict per hypothesis with its id, claim, status, and previous status
    (after the turn before; None when the hypothesis is new)."""
    turn = _turn(state, index)
    position = _position(state, index)
    before = state.turns[position - 1].board if position else {}
    ids = list(dict.fromkeys([*turn.board, *turn.claims]))
    return [
        {"id": hid, "claim": turn.claims.get(hid, ""), "status": turn.board.get(hid), "previous": before.get(hid)}
        for hid in ids
    ]


def board_frame(state: RunState, index: int) -> pd.DataFrame:
    """The hypothesis board after turn ``index`` as a DataFrame with columns :data:`BOARD_COLUMNS`."""
    return pd.DataFrame(board_rows(state, index), columns=BOARD_COLUMNS)


def _change_html(row: Mapping[str, str | None]) -> str:
    if row["previous"] is None:
        return ' <span style="color:#888">new</span>'
    if row["previous"] != row["status"]:
        return f' <span style="color:#888">was {_esc(row["previous"])}</span>'
    return ""


def _board_html(state: RunState, index: int) -> str:
    rows = board_rows(state, index)
    if not rows:
        return '<div style="color:#888">(no hypotheses yet)</div>'
    current = _turn(state, index).hypothesis
    highlight = ' style="background:#fff8c5"'
    body = "".join(
        f"<tr{highlight if row['id'] == current else ''}><td><b>{_esc(row['id'])}</b></td>"
        f'<td style="white-space:pre-wrap">{_esc(row["claim"])}</td>'
        f"<td>{_status_badge(row['status'])}{_change_html(row)}</td></tr>"
        for row in rows
    )
    return f'<table class="snb-tbl snb-board"><tr><th>id</th><th>claim</th><th>status</th></tr>{body}</table>'


# ------------------------------------------------------------------------------------------------- explanation


def _section(title: str) -> str:
    return f'<h4 style="margin:8px 0 2px">{_esc(title)}</h4>'


def _evidence_html(state: RunState) -> str:
    explanation = state.explanation
    if explanation is None or not explanation.evidence:
        return ""
    rows = "".join(
        f"<tr><td>{_esc(e.hypothesis)}</td>"
        f"<td>{badge('supports', VERDICT_COLORS['ok']) if e.supports else badge('contradicts', VERDICT_COLORS['miss'])}"
        f'</td><td><pre style="{_PRE}">{_esc(e.text)}</pre></td><td>{fmt(e.max_act)} ({e.fraction:.0%})</td>'
        f"<td>{_esc(e.expect or '—')}</td></tr>"
        for e in explanation.evidence
    )
    return (
        '<table class="snb-tbl snb-evidence"><tr><th>hypothesis</th><th></th><th>text</th><th>max</th>'
        f"<th>expected</th></tr>{rows}</table>"
    )


def _explanation_body(state: RunState) -> str:
    explanation = state.explanation
    if explanation is None:
        if state.stop_reason:
            return f'<div style="color:#b00020">stopped without an explanation: {_esc(state.stop_reason)}</div>'
        return f'<div style="color:#888">no explanation yet (phase {_esc(state.phase)})</div>'
    labels = " ".join(badge(label, "#6639ba") for label in explanation.labels)
    note = (
        '<div style="color:#9a6700">(the synthesis call failed: built from the accepted hypotheses)</div>'
        if explanation.source == "hypotheses"
        else ""
    )
    stop = f'<div style="color:#888">stop reason: {_esc(state.stop_reason)}</div>' if state.stop_reason else ""
    return (
        f'<div style="white-space:pre-wrap;font-size:110%">{_esc(explanation.description)}</div>'
        f'<div style="margin:4px 0">{labels}</div>{note}{stop}{_evidence_html(state)}'
    )


def _explanation_part(state: RunState) -> str:
    return f'<div class="snb-explanation">{_section("Explanation")}{_explanation_body(state)}</div>'


def explanation_html(state: RunState) -> str:
    """The run's final description, labels and evidence (or why it stopped without them), as plain HTML."""
    out = _Output()
    out.add(_explanation_part(state))
    return out.render(mode="static")


# ------------------------------------------------------------------------------------------------------ views


def _add_turn_body(out: _Output, state: RunState, index: int, scale: float, *, outcome: bool) -> None:
    """Append a turn's reply, prompt, measurements and board (and, if ``outcome``, on the last turn of a finished
    run, the explanation or stop reason)."""
    turn = _turn(state, index)
    if turn.role == "exemplars":  # what the code computed before any LLM call
        out.add(evidence_text_html(state.evidence_text))
    else:
        out.add(f"{_section('Reply')}{_reply_html(turn)}{_prompt_html(turn)}")
    if turn.measurements:
        out.add(_section(f"Measured texts ({len(turn.measurements)})"))
        _add_measurements(out, turn, scale)
    if turn.effects:
        out.add(_section(f"Steer tests ({len(turn.effects)}): the feature turned up while the model continues"))
        _add_effects(out, turn)
    out.add(f"{_section('Hypothesis board')}{_board_html(state, index)}")
    finished = state.explanation is not None or state.stop_reason is not None
    if outcome and finished and _position(state, index) == len(state.turns) - 1:
        out.add(_explanation_part(state))


@dataclass(frozen=True, repr=False)
class TurnView(_View):
    """One turn of a run (header, reply, measured texts, board), displayable in notebooks."""

    state: RunState
    index: int
    max_value: float | None = None
    include_bundle: bool = False

    def _output(self) -> _Output:
        turn = _turn(self.state, self.index)
        out = _Output()
        out.add(
            f'<div class="snb-turn" style="font-family:sans-serif"><div>{_header_html(self.state, self.index)}</div>'
        )
        _add_turn_body(out, self.state, self.index, run_scale(self.state, [turn], self.max_value), outcome=True)
        out.add("</div>")
        return out

    def __repr__(self) -> str:
        return f"TurnView(feature {self.state.feature}, {turn_label(self.state, self.index)})"


def turn_html(state: RunState, index: int, max_value: float | None = None, *, mode: RenderMode | None = None) -> str:
    """HTML of turn ``index`` (0-based; negative counts from the end; IndexError outside the run).

    Activations are coloured on ``max_value``, defaulting to the feature's scale ``state.scale``. ``mode``
    overrides the session's render mode: use ``"static"`` for widgets (they do not run scripts).
    """
    return TurnView(state, index, max_value).to_html(mode)


def _run_header_html(state: RunState) -> str:
    facts = [f"{len(state.turns)} turns", f"phase {state.phase}", f"{state.llm_calls} LLM calls"]
    if state.tokens:
        facts.append(f"{state.tokens} tokens")
    if state.failures:
        facts.append(f"{state.failures} failures")
    if state.scale > 0:
        facts.append(f"scale {fmt(state.scale)}")
    if state.replayed:
        facts.append("LLM replies replayed from a recording")
    return (
        f'<h3 style="margin:4px 0">SAGE run on feature {_esc(state.feature)}</h3>'
        f'<div style="color:#555;margin-bottom:4px">{_esc(" · ".join(facts))}</div>'
    )


@dataclass(frozen=True, repr=False)
class RunView(_View):
    """The whole run: every turn in a collapsible section, then the explanation (works without a kernel)."""

    state: RunState
    max_value: float | None = None
    include_bundle: bool = False
    open_turns: Sequence[int] = ()  # positions of the turns shown expanded

    def _output(self) -> _Output:
        state = self.state
        scale = run_scale(state, state.turns, self.max_value)
        out = _Output()
        out.add(f'<div class="snb-run" style="font-family:sans-serif">{_run_header_html(state)}')
        for i in range(len(state.turns)):
            opened = " open" if i in self.open_turns else ""
            out.add(f'<details class="snb-turn"{opened}><summary>{_header_html(state, i)}</summary>')
            _add_turn_body(out, state, i, scale, outcome=False)
            out.add("</details>")
        out.add(_explanation_part(state))
        out.add("</div>")
        return out

    def __repr__(self) -> str:
        return f"RunView(feature {self.state.feature}, {len(self.state.turns)} turns, phase {self.state.phase})"
