#!/usr/bin/env bash
# The browser tests (tests/test_browser.py) drive Debian's Chromium with playwright (a test extra, with its own
# driver); no browser is downloaded. Installs chromium with apt when it is missing, and stops if that cannot be done:
# under scripts/test.sh the browser tests must run, never skip.
set -euo pipefail
[ -x /usr/bin/chromium ] && exit 0
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then SUDO="sudo"; fi
if command -v apt-get >/dev/null && { [ "$(id -u)" -eq 0 ] || [ -n "$SUDO" ]; }; then
    $SUDO apt-get update -q && $SUDO apt-get install -y -q --no-install-recommends chromium
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "install_browser.sh: /usr/bin/chromium is missing and could not be installed with apt-get;" \
         "install Debian's chromium package (the browser tests need it)" >&2
    exit 1
fi
