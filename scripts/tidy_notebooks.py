"""Drop per-cell execution timestamps from executed notebooks, so that re-running one diffs only where it changed.

    python scripts/tidy_notebooks.py tutorials/*.ipynb notebooks/*.ipynb

Outputs, execution counts, tags and the saved widget state stay; tests/test_notebooks.py checks the result.
"""

from __future__ import annotations

import sys

import nbformat


def tidy(path: str) -> bool:
    """Remove the ``execution`` timing metadata of every cell of the notebook at ``path``; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = [cell.metadata.pop("execution", None) is not None for cell in nb.cells]
    if any(changed):
        nbformat.write(nb, path)
    return any(changed)


if __name__ == "__main__":
    for name in sys.argv[1:]:
        print(f"{name}: {'tidied' if tidy(name) else 'already tidy'}")
