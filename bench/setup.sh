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

# shellcheck source=../tools/npm-pinned.sh
. "$HERE/../tools/npm-pinned.sh"
npm_pinned setup @stoplight/prism-cli "$PRISM_VERSION" "$PRISM_DIR" "$PRISM_BIN"

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
