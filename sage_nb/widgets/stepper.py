"""Stepper widget: step through the turns of a SAGE run, or follow a live run turn by turn.

The HTML of a turn comes from :func:`sage_nb.viz.run_view.turn_html` (pure, tested), rendered as plain HTML
(widget views do not run scripts). The widget also has a static HTML representation, so a saved notebook shows the
current turn without a kernel.
"""

from __future__ import annotations

import copy
import html
import json
import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets

from sage_nb.agent.records import RunState
from sage_nb.viz.run_view import turn_html, turn_label
from sage_nb.widgets.probe import message_html

#: Name of a run's checkpoint inside its folder.
STATE_FILE = "state.json"
EMPTY = "No turns yet: the run has not recorded a step."

Source = RunState | str | os.PathLike[str]


def state_path(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file of a run: ``path`` itself, or ``path/state.json`` when ``path`` is a folder."""
    path = Path(path)
    return path / STATE_FILE if path.is_dir() else path


def load_state(path: str | os.PathLike[str]) -> RunState:
    """Read a run's :class:`RunState` from its folder or its ``state.json``."""
    with state_path(path).open(encoding="utf-8") as f:
        return RunState.from_dict(json.load(f))


class Stepper(widgets.VBox):
    """Previous / Play / Next buttons, a slider to jump to a turn, a label, and the current turn's HTML.

    ``source`` is a :class:`RunState` or a run folder / its ``state.json`` (then :meth:`refresh` re-reads it).
    To follow a live run, pass :meth:`follow` as the loop's ``on_step`` callback.
    """

    def __init__(
        self, source: Source, *, index: int = 0, max_value: float | None = None, interval_ms: int = 1500
    ) -> None:
        self.path = None if isinstance(source, RunState) else state_path(source)
        self.state = source if isinstance(source, RunState) else load_state(self.path)
        self.max_value = max_value
        self.last_error: BaseException | None = None
        self.previous_button = widgets.Button(description="◀ Previous", tooltip="previous turn")
        self.next_button = widgets.Button(description="Next ▶", tooltip="next turn")
        self.play = widgets.Play(min=0, max=0, step=1, interval=interval_ms, description="play")
        self.slider = widgets.IntSlider(min=0, max=0, description="turn", continuous_update=False)
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.label = widgets.Label(layout=widgets.Layout(flex="0 0 auto"))  # never cut; wraps to a new row
        self.status = widgets.HTML()  # errors from refresh()
        self.output = widgets.HTML()
        controls = [self.previous_button, self.play, self.next_button, self.slider, self.label]
        self.reload_button = None
        if self.path is not None:
            self.reload_button = widgets.Button(description="↻ Reload", tooltip=f"re-read {self.path}")
            self.reload_button.on_click(lambda _b: self.refresh())
            controls.insert(3, self.reload_button)
        self.previous_button.on_click(lambda _b: self.previous())
        self.next_button.on_click(lambda _b: self.next())
        self.slider.observe(self._on_slide, names="value")
        row = widgets.HBox(controls, layout=widgets.Layout(flex_flow="row wrap", align_items="center"))
        super().__init__([row, self.status, self.output])
        self._set_range()
        self.show(index)

    # -- navigation ------------------------------------------------------------------------------------------

    @property
    def index(self) -> int:
        """Position (0-based) of the shown turn."""
        return self.slider.value

    @property
    def last(self) -> int:
        """Position of the last turn (0 when there are none)."""
        return max(len(self.state.turns) - 1, 0)

    def show(self, index: int) -> str:
        """Show turn ``index`` (clamped to the run's turns) and return the shown HTML."""
        index = min(max(index, 0), self.last)
        if self.slider.value == index:
            self._render()
        else:
            self.slider.value = index  # the observer renders
        return self.output.value

    def next(self) -> str:
        """Show the next turn (stays on the last one)."""
        return self.show(self.index + 1)

    def previous(self) -> str:
        """Show the previous turn (stays on the first one)."""
        return self.show(self.index - 1)

    # -- following a run -------------------------------------------------------------------------------------

    def update(self, state: RunState) -> str:
        """Replace the run's state; if the last turn was shown, show the new last turn, else stay on this one."""
        following = self.index >= len(self.state.turns) - 1
        self.state = state
        self._set_range()
        return self.show(self.last if following else self.index)

    def follow(self) -> Callable[[RunState], None]:
        """A callback ``f(state)`` for the loop's ``on_step``: shows each new state (following the last turn).

        The loop passes the same, growing ``RunState`` at every step, so the stepper keeps a copy of each."""

        def on_step(state: RunState) -> None:
            self.update(copy.deepcopy(state))

        return on_step

    def refresh(self) -> str:
        """Re-read the state from disk (when built from a path) and :meth:`update`; a failed read keeps the
        current state and shows the error."""
        if self.path is None:
            return self.show(self.index)
        try:
            state = load_state(self.path)
        except (OSError, ValueError, TypeError, KeyError) as exc:  # missing, half-written or malformed file
            self.last_error = exc
            self.status.value = message_html(f"Cannot read {self.path}: {type(exc).__name__}: {exc}")
            return self.output.value
        self.status.value = ""
        return self.update(state)

    # -- rendering -------------------------------------------------------------------------------------------

    def _set_range(self) -> None:
        self.slider.max = self.play.max = self.last  # lowering max clamps the value (and the observer renders)

    def _on_slide(self, _change: dict) -> None:
        self._render()

    def _render(self) -> None:
        turns = len(self.state.turns)
        self.previous_button.disabled = self.index <= 0
        self.next_button.disabled = self.index >= turns - 1
        self.slider.disabled = self.play.disabled = turns < 2
        if not turns:
            self.label.value = "no turns yet"
            self.output.value = message_html(EMPTY, error=False)
            return
        self.label.value = turn_label(self.state, self.index)
        try:
            self.output.value = turn_html(self.state, self.index, self.max_value, mode="static")
            self.last_error = None
        except Exception as exc:  # handler exceptions would be swallowed by ipywidgets: show them instead
            self.last_error = exc
            self.output.value = message_html(f"Cannot show turn {self.index + 1}: {type(exc).__name__}: {exc}")

    def static_html(self) -> str:
        """Plain HTML of the current turn with its label (shown by saved notebooks without a kernel)."""
        text = html.escape(f"{self.label.value} (feature {self.state.feature})")
        label = f'<div style="font-weight:600;margin:2px 0">{text}</div>'
        return f'<div class="snb-stepper">{label}{self.status.value}{self.output.value}</div>'

    def _repr_html_(self) -> str:
        # IPython adds this to the widget's mime bundle; front ends without the widget state fall back to it
        return self.static_html()

    def __repr__(self) -> str:
        where = turn_label(self.state, self.index) if self.state.turns else "no turns"
        return f"Stepper(feature {self.state.feature}, {where})"
