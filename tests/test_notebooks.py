"""Static checks of the committed notebooks: small, executed, and opening with what the learner needs."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small(path):
    assert path.stat().st_size <= 3_000_000, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name == "tutorials"], ids=lambda p: p.name)
def test_tutorial_is_stored_executed_and_says_what_it_needs(path):
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert "What you need" in first
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), "store tutorials executed (nbval compares outputs)"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))
