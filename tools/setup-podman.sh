#!/usr/bin/env bash
# Idempotent set-up for the container image test (tests/product/test_container.py):
# podman, runc and mmdebstrap from Debian's packages (container/build.sh builds the base
# image from Debian packages with mmdebstrap, since no image registry need be reachable).
# Installs them when run as root with apt-get; otherwise says how, and exits 0 so that the
# rest of the suite still runs (the container test then skips, or fails under CI).
# Usage: bash tools/setup-podman.sh
set -euo pipefail

# What the image build and the test use: runc (crun is refused on some hosts); slirp4netns
# forwards a port published on 127.0.0.1 into the container (the test's network);
# netavark, aardvark-dns and iptables are podman's own bridge networks; catatonit its --init.
PACKAGES=(podman runc mmdebstrap slirp4netns netavark aardvark-dns iptables catatonit uidmap)

missing=()
for tool in podman runc mmdebstrap slirp4netns; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "setup-podman: podman $(podman --version | awk '{print $3}'), runc, mmdebstrap and slirp4netns present"
    exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-podman: ${missing[*]} missing: installing ${PACKAGES[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y --no-install-recommends "${PACKAGES[@]}"; then
        apt-get update
        apt-get install -y --no-install-recommends "${PACKAGES[@]}"
    fi
    echo "setup-podman: podman $(podman --version | awk '{print $3}') installed"
    exit 0
fi

cat >&2 <<MSG
setup-podman: ${missing[*]} missing and this script cannot install them (not root or no apt-get);
the container image test will skip (or fail under CI). To install by hand:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}
  Fedora:         sudo dnf install -y podman runc mmdebstrap slirp4netns
  (container/build.sh needs podman and runc; mmdebstrap builds the Debian base image.)
MSG
exit 0
