#!/usr/bin/env bash
# Idempotent set-up for the spec lint test (tests/process/test_spectral.py): Stoplight
# Spectral (pinned) from the npm registry into tools/.spectral (git-ignored).
# Without npm it says how to install it and exits 0, so the rest of the suite still runs
# (the lint test then skips, or fails under CI).
# Usage: bash tools/setup-spectral.sh
set -euo pipefail

SPECTRAL_VERSION="6.16.3"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SPECTRAL_DIR="$HERE/.spectral"
SPECTRAL_BIN="$SPECTRAL_DIR/node_modules/.bin/spectral"

if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
setup-spectral: npm not found; the spec lint test will skip (or fail under CI). To install:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y nodejs npm
  then:           bash tools/setup-spectral.sh
MSG
    exit 0
fi

# shellcheck source=npm-pinned.sh
. "$HERE/npm-pinned.sh"
npm_pinned setup-spectral @stoplight/spectral-cli "$SPECTRAL_VERSION" "$SPECTRAL_DIR" "$SPECTRAL_BIN"
