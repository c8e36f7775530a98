"""Interactive notebook widgets (their logic lives in pure, tested functions)."""

from sage_nb.widgets.probe import ProbeWidget, probe_html, probe_widget

__all__ = ["ProbeWidget", "probe_html", "probe_widget"]
