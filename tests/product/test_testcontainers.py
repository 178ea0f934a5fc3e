"""The Testcontainers modules, Python (emulator/testcontainers.py) and Node.js
(testcontainers-node/), against the image built from container/, through podman's
Docker-compatible socket (tests/podman.py: the service, and what Testcontainers needs on
this host). The README's two examples run as written, but for the host's network mode and
a label by which the run's containers are removed.

Skipped where podman or the Node.js module's dependencies are missing
(tools/setup-podman.sh, tools/setup-testcontainers-node.sh), except under CI.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.podman import LABEL, NETWORK_MODE, DockerAPI, Image, podman, unavailable

pytestmark = pytest.mark.container

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULE = ROOT / "testcontainers-node"
UPDATE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}
# ES Loyalty's documented error for a taken email (seed 000; the README's example)
EMAIL_TAKEN = {
    "statusCode": 400,
    "errorCode": "EMAIL_ALREADY_EXISTS",
    "errorMessage": "Sorry, that email address is already in use",
}
RUN_TIMEOUT = 300  # a hang guard: each run below takes seconds


def readme_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("\n## Testcontainers", 1)[1].split("\n## ", 1)[0]


def readme_example(language: str) -> str:
    """The first ```language block of the README's Testcontainers section."""
    found = re.search(rf"^```{language}\n(.*?)^```$", readme_section(), re.M | re.S)
    assert found, f"no {language} example in the README's Testcontainers section"
    return found.group(1)


@pytest.fixture(scope="module")
def environment(docker: DockerAPI) -> Iterator[dict[str, str]]:
    """The process environment Testcontainers reads (some of it once, at import)."""
    if "testcontainers" in sys.modules:
        pytest.fail("testcontainers was imported before its environment was set", pytrace=False)
    added = docker.environment()
    saved = {key: os.environ.get(key) for key in added}
    os.environ.update(added)
    try:
        yield {**os.environ}
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def host_options(docker: DockerAPI, environment: dict[str, str]) -> dict[str, Any]:
    """What an EmulatorContainer needs on this host (network mode) and the run's label."""
    return {"network_mode": NETWORK_MODE, "labels": {LABEL: docker.run}}


def exists(container_id: str) -> bool:
    return podman("container", "exists", container_id, check=False).returncode == 0


# ------------------------------------------------------------------------- Python ----


def test_the_python_module_starts_serves_and_removes_the_emulator(
    image: Image, host_options: dict[str, Any]
) -> None:
    from emulator.testcontainers import EmulatorContainer

    with EmulatorContainer(image.name, **host_options) as emulator:
        container_id = emulator.container.get_container_id()
        assert re.fullmatch(r"http://localhost:\d+", emulator.base_url), emulator.base_url
        assert re.fullmatch(r"[0-9a-f]{32}", emulator.token)
        assert httpx.get(f"{emulator.base_url}/_emulator/health").json() == {"status": "ok"}
        # the image wants the token: a bare control call is refused, the module's are not
        assert httpx.get(f"{emulator.base_url}/_emulator/requests").status_code == 401

        team, other = emulator.namespace(), emulator.namespace()
        assert team.namespace != other.namespace
        rule = team.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
        url = f"{emulator.base_url}/client/users/seed-session-1/profile"
        first = httpx.put(url, json=UPDATE, headers=team.headers)
        assert (first.status_code, first.json()) == (400, EMAIL_TAKEN)
        assert httpx.put(url, json=UPDATE, headers=other.headers).status_code == 200
        journal = team.requests(operation="updateProfile")
        assert [(call["status"], call["rule"]) for call in journal] == [(400, rule)]
        team.reset()
        assert team.requests() == []

        # the container's own methods: the default namespace, which header-less calls reach
        emulator.activate("loyalty-flaky")  # the first two updates: 503 with Retry-After
        assert [httpx.put(url, json=UPDATE).status_code for _ in range(3)] == [503, 503, 200]
        assert [c["response"]["headers"]["retry-after"] for c in emulator.requests(status=503)] == [
            "1",
            "1",
        ]
        emulator.inject(fault="connection_reset", operation="updateProfile", times=1)
        with pytest.raises(httpx.TransportError):
            httpx.put(url, json=UPDATE)
        assert emulator.requests()[-1]["fault"] == "connection_reset"
        emulator.reset()
        assert emulator.requests() == []
        assert exists(container_id)
    assert not exists(container_id)  # removed at the end of the block
    with pytest.raises(RuntimeError, match="not started"):
        emulator.base_url  # noqa: B018


def test_the_python_module_takes_fixtures_serve_options_and_a_token(
    image: Image, host_options: dict[str, Any], tmp_path: Path
) -> None:
    from emulator.testcontainers import EmulatorContainer

    fixtures = tmp_path / "fixtures"
    shutil.copytree(ROOT / "fixtures", fixtures)
    commerce = fixtures / "commerce.yaml"
    commerce.write_text(commerce.read_text().replace("key: emulator-app-key", "key: team-key"))
    for path in [tmp_path, *fixtures.rglob("*")]:  # readable by the image's user
        path.chmod(0o755 if path.is_dir() else 0o644)
    options = {"fixtures": fixtures, "args": ["--journal-size", "1"], "token": "our-token"}
    with EmulatorContainer(image.name, **options, **host_options) as emulator:
        login = httpx.post(
            f"{emulator.base_url}/ccadmin/v1/login",
            headers={"Authorization": "Bearer team-key"},
            data={"grant_type": "client_credentials"},
        )
        assert login.status_code == 200, login.text
        assert len(emulator.requests()) == 1  # --journal-size 1 kept the latest call only
        control = httpx.get(
            f"{emulator.base_url}/_emulator/requests", headers={"X-Emulator-Token": "our-token"}
        )
        assert control.status_code == 200


def test_the_readmes_python_example_passes(
    image: Image, docker: DockerAPI, environment: dict[str, str], tmp_path: Path
) -> None:
    example = readme_example("python")
    assert example.count("EmulatorContainer()") == 1
    here = f'EmulatorContainer(network_mode="{NETWORK_MODE}", labels={{"{LABEL}": "{docker.run}"}})'
    (tmp_path / "test_partner.py").write_text(example.replace("EmulatorContainer()", here))
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_partner.py"],
        cwd=tmp_path,
        env={k: v for k, v in environment.items() if k != "PYTHONPATH"},
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout, done.stdout


# ------------------------------------------------------------------------ Node.js ----


@pytest.fixture(scope="module")
def node() -> str:
    found = shutil.which("node")
    if found is None:
        unavailable("node is not installed (apt-get install nodejs npm)")
    if not (NODE_MODULE / "node_modules" / "testcontainers").is_dir():
        unavailable(
            "testcontainers-node's dependencies are missing: run tools/setup-testcontainers-node.sh"
        )
    return found


def node_test(
    node: str, docker: DockerAPI, environment: dict[str, str], *paths: str, cwd: Path
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [node, "--test", *paths],
        cwd=cwd,
        env={
            **environment,
            "EMULATOR_TEST_NETWORK_MODE": NETWORK_MODE,
            "EMULATOR_TEST_LABEL": f"{LABEL}={docker.run}",
        },
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    assert re.search(r"^# fail 0$", done.stdout, re.M), done.stdout
    return done


def test_the_node_modules_own_tests_pass(
    image: Image, docker: DockerAPI, environment: dict[str, str], node: str
) -> None:
    done = node_test(node, docker, environment, "test/", cwd=NODE_MODULE)
    assert re.search(r"^# pass [1-9]\d*$", done.stdout, re.M), done.stdout
    assert docker.leftovers() == []  # every container the tests started is gone


def test_the_readmes_node_example_passes(
    image: Image, docker: DockerAPI, environment: dict[str, str], node: str, tmp_path: Path
) -> None:
    example = readme_example("js")
    assert example.count("new EmulatorContainer()") == 1
    here = (
        f'new EmulatorContainer().withNetworkMode("{NETWORK_MODE}")'
        f'.withLabels({{ "{LABEL}": "{docker.run}" }})'
    )
    (tmp_path / "emulator.test.js").write_text(example.replace("new EmulatorContainer()", here))
    (tmp_path / "package.json").write_text(json.dumps({"type": "module", "private": True}))
    # The README's install: the module's dependencies come from the npm registry (its cache)
    install = re.search(r"`(npm install [^`]*/testcontainers-node)`", readme_section())
    assert install, "the README says how to install the Node.js module"
    command = shlex.split(install.group(1).replace("/path/to/profile-emulator", str(ROOT)))
    done = subprocess.run(
        [*command, "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    installed = tmp_path / "node_modules" / "profile-emulator-testcontainers"
    assert installed.is_dir() and not installed.is_symlink()
    done = node_test(node, docker, environment, "emulator.test.js", cwd=tmp_path)
    assert re.search(r"^# pass 1$", done.stdout, re.M), done.stdout
