"""The control token, loopback by default, safe YAML."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator import cli
from emulator.client import Emulator, EmulatorError
from emulator.server import EmulatorServer
from tests.control.conftest import LOYALTY_PROFILE

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def guarded() -> Iterator[EmulatorServer]:
    with EmulatorServer(control_token=TOKEN) as running:
        yield running


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"X-Emulator-Token": "wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ],
)
def test_control_calls_without_the_token_are_401(
    guarded: EmulatorServer, headers: dict[str, str]
) -> None:
    for method, path in (
        ("GET", "/faults"),
        ("POST", "/reset"),
        ("PUT", "/scenarios/loyalty-flaky"),
        ("GET", "/nowhere"),
    ):
        r = httpx.request(method, f"{guarded.url}/_emulator{path}", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"error": "unauthorized", "detail": r.json()["detail"]}
        assert "Bearer" in r.headers["www-authenticate"]
    assert (
        httpx.get(
            f"{guarded.url}/_emulator/faults", headers={"Authorization": f"Bearer {TOKEN}"}
        ).json()
        == []
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN}"},
        {"authorization": f"bearer {TOKEN}"},
        {"X-Emulator-Token": TOKEN},
    ],
)
def test_either_header_carries_the_token(guarded: EmulatorServer, headers: dict[str, str]) -> None:
    r = httpx.post(f"{guarded.url}/_emulator/faults", json={"delayMs": 1}, headers=headers)
    assert r.status_code == 201


def test_health_and_vendor_calls_need_no_token(guarded: EmulatorServer) -> None:
    assert httpx.get(f"{guarded.url}/_emulator/health").json() == {"status": "ok"}
    assert httpx.get(f"{guarded.url}{LOYALTY_PROFILE}").status_code == 200


def test_the_client_sends_the_token(guarded: EmulatorServer) -> None:
    with Emulator(guarded.url, "tok", token=TOKEN) as emulator:
        emulator.inject(error="loyalty.INTERNAL_ERROR")
        assert len(emulator.rules()) == 1
        emulator.reset()
    with Emulator(guarded.url, "tok") as emulator, pytest.raises(EmulatorError) as caught:
        emulator.rules()
    assert caught.value.status == 401


def test_serve_binds_loopback_and_takes_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What serve hands the server: the app (its guards) and the socket it bound (its host).
    tests/process/test_cli.py runs the same choices as real processes."""
    calls = []
    monkeypatch.setattr(
        "emulator.server.Server.run",
        lambda self, sockets: calls.append((self.config.app, sockets[0].getsockname()[0])),
    )
    monkeypatch.delenv("EMULATOR_CONTROL_TOKEN", raising=False)
    assert cli.main(["serve", "--port", "0"]) == 0
    app, host = calls.pop()
    assert host == "127.0.0.1" and all(api.guard is None for api in app.apis)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", "--control-token", TOKEN]) == 0
    app, host = calls.pop()
    assert host == "0.0.0.0" and {api.name for api in app.apis if api.guard} == {"control"}
    assert "warning" not in capsys.readouterr().err
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2  # no token: no start
    assert "--insecure-control" in capsys.readouterr().err and not calls
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0", "--insecure-control"]) == 0
    assert "has no --control-token" in capsys.readouterr().err
    assert all(api.guard is None for api in calls.pop()[0].apis)
    monkeypatch.setenv("EMULATOR_CONTROL_TOKEN", TOKEN)
    assert cli.main(["serve", "--port", "0"]) == 0
    assert {api.name for api in calls.pop()[0].apis if api.guard} == {"control"}
