#!/usr/bin/env bash
# Sets up (if needed) and runs every test: the fast suite, the slow suite, then the tutorials under nbval.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install_browser.sh
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export SAGE_NB_BROWSER_REQUIRED=1  # install_browser.sh installed chromium: the browser tests must not skip
lint-imports  # the layers of docs/architecture.md: no module imports from a layer above its own
python -m pytest -q "$@"
python -m pytest -q -m "slow and not local_agent" "$@"
# a notebook cell may train a model (tutorial 04): allow it longer than a test
python -m pytest -q --timeout 1800 --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider tutorials/ notebooks/
