"""Podman for the tests that build and run the container image (tests/product; the fixtures
are in tests/product/conftest.py): the flags this host needs, the image container/build.sh
builds, and podman's Docker-compatible API on a socket of the tests' own, for Testcontainers.

Where podman cannot build or run containers the tests skip with the reason (the set-up is
tools/setup-podman.sh), except under CI, where that fails.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "container" / "build.sh"
IMAGE = "localhost/profile-emulator:latest"
# As container/build.sh: runc and cgroupfs (crun and systemd are not to be had everywhere),
# explicit limits (some hosts refuse podman's defaults).
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
# slirp4netns: the published port is forwarded from 127.0.0.1 by a user-mode stack, so no
# bridge or address beyond loopback is set up on the host.
NETWORK = ["--network", "slirp4netns:port_handler=slirp4netns"]
BUILD_TIMEOUT = 1200  # a first build is ~1-2 min here; CI's whole run has 90
CACHE = Path(
    os.environ.get("PROFILE_EMULATOR_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "profile-emulator"
)


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI"):
        pytest.fail(f"CI: {reason}", pytrace=False)
    pytest.skip(reason)


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*PODMAN, *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(
            f"podman {' '.join(args)} exited {done.returncode}:\n"
            f"{done.stdout}\n{quiet(done.stderr)}"
        )
    return done


def quiet(stderr: str) -> str:
    """podman's stderr less its complaint that no systemd times the health checks."""
    return "\n".join(line for line in stderr.splitlines() if "systemd" not in line)


def _pings(path: Path) -> bool:
    """Whether the Docker-compatible API answers `GET /_ping` on the socket at ``path`` (a
    socket of its own, closed whatever happens: a refused connection leaves none open)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(5)
        try:
            sock.connect(str(path))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: podman\r\n\r\n")
            answer = b""
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            return False
    return answer.startswith(b"HTTP/1.") and answer.endswith(b"\r\n\r\nOK")


@dataclass
class Image:
    name: str
    size: int
    build_seconds: float


def build_image() -> Image:
    """container/build.sh --tag IMAGE, one build at a time on this machine (a second waits,
    then finds podman's layer cache warm); skips (fails under CI) where podman cannot."""
    for tool in ("podman", "runc", "slirp4netns"):
        if shutil.which(tool) is None:
            unavailable(
                f"{tool} is not installed (tools/setup-podman.sh installs it with apt-get as root)"
            )
    CACHE.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with (CACHE / "tests-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = subprocess.run(
                ["bash", str(BUILD), "--tag", IMAGE],
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            pytest.fail(f"container/build.sh took over {BUILD_TIMEOUT} s")
    seconds = time.monotonic() - started
    if done.returncode == 3:  # the script's "cannot build or run containers here"
        unavailable(done.stderr.strip().splitlines()[-1])
    assert done.returncode == 0, f"container/build.sh failed:\n{done.stdout}\n{done.stderr}"
    print(done.stdout)
    size = re.search(r"\((\d+) bytes\)", done.stdout)
    assert size, done.stdout
    return Image(IMAGE, int(size.group(1)), seconds)


# ------------------------------------------------- the Docker-compatible API ----

# What every container made through the API gets on this host: the limits above (the API's
# callers, Testcontainers among them, ask for none, and this host refuses podman's default
# open-files limit) and slirp4netns's own port forwarding (with NETWORK_MODE below).
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]

[engine]
network_cmd_options = ["port_handler=slirp4netns"]
"""
# The network mode the tests ask Testcontainers for: podman's default for a container made
# through the API is its bridge, which these tests do not set up (see NETWORK).
NETWORK_MODE = "slirp4netns"
LABEL = "profile-emulator.test-run"  # every container a test run makes carries its id


@dataclass
class DockerAPI:
    socket: Path
    run: str  # this run's id: the value of LABEL on each container its tests make

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def environment(self) -> dict[str, str]:
        """What Testcontainers (Python and Node.js) needs here, beside the environment."""
        return {
            "DOCKER_HOST": self.host,
            # Ryuk, the reaper, is an image from a registry this host cannot reach: the tests
            # remove their containers themselves (by LABEL).
            "TESTCONTAINERS_RYUK_DISABLED": "true",
            # This machine looks like a container (/.dockerenv): Testcontainers would reach
            # the containers at the bridge's gateway, not at the port published on loopback.
            "TESTCONTAINERS_HOST_OVERRIDE": "localhost",
            "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
        }

    def leftovers(self) -> list[str]:
        found = podman("ps", "--all", "--quiet", "--filter", f"label={LABEL}={self.run}")
        return found.stdout.split()


@contextlib.contextmanager
def docker_api(folder: Path) -> Iterator[DockerAPI]:
    """`podman system service` on a socket in ``folder``, for as long as the block runs;
    then the containers of this run (by LABEL) are removed and the service is stopped."""
    conf = folder / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    api = DockerAPI(folder / "podman.sock", uuid.uuid4().hex[:12])
    log = (folder / "service.log").open("w")
    service = subprocess.Popen(
        [*PODMAN, "system", "service", "--time=0", api.host],
        env={**os.environ, "CONTAINERS_CONF": str(conf)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # a hang guard: it answers within a second or two
            if service.poll() is not None:
                unavailable(f"podman system service exited: {(folder / 'service.log').read_text()}")
            if _pings(api.socket):
                break
            time.sleep(0.1)
        else:
            pytest.fail("podman system service did not answer on its socket in 30 s")
        yield api
    finally:
        for container in api.leftovers():
            podman("rm", "--force", "--volumes", "--time", "0", container, check=False)
        service.terminate()
        try:
            service.wait(timeout=30)
        except subprocess.TimeoutExpired:
            service.kill()
            service.wait()
        log.close()
