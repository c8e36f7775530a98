"""A recorded LLM for notebooks: replay a committed recording by default, or run the model now and record it anew.

Tutorials show a capable model's run without making the reader wait minutes for it:

>>> llm = recorded_llm("recordings/02_the_sage_loop.jsonl", "local-capable", live=False)  # doctest: +SKIP

replays the recording (every result says ``replayed=True``, and a run's state says so too). With ``live=True``, or
``$SAGE_NB_RECORD=1`` in the environment (what ``scripts/record_tutorials.py`` sets), it builds ``spec`` and records
every call to the same file, replacing the old recording. A replay never falls back to a live model: a request the
recording does not hold (the code's prompts changed) raises :class:`~sage_nb.llm.errors.ReplayMissing`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sage_nb.llm.base import LLMBackend
from sage_nb.llm.factory import make_llm

#: Set to 1 to run recorded notebooks live and record them anew.
RECORD_ENV = "SAGE_NB_RECORD"


def recording_live(live: bool | None = None) -> bool:
    """Whether a recorded LLM runs live: when ``live`` is true, or ``$SAGE_NB_RECORD`` is set (the re-recording script
    sets it, so notebooks that pass ``live=False`` are recorded anew too)."""
    return bool(live) or os.environ.get(RECORD_ENV, "") not in ("", "0")


def recorded_llm(
    path: str | Path, spec: str = "local-capable", *, live: bool | None = None, **options: Any
) -> LLMBackend:
    """Replay the recording at ``path``, or (``live``) run ``spec`` now and record it there (see the module doc).

    Raises FileNotFoundError naming the way to record when replaying a recording that does not exist.
    """
    path = Path(path)
    if recording_live(live):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return make_llm(spec, record=path, **options)
    if not path.exists():
        raise FileNotFoundError(
            f"no recording at {path}: run live once to make it (live=True, or {RECORD_ENV}=1 "
            "python scripts/record_tutorials.py)"
        )
    return make_llm(f"replay:{path}")
