# Sourced by bench/setup.sh and tools/setup-*.sh: one pinned npm package in a folder of its own.
#   npm_pinned LABEL PACKAGE VERSION DIR BIN
# installs PACKAGE@VERSION into DIR unless BIN (its executable there) already says VERSION.
# The caller checks that npm is there (what to do without it is the caller's call).
npm_pinned() {
    local label="$1" package="$2" version="$3" dir="$4" bin="$5" have=""
    if [ -x "$bin" ]; then
        have="$("$bin" --version 2>/dev/null | tail -n1 | tr -d '[:space:]' || true)"
    fi
    if [ "$have" = "$version" ]; then
        echo "$label: $package $version already installed in $dir"
        return 0
    fi
    echo "$label: installing $package@$version into $dir"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact "$package@$version"
    echo "$label: $package $("$bin" --version | tail -n1) installed"
}
