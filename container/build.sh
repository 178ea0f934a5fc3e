#!/usr/bin/env bash
# Build the profile-emulator container image with podman, from nothing but Debian's and
# PyPI's packages (no image registry needed). Idempotent, and quick when nothing changed:
#
#   1. podman, runc, mmdebstrap: installed by tools/setup-podman.sh when missing (as root)
#   2. a Debian bookworm base (mmdebstrap minbase + python3): built once into the cache as a
#      tarball, then `podman import`ed as localhost/profile-emulator-base:<digest>
#   3. a wheelhouse: the dependencies' wheels (cached, at the versions in .venv) and the
#      project's wheel (built afresh from the work tree), with the .venv python
#   4. podman build --network=none (pip installs with --no-index), podman's layer cache reused
#
# Usage: container/build.sh [--tag IMAGE] [--refresh-base]
#   --tag IMAGE       image name (default localhost/profile-emulator:latest, also :VERSION)
#   --refresh-base    rebuild the base tarball (e.g. for Debian security updates)
# Environment: PROFILE_EMULATOR_CACHE (default ~/.cache/profile-emulator),
#   DEBIAN_MIRROR (default http://deb.debian.org/debian), PODMAN (default podman).
# Exit status: 0 built, 3 podman cannot build or run containers here (says why), 1 other errors.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${PROFILE_EMULATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/profile-emulator}"
IMAGE="localhost/profile-emulator:latest"
DEFAULT_IMAGE="$IMAGE"
REFRESH_BASE=0
SUITE=bookworm
SUITE_PYTHON=3.11
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-${MIRROR%/debian}/debian-security}"
# runc (crun is refused on some hosts), cgroupfs (no systemd needed) and explicit limits
# (some hosts refuse the defaults): the same flags as tests/product/test_container.py.
PODMAN=("${PODMAN:-podman}" --runtime runc --cgroup-manager=cgroupfs)
LIMITS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)

while [ $# -gt 0 ]; do
    case "$1" in
        --tag) IMAGE="$2"; shift 2 ;;
        --refresh-base) REFRESH_BASE=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "build.sh: unknown argument $1" >&2; exit 1 ;;
    esac
done

say() { echo "build.sh: $*"; }
# pip, less its warnings about index folders in the host's pip configuration that do not exist
pip() { "$PY" -m pip "$@" --disable-pip-version-check 2> >(grep -v "^WARNING: Location 'file:" >&2); }
cannot() { echo "build.sh: cannot build here: $*" >&2; exit 3; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
T0="$(now)"
mkdir -p "$CACHE"

# ------------------------------------------------------------------ 1. tools ----
need=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null 2>&1 || need+=("$tool"); done
if [ "${#need[@]}" -gt 0 ]; then
    bash "$ROOT/tools/setup-podman.sh"
    for tool in "${need[@]}"; do
        command -v "$tool" >/dev/null 2>&1 || cannot "$tool is not installed (see tools/setup-podman.sh)"
    done
fi
info_err="$("${PODMAN[@]}" info 2>&1 >/dev/null)" || cannot "podman info failed: $info_err"

# -------------------------------------------------------------- 2. base image ----
# The tarball's name carries a digest of what goes into it, so a changed recipe rebuilds it.
MMDEBSTRAP_ARGS=(--variant=minbase --include=python3,python3-venv
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*'
    --dpkgopt='path-exclude=/usr/share/locale/*')
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main"
    "deb $SECURITY_MIRROR $SUITE-security main")
recipe="$(printf '%s\n' "${MMDEBSTRAP_ARGS[@]}" "$SUITE" "${SOURCES[@]}" | sha256sum | cut -c1-12)"
BASE_TAR="$CACHE/base-$SUITE-$recipe.tar"
if [ "$REFRESH_BASE" = 1 ] || [ ! -s "$BASE_TAR" ]; then
    t="$(now)"
    say "building the $SUITE base with mmdebstrap into $BASE_TAR"
    [ "$(id -u)" = 0 ] || cannot "mmdebstrap needs root here (or a ready $BASE_TAR)"
    partial="$BASE_TAR.$$.tmp"
    mmdebstrap --quiet --format=tar "${MMDEBSTRAP_ARGS[@]}" "$SUITE" "$partial" "${SOURCES[@]}" \
        || { rm -f "$partial"; echo "build.sh: mmdebstrap failed" >&2; exit 1; }
    mv "$partial" "$BASE_TAR"
    sha256sum "$BASE_TAR" | cut -c1-12 > "$BASE_TAR.sha"
    say "base tarball built in $(since "$t") ($(du -m "$BASE_TAR" | cut -f1) MB)"
else
    say "reusing $BASE_TAR"
