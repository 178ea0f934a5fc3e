#!/usr/bin/env bash
# Idempotent set-up for the benchmark suite.
#  - installs Stoplight Prism (pinned) from the npm registry into bench/.prism
#  - installs WireMock (pinned; the npm package bundles the standalone jar) into bench/.wiremock
#    (it runs on java, 11 or later)
#  - makes sure wrk (Debian package) is on PATH
# Usage: bash bench/setup.sh
set -euo pipefail

PRISM_VERSION="5.16.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PRISM_DIR="$HERE/.prism"
PRISM_BIN="$PRISM_DIR/node_modules/.bin/prism"
WIREMOCK_VERSION="3.13.2"
WIREMOCK_DIR="$HERE/.wiremock"

# ---------------------------------------------------------------- Prism ----
if ! command -v npm >/dev/null 2>&1; then
    echo "setup: npm not found; install Node.js >= 18 and npm (e.g. 'apt-get install -y nodejs npm')" >&2
    exit 1
fi

# shellcheck source=../tools/npm-pinned.sh
. "$HERE/../tools/npm-pinned.sh"
npm_pinned setup @stoplight/prism-cli "$PRISM_VERSION" "$PRISM_DIR" "$PRISM_BIN"

# ------------------------------------------------------------- WireMock ----
npm_pinned setup wiremock "$WIREMOCK_VERSION" "$WIREMOCK_DIR" "$WIREMOCK_DIR/node_modules/.bin/wiremock"
if ! command -v java >/dev/null 2>&1; then
    echo "setup: note: java not found; WireMock will be skipped (Debian: apt-get install -y openjdk-17-jre-headless)" >&2
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

# --------------------------------------------------- py-spy (bench extra) ----
VENV_BIN="$HERE/../.venv/bin"
if [ -x "$VENV_BIN/python" ] && [ ! -x "$VENV_BIN/py-spy" ]; then
    echo "setup: installing the bench extra (py-spy, for bench/profiling.py) into .venv"
    "$VENV_BIN/python" -m pip install --quiet --disable-pip-version-check \
        -c "$HERE/../constraints.txt" "py-spy"
fi

# -------------------------------------------------------------- taskset ----
if ! command -v taskset >/dev/null 2>&1; then
    echo "setup: note: 'taskset' (util-linux) not found; servers and wrk will not be pinned to cores" >&2
fi
echo "setup: done"
