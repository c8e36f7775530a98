"""Static checks of the committed notebooks: small, executed, and opening with what the learner needs."""

import ast
import importlib
import json
import runpy
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "tutorials").glob("*.ipynb")) + sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_small(path):
    assert path.stat().st_size <= 3_000_000, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_keeps_no_execution_timestamps(path):
    """Re-running a notebook changes only what it shows (tidy with scripts/tidy_notebooks.py)."""
    timed = [i for i, cell in enumerate(nbformat.read(path, as_version=4).cells) if "execution" in cell.metadata]
    assert not timed, f"cells {timed} keep execution timestamps: python scripts/tidy_notebooks.py {path.name}"


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if p.parent.name == "tutorials"], ids=lambda p: p.name)
def test_tutorial_is_stored_executed_and_says_what_it_needs(path):
    nb = json.loads(path.read_text())
    first = "".join(nb["cells"][0]["source"])
    assert "What you need" in first
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert code and all(c.get("execution_count") for c in code), "store tutorials executed (nbval compares outputs)"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


# -- notebooks/: templates a researcher copies, run headless by papermill --------------------------------------------
@pytest.mark.parametrize("path", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_notebook_template_opens_with_what_it_needs_then_its_parameters(path):
    """Every template: 'What you need' first, then one code cell tagged `parameters` (papermill) before any other code,
    holding only assignments (so papermill's injected cell can override each one); no stored error."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[0].cell_type == "markdown" and "What you need" in nb.cells[0].source
    code = [c for c in nb.cells if c.cell_type == "code"]
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0] is code[0], "one `parameters` cell, the first code cell"
    body = ast.parse(tagged[0].source).body
    assert body and all(isinstance(node, ast.Assign | ast.AnnAssign) for node in body), "only assignments"
    assert not any(o.get("output_type") == "error" for c in code for o in c.get("outputs", []))


# -- templates for real models: stored without outputs, never run by nbval -------------------------------------------
TEMPLATES = [
    ROOT / "notebooks" / name for name in runpy.run_path(str(ROOT / "notebooks" / "conftest.py"))["collect_ignore"]
]


def _code_cells(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_template_parses_and_opens_with_what_it_needs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    first = nb.cells[0]
    assert first.cell_type == "markdown" and "What you need" in first.source
    for need in ("GPU", "NEURONPEDIA_API_KEY", "internet", "OPENAI_API_KEY", "OpenAI-compatible"):
        assert need in first.source, need
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "store templates without outputs"


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: p.name)
def test_every_name_a_template_imports_exists(path):
    imported = []
    for source in _code_cells(path):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                imported += [(alias.name, None) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                imported += [(node.module, alias.name) for alias in node.names]
    assert imported
    for module_name, name in imported:
        module = importlib.import_module(module_name)
        if name is not None and not hasattr(module, name):
            importlib.import_module(f"{module_name}.{name}")  # a submodule, or ModuleNotFoundError


def test_ci_nbval_run_leaves_the_templates_out():
    """Collect what scripts/test.sh's nbval step runs: the templates are not among it, the other notebooks are."""
    nbval_step = [line for line in (ROOT / "scripts" / "test.sh").read_text().splitlines() if "--nbval" in line]
    assert len(nbval_step) == 1 and nbval_step[0].rstrip().endswith("tutorials/ notebooks/")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "--nbval-lax", "-p", "no:cacheprovider",
         "tutorials/", "notebooks/"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    collected = {line.split("::")[0] for line in run.stdout.splitlines() if "::" in line}
    run_by_nbval = [p for p in sorted((ROOT / "notebooks").glob("*.ipynb")) if p not in TEMPLATES]
    assert {"explore_feature.ipynb", "explain_batch.ipynb"} <= {p.name for p in run_by_nbval}
    assert all(str(p.relative_to(ROOT)) in collected for p in run_by_nbval)
    assert not any(str(t.relative_to(ROOT)) in collected for t in TEMPLATES)


# -- a template run headless with papermill, its parameters overridden -----------------------------------------------
@pytest.mark.slow
def test_explore_template_runs_headless_with_papermill(tmp_path):
    """papermill injects new parameters after the tagged cell; the template then explains the feature it was given."""
    papermill = pytest.importorskip("papermill")
    out = tmp_path / "explore_743.ipynb"
    papermill.execute_notebook(
        str(ROOT / "notebooks" / "explore_feature.ipynb"), str(out), kernel_name="python3", cwd=str(ROOT),
        parameters={"FEATURE": 743, "PROBE_TEXTS": ["See you on Monday at noon."]}, progress_bar=False,
    )  # fmt: skip
    nb = nbformat.read(out, as_version=4)
    injected = [i for i, c in enumerate(nb.cells) if "injected-parameters" in c.metadata.get("tags", [])]
    tagged = [i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and injected[0] == tagged[0] + 1
    text = "\n".join(
        o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) + str(o.get("data", {}).get("text/html", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )  # fmt: skip
    assert not any(o.get("output_type") == "error" for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "feature 743" in text.lower() and "feature 3552" not in text.lower()  # the given feature, not the default
    assert "Monday" in text  # the given probe text was measured


#: The public namespaces (see ``sage_nb/__init__.py``): notebooks import from these only, never from deeper modules.
PUBLIC_NAMESPACES = {
    "sage_nb", "sage_nb.agent", "sage_nb.causal", "sage_nb.evaluate", "sage_nb.evidence", "sage_nb.exercises",
    "sage_nb.explainers", "sage_nb.llm", "sage_nb.saeexplainer", "sage_nb.viz", "sage_nb.widgets",
}  # fmt: skip


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_import_only_the_public_api(path):
    private = []
    for source in _code_cells(path):
        code = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(code)):
            modules = [node.module] if isinstance(node, ast.ImportFrom) else []
            modules += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            private += [m for m in modules if m and m.startswith("sage_nb") and m not in PUBLIC_NAMESPACES]
    assert not private, f"{path.name} imports private modules: {sorted(set(private))}"


@pytest.mark.parametrize("namespace", sorted(PUBLIC_NAMESPACES))
def test_every_public_name_resolves(namespace):
    module = importlib.import_module(namespace)
    for name in getattr(module, "__all__", []):
        assert getattr(module, name) is not None, f"{namespace}.{name}"


RECORDED = runpy.run_path(str(ROOT / "scripts" / "record_tutorials.py"))["RECORDED"]


@pytest.mark.parametrize("name", RECORDED)
def test_a_recorded_notebook_replays_a_committed_recording_of_the_capable_model(name):
    import re

    from sage_nb.llm.replay import load_records

    path = ROOT / name
    code = "\n".join(_code_cells(path))
    recordings = re.findall(r'recorded_llm\(\s*"([^"]+)"', code) + re.findall(r'^REPLAY = "([^"]+)"', code, re.M)
    assert recordings, f"{name} records no LLM run"
    models = set()
    for relative in recordings:
        records = load_records(path.parent / relative)  # committed next to the notebook
        assert records and all(r["reply"]["ok"] or r["reply"]["error_kind"] for r in records)
        models |= {r["model"] for r in records}
    assert "qwen2.5-coder-1.5b" in models  # the capable model plays the roles the lesson is about
