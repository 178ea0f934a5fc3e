#!/usr/bin/env bash
# Idempotent set-up for the client generators' test (tests/unit/test_client_generators.py):
# openapi-typescript (and the TypeScript compiler it needs), exactly as
# tools/openapi-typescript/package-lock.json locks them (npm ci), into
# tools/openapi-typescript/node_modules (git-ignored). Installs again only when the lock changed.
# Without npm it says how to install it and exits 0, so the rest of the suite still runs
# (that test then skips, or fails under CI).
# Usage: bash tools/setup-openapi-typescript.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODULE="$HERE/openapi-typescript"

if ! command -v npm >/dev/null 2>&1; then
    cat >&2 <<MSG
setup-openapi-typescript: npm not found; the client generators' test will skip (or fail under
CI). To install:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y nodejs npm
  then:           bash tools/setup-openapi-typescript.sh
MSG
    exit 0
fi

# shellcheck source=npm-locked.sh
. "$HERE/npm-locked.sh"
npm_locked setup-openapi-typescript "$MODULE" "openapi-typescript"
[ "$NPM_LOCKED_FRESH" = 1 ] || exit 0
echo "setup-openapi-typescript: openapi-typescript $("$MODULE/node_modules/.bin/openapi-typescript" --version | tail -n1) installed"
