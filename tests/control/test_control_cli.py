"""The control commands of `profile-emulator` (emulator/control_cli.py), as a shell script or
a CI job runs them: the installed command against a running server over HTTP, with a
namespace and the control token; exit statuses a script branches on, `--json` output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer

pytestmark = pytest.mark.slow  # each test runs the installed command in processes of its own

TOKEN = "cli-token"
BIN = Path(sys.executable).parent / "profile-emulator"
PROFILE = "/client/users/seed-session-1/profile"
UPDATE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}


@pytest.fixture(scope="module")
def guarded() -> Iterator[EmulatorServer]:
    with EmulatorServer(control_token=TOKEN) as running:
        yield running


@pytest.fixture
def cli(guarded: EmulatorServer, namespace: str) -> Any:
    """Run ``profile-emulator ARGS`` with the server and namespace in its environment."""
    env = {
        **os.environ,
        "EMULATOR_URL": guarded.url,
        "EMULATOR_NAMESPACE": namespace,
        "EMULATOR_CONTROL_TOKEN": TOKEN,
    }

    def run(*args: str, stdin: str | None = None, **changes: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), *args],
            env={**env, **changes},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def vendor(server: EmulatorServer, namespace: str) -> httpx.Response:
    return httpx.put(server.url + PROFILE, json=UPDATE, headers={"X-Emulator-Namespace": namespace})


def test_a_scenario_switched_on_and_off(cli: Any, guarded: EmulatorServer, namespace: str) -> None:
    done = cli("scenario", "on", "loyalty-email-taken")
    assert (done.returncode, done.stdout) == (0, "loyalty-email-taken: on\n")
    assert vendor(guarded, namespace).json()["errorCode"] == "EMAIL_ALREADY_EXISTS"  # seed 000
    done = cli("scenario", "off", "loyalty-email-taken", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["active"] is False
    assert vendor(guarded, namespace).status_code == 200
    listed = json.loads(cli("scenario", "list", "--json").stdout)
    assert "loyalty-flaky" in {s["name"] for s in listed}


def test_faults_added_listed_and_cleared(cli: Any, guarded: EmulatorServer, namespace: str) -> None:
    done = cli("fault", "add", "--status", "503", "--id", "down")
    assert (done.returncode, done.stdout) == (0, "down\n")
    done = cli(
        "fault",
        "add",
        "--rule",
        '{"error": "loyalty.EMAIL_ALREADY_EXISTS", "times": 1}',
        "--json",
    )
    assert done.returncode == 0 and set(json.loads(done.stdout)) == {"id"}
    listed = cli("fault", "list")
    assert listed.returncode == 0 and listed.stdout.startswith("down: respond 503;")
    assert next(r["id"] for r in json.loads(cli("fault", "list", "--json").stdout)) == "down"
    assert vendor(guarded, namespace).status_code == 503
    assert cli("fault", "clear", "down").returncode == 0
    assert cli("fault", "clear").returncode == 0
    assert json.loads(cli("fault", "list", "--json").stdout) == []


def test_the_journal_filtered(cli: Any, guarded: EmulatorServer, namespace: str) -> None:
    assert vendor(guarded, namespace).status_code == 200
    httpx.put(guarded.url + PROFILE, json={}, headers={"X-Emulator-Namespace": namespace})
    done = cli("journal", "--operation", "updateProfile", "--status", "400")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    # Seed 000: a body without the mandatory fields is INVALID_REQUEST.
    assert lines[0].startswith(f"#2 PUT {PROFILE} (loyalty updateProfile) -> 400 INVALID_REQUEST")
    calls = json.loads(cli("journal", "--json").stdout)
    assert [c["status"] for c in calls] == [200, 400]


def test_state_saved_and_loaded_and_reset(
    cli: Any, guarded: EmulatorServer, namespace: str, tmp_path: Path
) -> None:
    assert vendor(guarded, namespace).status_code == 200
    saved = tmp_path / "state.json"
    assert cli("state", "save", str(saved)).returncode == 0
    with Emulator(guarded.url, namespace, token=TOKEN) as emulator:
        assert json.loads(saved.read_text()) == emulator.state()
        assert cli("reset").returncode == 0
        assert emulator.requests() == []
        assert cli("state", "load", str(saved)).returncode == 0
        assert emulator.state() == json.loads(saved.read_text())
    piped = cli("state", "save", "-")
    assert cli("state", "load", "-", stdin=piped.stdout).returncode == 0


def test_the_clock_advanced(cli: Any, namespace: str) -> None:
    done = cli("clock", "advance", "960")
    assert (done.returncode, done.stdout) == (0, "960\n")
    assert json.loads(cli("clock", "advance", "60", "--json").stdout) == {"offsetSeconds": 1020}


def test_exit_statuses_a_script_branches_on(cli: Any, tmp_path: Path) -> None:
    refused = cli("scenario", "on", "no-such-scenario")
    assert refused.returncode == 1 and "404" in refused.stderr
    assert cli("fault", "add", "--error", "loyalty.NO_SUCH_ERROR").returncode == 1
    assert cli("fault", "add", "--rule", "{not json").returncode == 2
    assert cli("state", "load", str(tmp_path / "missing.json")).returncode == 2
    assert cli("clock", "advance", "soon").returncode == 2
    assert cli("scenario", "on").returncode == 2
    unreachable = cli("reset", EMULATOR_URL="http://127.0.0.1:9")
    assert unreachable.returncode == 3 and "no emulator at http://127.0.0.1:9" in unreachable.stderr
    assert cli("reset", EMULATOR_CONTROL_TOKEN="").returncode == 4
    assert cli("reset", "--token", "wrong").returncode == 4


def test_a_shell_script_branches_on_the_exit_status(
    guarded: EmulatorServer, namespace: str, tmp_path: Path
) -> None:
    script = tmp_path / "ci.sh"
    script.write_text(
        f"""set -u
export PATH="{BIN.parent}:$PATH"
pe() {{ profile-emulator "$@" --url "{guarded.url}" --namespace "{namespace}" --token {TOKEN}; }}
pe scenario on loyalty-flaky >/dev/null || exit 10
pe scenario on no-such-scenario 2>/dev/null; echo "unknown: $?"
id=$(pe fault add --status 500 --operation getProfile) || exit 11
echo "rule: $id"
pe fault list --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)), "rules")'
pe reset && echo "reset: $?"
"""
    )
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "unknown: 1"
    assert lines[1].startswith("rule: ") and len(lines[1]) > len("rule: ")
    assert lines[2].split()[1] == "rules" and int(lines[2].split()[0]) >= 2
    assert lines[3] == "reset: 0"


def test_the_serve_command_lists_the_control_commands() -> None:
    shown = subprocess.run([str(BIN), "--help"], capture_output=True, text=True, timeout=60)
    for name in ("scenario", "fault", "journal", "reset", "state", "clock"):  # docs/control.md
        assert name in shown.stdout
