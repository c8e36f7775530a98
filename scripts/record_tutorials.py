"""Re-record the LLM runs the tutorials replay, then re-execute them from the new recordings.

    python scripts/record_tutorials.py                       # every notebook that replays a recording
    python scripts/record_tutorials.py tutorials/02_the_sage_loop.ipynb

For each notebook: run it live with ``$SAGE_NB_RECORD=1`` (``recorded_llm`` then runs the model and writes its
recording anew; minutes per notebook on 2 cores), run it again without (every LLM reply now replayed, which is what
the stored outputs show and what CI checks), and drop the cells' timestamps. Run it after changing a prompt, a schema
or anything else that changes what the LLM is asked; the replay stops with ``ReplayMissing`` until you do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: The notebooks whose LLM calls are recorded (``recorded_llm`` in a code cell).
RECORDED = (
    "tutorials/02_the_sage_loop.ipynb",
    "tutorials/03_scoring_explanations.ipynb",
    "tutorials/05_reading_and_writing.ipynb",
    "notebooks/explain_batch.ipynb",
)


def execute(path: Path, record: bool) -> float:
    """Execute ``path`` in place (recording its LLM calls anew when ``record``); the wall time in seconds."""
    env = dict(os.environ, SAGE_NB_RECORD="1" if record else "0")
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute", "--inplace",
         "--ExecutePreprocessor.timeout=3600", str(path)],
        check=True, env=env, cwd=path.parent,
    )  # fmt: skip
    return time.perf_counter() - start


def main(names: list[str]) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from tidy_notebooks import tidy

    for name in names or RECORDED:
        path = (ROOT / name).resolve()
        live = execute(path, record=True)
        replayed = execute(path, record=False)
        tidy(str(path))
        print(f"{name}: recorded live in {live / 60:.1f} min, replayed in {replayed / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
