"""The container image (container/Dockerfile), built by container/build.sh and run with podman.

It is run as a team not on Python would: the port published on loopback only, the control
token from EMULATOR_CONTROL_TOKEN, state in a volume on /data, fixtures from a volume on
/fixtures. Skipped, with the reason, where podman cannot build or run containers (the
setup is tools/setup-podman.sh), except under CI, where that fails.

The first build takes a minute or two (the Debian base, the wheelhouse); later ones reuse the
base tarball in ~/.cache/profile-emulator and podman's layer cache, and take seconds.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml

from emulator.server import free_port

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "container" / "build.sh"
IMAGE = "localhost/profile-emulator:latest"
TOKEN = "container-test-token"
# As container/build.sh: runc and cgroupfs (crun and systemd are not to be had everywhere),
# explicit limits (some hosts refuse podman's defaults).
PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager=cgroupfs"]
LIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
# slirp4netns: the published port is forwarded from 127.0.0.1 by a user-mode stack, so no
# bridge or address beyond loopback is set up on the host.
NETWORK = ["--network", "slirp4netns:port_handler=slirp4netns"]
BUILD_TIMEOUT = 1200  # a first build is ~1-2 min here; CI's whole run has 20


def unavailable(reason: str) -> None:
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


@dataclass
class Image:
    name: str
    size: int
    build_seconds: float


@pytest.fixture(scope="module")
def image() -> Image:
    for tool in ("podman", "runc", "slirp4netns"):
        if shutil.which(tool) is None:
            unavailable(
                f"{tool} is not installed (tools/setup-podman.sh installs it with apt-get as root)"
            )
    started = time.monotonic()
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
    size = int(re.search(r"\((\d+) bytes\)", done.stdout).group(1))
    return Image(IMAGE, size, seconds)


@dataclass
class Container:
    name: str
    url: str

    def headers(self, namespace: str) -> dict[str, str]:
        return {"X-Emulator-Namespace": namespace}


def run(
    image: Image,
    *args: str,
    volume: str | None = None,
    token: str | None = TOKEN,
    fixtures: Path | None = None,
) -> Container:
    """podman run -d, the port on 127.0.0.1 only; returns once the emulator is healthy."""
    name = f"pe-test-{uuid.uuid4().hex[:10]}"
    port = free_port()
    options = [*NETWORK, "-p", f"127.0.0.1:{port}:8080", *LIMITS]
    if token is not None:
        options += ["-e", f"EMULATOR_CONTROL_TOKEN={token}"]
    if volume is not None:
        options += ["-v", f"{volume}:/data"]
    if fixtures is not None:
        options += ["-v", f"{fixtures}:/fixtures:ro"]
    podman("run", "-d", "--name", name, *options, image.name, *args)
    container = Container(name, f"http://127.0.0.1:{port}")
    wait_healthy(container)
    return container


def wait_healthy(container: Container, seconds: float = 90) -> float:
    started = time.monotonic()
    while True:
        try:
            answer = httpx.get(f"{container.url}/_emulator/health", timeout=2)
            if answer.status_code == 200:
                assert answer.json() == {"status": "ok"}
                return time.monotonic() - started
        except httpx.TransportError:
            pass
        state = podman("inspect", "--format", "{{.State.Status}}", container.name).stdout.strip()
        if state not in ("running", "created", "configured"):
            logs = podman("logs", container.name, check=False)
            pytest.fail(f"container {container.name} is {state}:\n{logs.stdout}{logs.stderr}")
        if time.monotonic() - started > seconds:
            pytest.fail(f"{container.url} not healthy after {seconds} s")
        time.sleep(0.2)


def remove(container: Container) -> None:
    podman("rm", "--force", "--volumes", "--time", "0", container.name, check=False)


@pytest.fixture(scope="module")
def emulator(image: Image) -> Iterator[Container]:
    container = run(image)
    try:
        yield container
    finally:
        remove(container)


@pytest.fixture
def volume() -> Iterator[str]:
    name = f"pe-test-data-{uuid.uuid4().hex[:10]}"
    podman("volume", "create", name)
    try:
        yield name
    finally:
        podman("volume", "rm", "--force", name, check=False)


def occ_token(client: httpx.Client, key: str = "emulator-app-key") -> httpx.Response:
    return client.post(
        "/ccadmin/v1/login",
        headers={"Authorization": f"Bearer {key}"},
        data={"grant_type": "client_credentials"},
    )


@contextlib.contextmanager
def occ(container: Container, namespace: str) -> Iterator[httpx.Client]:
    """A client of the OCC Admin API in that namespace, logged in with the application key."""
    with httpx.Client(
        base_url=container.url, headers=container.headers(namespace), timeout=10
    ) as client:
        login = occ_token(client)
        assert login.status_code == 200, login.text
        client.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        yield client


# ------------------------------------------------------------------------------ tests ----


def test_image_is_slim(image: Image) -> None:
    print(f"image {image.name}: {image.size / 1e6:.1f} MB, built in {image.build_seconds:.1f} s")
    assert image.size < 300e6
    config = podman(
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Healthcheck}}",
        image.name,
    ).stdout
    user, entrypoint, healthcheck = config.strip().split("|")
    assert user == "10001:10001"
    assert entrypoint.startswith('["profile-emulator","serve","--host","0.0.0.0","--port","8080"')
    assert "/_emulator/health" in healthcheck


def test_vendor_calls_answer_over_the_published_port(emulator: Container) -> None:
    namespace = f"c-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        base_url=emulator.url, headers=emulator.headers(namespace), timeout=10
    ) as loyalty:
        session = loyalty.post(
            "/client/users/1000000001/sessions",
            headers={"X-Identifier-Type": "ACCOUNT_ID"},
            json={"correlationId": "c-1", "channel": "WEBSITE"},
        )
        assert session.status_code in (200, 201), session.text
        update = loyalty.put(
            "/client/users/c-1/profile",
            json={
                "firstName": "Ada",
                "lastName": "Lovelace",
                "dateOfBirth": "1985-12-10",
                "gender": "F",
                "email": "ada@example.com",
                "postalZipCode": "H0H 0H0",
            },
        )
        assert update.status_code == 200, update.text
        assert update.json() == {"debugMessage": "Profile Updated"}
    with occ(emulator, namespace) as commerce:
        profile = commerce.get("/ccadmin/v1/profiles/se-570031")
        assert profile.status_code == 200, profile.text
        assert profile.json()["id"] == "se-570031"


def test_the_control_api_wants_the_token(emulator: Container) -> None:
    namespace = f"c-{uuid.uuid4().hex[:8]}"
    with httpx.Client(
        base_url=emulator.url, headers=emulator.headers(namespace), timeout=10
    ) as client:
        assert client.get("/_emulator/requests").status_code == 401
        assert (
            client.get(
                "/_emulator/requests", headers={"Authorization": "Bearer not-the-token"}
            ).status_code
            == 401
        )
        allowed = client.get("/_emulator/requests", headers={"Authorization": f"Bearer {TOKEN}"})
        assert allowed.status_code == 200, allowed.text
        assert (
            client.get("/_emulator/errors", headers={"X-Emulator-Token": TOKEN}).status_code == 200
        )
        assert client.get("/_emulator/health").status_code == 200  # health needs none


def test_it_runs_as_a_user_other_than_root(emulator: Container) -> None:
    uid = podman("exec", emulator.name, "id", "-u").stdout.strip()
    assert uid != "0"
    assert uid == "10001"


def test_its_healthcheck_passes(emulator: Container) -> None:
    check = podman("healthcheck", "run", emulator.name, check=False)
    assert check.returncode == 0, f"{check.stdout}{quiet(check.stderr)}"
    health = podman("inspect", "--format", "{{.State.Health.Status}}", emulator.name).stdout.strip()
    assert health == "healthy"


def test_state_in_the_data_volume_outlives_the_container(image: Image, volume: str) -> None:
    namespace = f"c-{uuid.uuid4().hex[:8]}"
    first = run(image, volume=volume)
    try:
        with occ(first, namespace) as commerce:
            created = commerce.post(
                "/ccadmin/v1/profiles",
                json={"firstName": "Jack", "lastName": "Black", "email": "jack@example.com"},
            )
            assert created.status_code == 201, created.text
            profile_id = created.json()["id"]
        # SIGTERM (podman stop): the server flushes state and exits 0 by itself; had podman
        # to kill it after its 10 s, the exit status would be 137.
        podman("stop", "--time", "10", first.name)
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", first.name).stdout.strip()
        assert exit_code == "0", podman("logs", first.name).stderr
        podman("start", first.name)
        wait_healthy(first)
        with occ(first, namespace) as commerce:
            again = commerce.get(f"/ccadmin/v1/profiles/{profile_id}")
            assert again.status_code == 200, again.text
            assert again.json()["email"] == "jack@example.com"
    finally:
        remove(first)
    second = run(image, volume=volume)  # a new container on the same volume
    try:
        with occ(second, namespace) as commerce:
            kept = commerce.get(f"/ccadmin/v1/profiles/{profile_id}")
            assert kept.status_code == 200, kept.text
            assert kept.json()["lastName"] == "Black"
    finally:
        remove(second)


def test_a_fixtures_volume_replaces_the_packaged_fixtures(image: Image, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    commerce_yaml = fixtures / "commerce.yaml"
    commerce_yaml.write_text(
        commerce_yaml.read_text().replace("key: emulator-app-key", "key: team-own-key")
    )
    for path in [tmp_path, *fixtures.rglob("*")]:  # readable by the image's user
        path.chmod(0o755 if path.is_dir() else 0o644)
    tmp_path.chmod(0o755)
    container = run(image, fixtures=fixtures)
    try:
        with httpx.Client(base_url=container.url, timeout=10) as client:
            assert occ_token(client, "team-own-key").status_code == 200
            assert occ_token(client, "emulator-app-key").status_code == 401
    finally:
        remove(container)


def test_the_compose_file_waits_for_a_healthy_emulator(emulator: Container) -> None:
    compose = yaml.safe_load((ROOT / "container" / "compose.yaml").read_text())
    service, job = compose["services"]["emulator"], compose["services"]["tests"]
    assert "EMULATOR_CONTROL_TOKEN" in service["environment"]
    assert job["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    assert "--emulator-url http://emulator:8080" in " ".join(job["command"])
    assert "--emulator-token" in " ".join(job["command"])
    kind, *command = service["healthcheck"]["test"]
    assert kind == "CMD"
    check = podman("exec", emulator.name, *command, check=False)  # its check works in the image
    assert check.returncode == 0, check.stderr


def test_the_image_holds_its_specs_parse_cache(emulator: Container) -> None:
    """Built into the image (the container writes none), so a start reads JSON, not YAML."""
    check = (
        "from emulator import resources, specs\n"
        "paths = sorted(resources.OPENAPI_DIR.glob('*.yaml'))\n"
        "print(len(paths), all(specs.cache_path(p).read_bytes().partition(b'\\n')[0]"
        " == specs.cache_key(p.read_bytes()) for p in paths))"
    )
    done = podman("exec", emulator.name, "python", "-c", check, check=False)
    assert (done.returncode, done.stdout.split()) == (0, ["3", "True"]), done.stderr


def test_arguments_pass_through_to_serve(image: Image) -> None:
    done = podman("run", "--rm", "--network", "none", *LIMITS, image.name, "--help")
    assert "--control-token" in done.stdout and "--data-file" in done.stdout


def test_without_a_token_it_refuses_to_start_unless_told_insecure(image: Image) -> None:
    options = podman("run", "--rm", "--network", "none", *LIMITS, image.name, "--help").stdout
    if "--insecure-control" not in options:
        pytest.skip("profile-emulator serve has no --insecure-control yet (it warns only)")
    name = f"pe-test-{uuid.uuid4().hex[:10]}"
    try:
        refused = podman(
            "run", "--name", name, "--network", "none", *LIMITS, image.name, timeout=60, check=False
        )
        assert refused.returncode != 0
        assert "--control-token" in refused.stderr or "EMULATOR_CONTROL_TOKEN" in refused.stderr
    finally:
        podman("rm", "--force", "--volumes", "--time", "0", name, check=False)
    insecure = run(image, "--insecure-control", token=None)
    try:
        assert httpx.get(f"{insecure.url}/_emulator/requests", timeout=10).status_code == 200
    finally:
        remove(insecure)
