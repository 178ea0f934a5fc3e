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
import json
import re
import shlex
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
from tests.podman import IMAGE, LIMITS, NETWORK, Image, podman, quiet

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "container-test-token"


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


def readme_section(heading: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def test_image_is_slim(image: Image) -> None:
    print(f"image {image.name}: {image.size / 1e6:.1f} MB, built in {image.build_seconds:.1f} s")
    assert image.size < 300e6
    said = re.search(r"about\s+(\d+)\s+MB", readme_section("Run it in a container"))
    assert said, "the README gives the image's size"
    assert abs(image.size / 1e6 - int(said.group(1))) <= 0.05 * int(said.group(1)), (
        f"the README says about {said.group(1)} MB; the image is {image.size / 1e6:.0f} MB"
    )
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


def compose_value(text: str, environment: dict[str, str]) -> str:
    """Compose's interpolation of ${NAME:-default} and ${NAME:?message} in a value."""

    def value(found: re.Match[str]) -> str:
        name, kind, rest = found.groups()
        if environment.get(name):
            return environment[name]
        assert kind == ":-", f"compose would stop: {name} is not set ({rest})"
        return rest

    return re.sub(r"\$\{(\w+)(:-|:\?)([^}]*)\}", value, text)


def test_the_compose_files_test_job_passes_against_the_emulator(emulator: Container) -> None:
    """The tests service as compose would run it (its image, entrypoint, mounts, limits,
    environment), in the emulator container's network namespace: there `emulator` is
    127.0.0.1 (a joined namespace takes no extra host entry), so only EMULATOR_URL's host
    changes. The same job with a wrong token fails."""
    folder = ROOT / "container"
    compose = yaml.safe_load((folder / "compose.yaml").read_text())
    service, job = compose["services"]["emulator"], compose["services"]["tests"]
    assert job["depends_on"] == {"emulator": {"condition": "service_healthy"}}
    env = {"EMULATOR_CONTROL_TOKEN": TOKEN}
    assert compose_value(service["environment"]["EMULATOR_CONTROL_TOKEN"], env) == TOKEN
    kind, *command = service["healthcheck"]["test"]
    assert kind == "CMD"
    check = podman("exec", emulator.name, *command, check=False)  # its check works in the image
    assert check.returncode == 0, check.stderr

    limits = [  # compose's ulimits, as podman's flags: the ones the tests use
        flag
        for name, limit in job["ulimits"].items()
        for flag in ("--ulimit", f"{name}={limit['soft']}:{limit['hard']}")
    ]
    assert limits == LIMITS and service["ulimits"] == job["ulimits"]
    mounts = []
    for volume in job["volumes"]:
        source, target, mode = volume.split(":")
        assert (folder / source).is_file(), volume  # relative to the compose file's folder
        mounts += ["-v", f"{(folder / source).resolve()}:{target}:{mode}"]
    assert job["entrypoint"][-1] in [volume.split(":")[1] for volume in job["volumes"]]
    variables = {name: compose_value(value, env) for name, value in job["environment"].items()}
    assert variables["EMULATOR_URL"] == "http://emulator:8080"
    image = compose_value(job["image"], {})
    assert image == compose_value(service["image"], {}) == "localhost/profile-emulator:latest"

    def job_run(token: str) -> subprocess.CompletedProcess[str]:
        here = {
            **variables,
            "EMULATOR_URL": "http://127.0.0.1:8080",
            "EMULATOR_CONTROL_TOKEN": token,
        }
        return podman(
            "run", "--rm", "--network", f"container:{emulator.name}", *limits, *mounts,
            *(flag for name, value in here.items() for flag in ("-e", f"{name}={value}")),
            "--entrypoint", json.dumps(job["entrypoint"]), image,
            timeout=120, check=False,
        )  # fmt: skip

    done = job_run(TOKEN)
    assert done.returncode == 0, done.stdout + quiet(done.stderr)
    assert "answers as documented" in done.stdout, done.stdout
    refused = job_run("not-the-token")
    assert refused.returncode != 0, refused.stdout
    assert "401" in refused.stdout + refused.stderr


def test_the_readmes_podman_run_line_serves(image: Image) -> None:
    """The README's `podman run` line as written, on a free port, a volume of its own and this
    host's network (see NETWORK): the emulator answers, wants the token, stops on SIGTERM."""
    block = re.search(
        r"^podman run (.*?[^\\])$", readme_section("Run it in a container"), re.M | re.S
    )
    assert block, "the README has a podman run line"
    args = shlex.split(block.group(1).replace("\\\n", " "))
    port, volume = free_port(), f"pe-test-data-{uuid.uuid4().hex[:10]}"
    args[args.index("127.0.0.1:8080:8080")] = f"127.0.0.1:{port}:8080"
    args[args.index("emulator-data:/data")] = f"{volume}:/data"
    token = args[args.index("-e") + 1].partition("=")[2]
    assert args[-1] == IMAGE.removesuffix(":latest")
    proc = subprocess.Popen(
        ["podman", "run", *NETWORK, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        container = Container(f"readme-{port}", f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"{container.url}/_emulator/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out, err = proc.communicate(timeout=30) if proc.poll() is not None else ("", "")
                pytest.fail(f"the README's podman run line did not serve:\n{out}{quiet(err)}")
            time.sleep(0.2)
        assert httpx.get(f"{container.url}/_emulator/requests").status_code == 401
        allowed = httpx.get(
            f"{container.url}/_emulator/requests", headers={"Authorization": f"Bearer {token}"}
        )
        assert allowed.status_code == 200
        proc.terminate()  # podman passes it on: the emulator stops cleanly, --rm removes it
        assert proc.wait(timeout=30) == 0, quiet(proc.stderr.read() if proc.stderr else "")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        podman("volume", "rm", "--force", volume, check=False)


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
    assert "--insecure-control" in options  # README: the way to run it without a token
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
