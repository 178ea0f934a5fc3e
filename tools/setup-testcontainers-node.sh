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
STAMP="$MODULE/node_modules/.package-lock.sha256"

if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
setup-testcontainers-node: npm not found; the Node.js Testcontainers tests will skip (or fail
under CI). To install:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y nodejs npm
  then:           bash tools/setup-testcontainers-node.sh
MSG
    exit 0
fi

wanted="$(sha256sum "$MODULE/package-lock.json" | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
    echo "setup-testcontainers-node: testcontainers-node's dependencies already installed"
    exit 0
fi
echo "setup-testcontainers-node: installing testcontainers-node's locked dependencies (npm ci)"
(cd "$MODULE" && npm ci --no-audit --no-fund --loglevel=error)
echo "$wanted" > "$STAMP"
echo "setup-testcontainers-node: $(cd "$MODULE" && node -p 'require("./node_modules/testcontainers/package.json").version' | sed 's/^/testcontainers /') installed"
