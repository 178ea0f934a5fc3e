# Sourced by tools/setup-openapi-typescript.sh and tools/setup-testcontainers-node.sh: a
# folder's npm dependencies exactly as its package-lock.json locks them.
#   npm_locked LABEL DIR WHAT
# runs `npm ci` in DIR unless the lock is the one last installed there (a stamp in
# DIR/node_modules); WHAT names the dependencies in its messages. Sets NPM_LOCKED_FRESH to 1
# when it installed them, 0 when they were there already. A failed `npm ci` fails the caller
# (set -e). The caller checks that npm is there.
npm_locked() {
    local label="$1" dir="$2" what="$3" stamp="$2/node_modules/.package-lock.sha256" wanted
    wanted="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
        echo "$label: $what already installed"
        NPM_LOCKED_FRESH=0
        return 0
    fi
    echo "$label: installing $what's locked dependencies (npm ci)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    echo "$wanted" > "$stamp"
    NPM_LOCKED_FRESH=1
}
