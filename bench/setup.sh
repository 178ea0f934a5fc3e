#!/usr/bin/env bash
# Idempotent set-up for the benchmark suite (issue 5).
#  - installs Stoplight Prism (pinned) from the npm registry into bench/.prism
#  - makes sure wrk (Debian package) is on PATH
# Usage: bash bench/setup.sh
set -euo pipefail

PRISM_VERSION="5.16.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PRISM_DIR="$HERE/.prism"
PRISM_BIN="$PRISM_DIR/node_modules/.bin/prism"

# ---------------------------------------------------------------- Prism ----
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found; install Node.js >= 18 and npm (e.g. 'apt-get install -y nodejs npm')" >&2
    exit 1
fi

have_prism_version=""
if [ -x "$PRISM_BIN" ]; then
    have_prism_version="$("$PRISM_BIN" --version 2>/dev/null | tail -n1 | tr -d '[:space:]' || true)"
fi
if [ "$have_prism_version" = "$PRISM_VERSION" ]; then
    echo "setup: prism $PRISM_VERSION already installed in $PRISM_DIR"
else
    echo "setup: installing @stoplight/prism-cli@$PRISM_VERSION into $PRISM_DIR"
    mkdir -p "$PRISM_DIR"
    npm install --prefix "$PRISM_DIR" --no-audit --no-fund --loglevel=error --save-exact \
        "@stoplight/prism-cli@$PRISM_VERSION"
    "$PRISM_BIN" --version >/dev/null
    echo "setup: prism $("$PRISM_BIN" --version | tail -n1) installed"
fi

# ------------------------------------------------------------------ wrk ----
if command -v wrk >/dev/null 2>&1; then
    echo "setup: wrk present at $(command -v wrk)"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing wrk with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y wrk; then
        apt-get update
        apt-get install -y wrk
    fi
    command -v wrk >/dev/null
    echo "setup: wrk installed at $(command -v wrk)"
else
    cat >&2 <<'MSG'
setup: wrk is missing and this script cannot install it (not root or no apt-get).
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y wrk
  Fedora:         sudo dnf install -y wrk
  macOS:          brew install wrk
  (any: build from https://github.com/wg/wrk with 'make', put 'wrk' on PATH)
MSG
    exit 1
fi

# -------------------------------------------------------------- taskset ----
if ! command -v taskset >/dev/null 2>&1; then
    echo "setup: note: 'taskset' (util-linux) not found; servers and wrk will not be pinned to cores" >&2
fi
echo "setup: done"
