#!/usr/bin/env bash
# Idempotent set-up for the docs browser test (tests/control/test_docs_browser.py):
# Chromium from Debian's packages at /usr/bin/chromium, which Playwright (a test
# dependency in pyproject.toml) drives. Playwright's own browser download is never used.
# When Chromium is missing and this script cannot install it (not root, no apt-get), it
# says how and exits 0, so the rest of the suite still runs (the browser test then skips,
# or fails under CI).
# Usage: bash tools/setup-browser.sh
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) present at $CHROMIUM"
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-browser: installing chromium with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends chromium fonts-liberation; then
        apt-get update
        apt-get install -y --no-install-recommends chromium fonts-liberation
    fi
    [ -x "$CHROMIUM" ]
    echo "setup-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) installed at $CHROMIUM"
    exit 0
fi

cat >&2 <<'MSG'
setup-browser: /usr/bin/chromium is missing and this script cannot install it (not root or
no apt-get); the docs browser test will skip (or fail under CI). To install:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y chromium
MSG
exit 0
