"""Interactive notebook widgets (their logic lives in pure, tested functions)."""

from sage_nb.widgets.probe import ProbeWidget, probe_html, probe_widget
from sage_nb.widgets.stepper import Stepper

__all__ = ["ProbeWidget", "Stepper", "probe_html", "probe_widget"]
