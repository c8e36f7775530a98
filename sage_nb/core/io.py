"""Writing result files atomically: a temporary file renamed over the target, so a kill never leaves half a file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)
#: Mode of every file written here, JSON and text alike: what ``open()`` would give under this process's umask.
FILE_MODE = 0o666 & ~_UMASK


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it, with :data:`FILE_MODE`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, data: Any) -> None:
    """Write ``data`` as indented JSON atomically (see :func:`write_text`)."""
    write_text(path, json.dumps(data, indent=1, ensure_ascii=False))
