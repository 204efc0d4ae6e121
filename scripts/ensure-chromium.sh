#!/bin/sh
# Make sure the Playwright tests have a Chromium to drive.
#
# `playwright install` downloads browsers from a CDN, which our machines cannot
# reach; Debian's chromium package works with Playwright. Order of preference:
#   1. $PORTAL_CHROMIUM, if set (tests/e2e/conftest.py launches that binary);
#   2. Debian's Chromium, /usr/lib/chromium/chromium (installed here if missing
#      and we may use apt-get);
#   3. Playwright's own browser (`playwright install chromium`, needs internet).
set -eu
if [ -n "${PORTAL_CHROMIUM:-}" ]; then
    [ -x "$PORTAL_CHROMIUM" ] || { echo "PORTAL_CHROMIUM=$PORTAL_CHROMIUM is not executable" >&2; exit 1; }
    exit 0
fi
[ -x /usr/lib/chromium/chromium ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "Installing Debian's chromium package for the browser tests..."
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    exit 0
fi
echo "No system Chromium; trying Playwright's own browser download."
"${VENV:-.venv}/bin/python" -m playwright install chromium