fi
[ -s "$BASE_TAR.sha" ] || sha256sum "$BASE_TAR" | cut -c1-12 > "$BASE_TAR.sha"
BASE_IMAGE="localhost/profile-emulator-base:$SUITE-$(cat "$BASE_TAR.sha")"
if ! "${PODMAN[@]}" image exists "$BASE_IMAGE"; then
    say "importing the base as $BASE_IMAGE"
    "${PODMAN[@]}" import --quiet --change 'CMD ["python3"]' "$BASE_TAR" "$BASE_IMAGE" >/dev/null
fi
# Can this host run a container at all? (Refused runtimes, limits, storage show up here.)
run_err="$("${PODMAN[@]}" run --rm --network=none "${LIMITS[@]}" "$BASE_IMAGE" python3 -c pass 2>&1)" \
    || cannot "podman cannot run a container here: $run_err"

# -------------------------------------------------------------- 3. wheelhouse ----
PY="$ROOT/.venv/bin/python"
if [ ! -x "$PY" ]; then
    say "no .venv yet: creating it as dev.py does"
    (cd "$ROOT" && python3 -c 'import dev; dev.ensure_venv("serve")')
fi
py_version="$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[ "$py_version" = "$SUITE_PYTHON" ] || {
    echo "build.sh: .venv runs Python $py_version but the image's Debian $SUITE has $SUITE_PYTHON:" \
         "its compiled wheels would not install there. Recreate .venv with Python $SUITE_PYTHON." >&2
    exit 1; }

t="$(now)"
# Per run (two builds at once do not mix): the source copy and the build context.
SRC="$(mktemp -d)"
CONTEXT="$(mktemp -d "$CACHE/context.XXXXXX")"
trap 'rm -rf "$SRC" "$CONTEXT"' EXIT
# Build from a copy of the work tree (tracked and new files, nothing ignored): no build/ or
# egg-info left in the checkout, and no stale build/lib from an earlier build in the wheel.
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
        | tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$SRC"
else
    tar -C "$ROOT" --exclude=.venv --exclude=.git --exclude=build --exclude='*.egg-info' -cf - . | tar -xf - -C "$SRC"
fi
# The dependencies at the versions the test suite runs with (.venv), cached by that list.
pip freeze --exclude-editable \
    | grep -E '^[A-Za-z0-9._-]+==' > "$SRC/.constraints.txt" || true
deps_key="$( (cat "$ROOT/pyproject.toml" "$SRC/.constraints.txt"; echo "$py_version") | sha256sum | cut -c1-12)"
DEPS="$CACHE/wheels/deps-$deps_key"
mkdir -p "$CONTEXT/app" "$CONTEXT/deps"
if [ -d "$DEPS" ]; then
    say "reusing the dependency wheels in $DEPS"
    pip wheel --quiet --no-deps -w "$CONTEXT/app" "$SRC"
else
    say "building the wheelhouse (profile-emulator and its dependencies)"
    mkdir -p "$CACHE/wheels"
    fresh="$(mktemp -d "$DEPS.XXXXXX")"
    pip wheel --quiet -c "$SRC/.constraints.txt" -w "$fresh" "$SRC" || { rm -rf "$fresh"; exit 1; }
    mv "$fresh"/profile_emulator-*.whl "$CONTEXT/app/"
    mv -T "$fresh" "$DEPS" 2>/dev/null || rm -rf "$fresh"  # another build got there first
fi
cp -l "$DEPS"/*.whl "$CONTEXT/deps/" 2>/dev/null || cp "$DEPS"/*.whl "$CONTEXT/deps/"
wheel="$(cd "$CONTEXT/app" && ls profile_emulator-*.whl)"
VERSION="$(echo "$wheel" | cut -d- -f2)"
say "wheelhouse ready in $(since "$t"): $wheel and $(ls "$CONTEXT/deps" | wc -l) dependency wheels"

# ------------------------------------------------------------------ 4. image ----
t="$(now)"
say "podman build $IMAGE (base $BASE_IMAGE)"
build=("${PODMAN[@]}" build --quiet --layers --pull=never --network=none --format docker
    "${LIMITS[@]}" --build-arg "BASE=$BASE_IMAGE" --build-arg "VERSION=$VERSION"
    -f "$ROOT/container/Dockerfile")
# The build stage gets a tag too: it keeps that stage's layers (the dependencies installed)
# as a cache when the prune below clears the untagged images of earlier builds.
"${build[@]}" --target build -t localhost/profile-emulator-build:cache "$CONTEXT" >/dev/null
"${build[@]}" -t "$IMAGE" "$CONTEXT" >/dev/null
[ "$IMAGE" != "$DEFAULT_IMAGE" ] || "${PODMAN[@]}" tag "$IMAGE" "localhost/profile-emulator:$VERSION"
for title in profile-emulator profile-emulator-build; do
    "${PODMAN[@]}" image prune --force --filter "label=org.opencontainers.image.title=$title" >/dev/null
done
size="$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$IMAGE")"
say "image built in $(since "$t")"
say "total $(since "$T0")"
echo "image $IMAGE $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }') ($size bytes)"
