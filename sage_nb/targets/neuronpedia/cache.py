"""A disk cache of Neuronpedia responses: one JSON file per request, written atomically.

A request is described by its method, full URL and JSON body (never its headers, so the API key is never part of a
key or a file). Its key is the SHA-256 of that description; the file ``{folder}/{key[:2]}/{key}.json`` holds the
description and the response. A response is written to a temporary file and renamed over the final name, so a
killed process never leaves half a file, and concurrent writers of the same request leave one whole file.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from sage_nb.config import cache_dir

#: Sub-folder of sage_nb's cache folder (``$SAGE_NB_CACHE`` or ``~/.cache/sage_nb``) used by default.
CACHE_SUBDIR = "neuronpedia"


def default_cache_dir() -> Path:
    """``~/.cache/sage_nb/neuronpedia`` (or under ``$SAGE_NB_CACHE``)."""
    return cache_dir() / CACHE_SUBDIR


def request_key(request: dict[str, Any]) -> str:
    """The cache key of a request description (``method``, ``url``, optional ``body``): a SHA-256 hex digest."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Responses on disk under ``folder``, looked up by request description.

    >>> cache = ResponseCache(tmp_path)  # doctest: +SKIP
    >>> cache.put({"method": "GET", "url": url}, response)  # doctest: +SKIP
    >>> cache.get({"method": "GET", "url": url}) == response  # doctest: +SKIP
    True
    """

    def __init__(self, folder: str | Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_cache_dir()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.folder)!r})"

    def path(self, request: dict[str, Any]) -> Path:
        """The file that holds (or would hold) the response to ``request``."""
        key = request_key(request)
        return self.folder / key[:2] / f"{key}.json"

    def get(self, request: dict[str, Any]) -> tuple[bool, Any]:
        """``(True, response)`` when ``request`` is cached, else ``(False, None)``. An unreadable file is a miss."""
        path = self.path(request)
        try:
            with path.open(encoding="utf-8") as f:
                entry = json.load(f)
        except (OSError, ValueError):
            return False, None
        if entry.get("request") != request:  # a hash collision or a foreign file: not ours
            return False, None
        return True, entry.get("response")

    def put(self, request: dict[str, Any], response: Any) -> Path:
        """Store ``response`` for ``request`` (atomically) and return the file's path."""
        path = self.path(request)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump({"request": request, "response": response}, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def files(self) -> list[Path]:
        """Every cached response file."""
        return sorted(self.folder.glob("*/*.json")) if self.folder.exists() else []


__all__ = ["CACHE_SUBDIR", "ResponseCache", "default_cache_dir", "request_key"]
