#!/usr/bin/env bash
# Idempotent set-up for the Node.js Testcontainers module's tests
# (tests/product/test_testcontainers.py): its npm dependencies, exactly as
# testcontainers-node/package-lock.json locks them (npm ci), into
# testcontainers-node/node_modules (git-ignored). Installs again only when the lock changed.
# Without npm it says how to install it and exits 0, so the rest of the suite still runs
# (those tests then skip, or fail under CI).
# Usage: bash tools/setup-testcontainers-node.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$HERE/../testcontainers-node"

if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
setup-testcontainers-node: npm not found; the Node.js Testcontainers tests will skip (or fail
under CI). To install:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y nodejs npm
  then:           bash tools/setup-testcontainers-node.sh
MSG
    exit 0
fi

# shellcheck source=npm-locked.sh
. "$HERE/npm-locked.sh"
npm_locked setup-testcontainers-node "$MODULE" "testcontainers-node"
[ "$NPM_LOCKED_FRESH" = 1 ] || exit 0
echo "setup-testcontainers-node: $(cd "$MODULE" && node -p 'require("./node_modules/testcontainers/package.json").version' | sed 's/^/testcontainers /') installed"
