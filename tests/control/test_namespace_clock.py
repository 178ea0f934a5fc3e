"""The namespace's virtual time over HTTP (openapi/control.yaml, tag Clock;
docs/decisions.md#16): it starts at 0, moves only forward and only when told, is the
namespace's own, goes back to 0 at a reset, and what the vendor or a rule times follows it."""

from __future__ import annotations

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE

CLOCK = "/_emulator/clock"
OCC_PROFILE = "/ccadmin/v1/profiles/se-570031"
# The documented 401 of every OCC call without a valid token (openapi/commerce.yaml).
UNAUTHORIZED = {"errorCode": "000002", "message": "Authorization required.", "status": "401"}


def advance(http: httpx.Client, seconds: float) -> httpx.Response:
    return http.post(CLOCK, json={"advanceSeconds": seconds})


def test_the_clock_starts_at_0_and_adds_each_step(http: httpx.Client) -> None:
    assert http.get(CLOCK).json() == {"offsetSeconds": 0}
    assert advance(http, 360).json() == {"offsetSeconds": 360}
    assert advance(http, 0.5).json() == {"offsetSeconds": 360.5}
    assert advance(http, 0).json() == {"offsetSeconds": 360.5}
    assert http.get(CLOCK).json() == {"offsetSeconds": 360.5}


@pytest.mark.parametrize(
    "body",
    [
        {"advanceSeconds": -1},  # time never moves back
        {"advanceSeconds": "60"},
        {"advanceSeconds": None},
        {"advanceSeconds": 315360001},  # more than ten years at once
        {},
        {"advanceSeconds": 1, "offsetSeconds": 0},
        [60],
    ],
)
def test_a_step_the_spec_refuses_is_a_400_and_moves_nothing(http: httpx.Client, body) -> None:
    advance(http, 10)
    r = http.post(CLOCK, json=body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"
    assert set(r.json()) == {"error", "detail"}
    assert http.get(CLOCK).json() == {"offsetSeconds": 10}


def test_a_reset_puts_the_clock_back_and_each_namespace_has_its_own(
    http: httpx.Client, server: EmulatorServer, namespace: str
) -> None:
    advance(http, 600)
    other = httpx.post(
        server.url + CLOCK,
        json={"advanceSeconds": 5},
        headers={"X-Emulator-Namespace": namespace + "-other"},
    )
    assert other.json() == {"offsetSeconds": 5}
    assert http.get(CLOCK).json() == {"offsetSeconds": 600}
    assert http.post("/_emulator/reset").status_code == 204
    assert http.get(CLOCK).json() == {"offsetSeconds": 0}


def test_an_application_token_expires_when_the_clock_passes_its_lifetime(
    http: httpx.Client,
) -> None:
    """fixtures/commerce.yaml: application-key tokens live 300 s (docs/decisions.md#10)."""
    login = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
    advance(http, 299)
    assert http.get(OCC_PROFILE, headers=bearer).status_code == 200
    advance(http, 1)
    r = http.get(OCC_PROFILE, headers=bearer)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)


def test_a_rule_expires_when_the_clock_passes_its_ttl(http: httpx.Client) -> None:
    rule = {"error": "loyalty.EMAIL_ALREADY_EXISTS", "ttlSeconds": 60}
    assert http.post("/_emulator/faults", json=rule).status_code == 201
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 400
    advance(http, 60)
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200


def test_the_python_client_advances_by_minutes(server: EmulatorServer, namespace: str) -> None:
    with Emulator(server.url, namespace) as emulator:
        assert emulator.clock() == 0
        assert emulator.advance(minutes=16) == 960
        assert emulator.advance(1.5, hours=1) == 960 + 3601.5
        emulator.reset()
        assert emulator.clock() == 0
