"""A new vendor is a package and one line: a tiny third vendor that exists only in the tests
(tests/tiny_vendor) is served beside the shipped ones, and the routing, the catalogue, fault
matching, the journal, the configuration and reset all know it without a change elsewhere."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator.server import EmulatorServer
from emulator.vendors import VENDORS
from tests.tiny_vendor import VENDOR as TINY

CONTROL = "/_emulator"


@pytest.fixture(scope="module")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer(vendors=(*VENDORS, TINY)) as running:
        yield running


@pytest.fixture
def http(server: EmulatorServer, request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    headers = {"X-Emulator-Namespace": f"tiny-{request.node.name}"[:64]}
    with httpx.Client(base_url=server.url, headers=headers) as client:
        yield client


def test_its_spec_routes_its_calls_and_its_error_shape_answers(http: httpx.Client) -> None:
    assert http.get("/tiny/v1/items/seed").json() == {"name": "Seed"}
    assert (
        http.get("/tiny/v1/items/nope").status_code,
        http.get("/tiny/v1/items/nope").json(),
    ) == (404, {"code": "NOT_FOUND", "text": "No item nope"})
    r = http.put("/tiny/v1/items/a", json={"name": 7})
    assert (r.status_code, r.json()["code"], set(r.json())) == (400, "INVALID", {"code", "text"})
    r = http.delete("/tiny/v1/items/a")
    assert (r.status_code, r.json(), r.headers["allow"]) == (
        405,
        {"code": "NO_METHOD", "text": "DELETE /tiny/v1/items/a"},
        "GET, HEAD, PUT",
    )
    assert http.get("/tiny/v2/x").json() == {"code": "NO_ROUTE", "text": "GET /tiny/v2/x"}
    assert http.get("/client/users/seed-session-1/profile").status_code == 200  # the others stay
    assert http.get(f"{CONTROL}/openapi/tiny.json").json()["info"]["title"].startswith("Tiny")


def test_its_errors_join_the_catalogue(http: httpx.Client) -> None:
    names = {entry["name"] for entry in http.get(f"{CONTROL}/errors").json()}
    assert {"tiny.NOT_FOUND", "tiny.INVALID", "tiny.BUSY"} <= names
    assert "loyalty.EMAIL_ALREADY_EXISTS" in names


def test_fault_rules_match_its_calls_by_api_and_operation(http: httpx.Client) -> None:
    r = http.post(f"{CONTROL}/faults", json={"error": "tiny.BUSY", "match": {"api": "tiny"}})
    assert r.status_code == 201, r.text
    assert (
        http.get("/tiny/v1/items/seed").status_code,
        http.get("/tiny/v1/items/seed").json(),
    ) == (503, {"code": "BUSY", "text": "Try again later"})
    assert http.get("/client/users/seed-session-1/profile").status_code == 200
    r = http.post(
        f"{CONTROL}/faults", json={"error": "tiny.BUSY", "match": {"operation": "putItem"}}
    )
    assert (
        r.status_code == 400 and "tiny.BUSY is not a response of tiny putItem" in r.json()["detail"]
    )
    r = http.post(f"{CONTROL}/faults", json={"fault": "timeout", "match": {"api": "shop"}})
    assert r.json()["detail"] == "match.api: 'shop' is not one of ['loyalty', 'commerce', 'tiny']"


def test_its_calls_are_journaled(http: httpx.Client) -> None:
    http.put("/tiny/v1/items/b", json={"name": "Bee"})
    [entry] = http.get(f"{CONTROL}/requests", params={"api": "tiny"}).json()["requests"]
    assert (entry["api"], entry["operation"], entry["status"], entry["body"]) == (
        "tiny",
        "putItem",
        200,
        {"name": "Bee"},
    )
    r = http.get(f"{CONTROL}/requests", params={"api": "shop"})
    assert (
        r.json()["detail"]
        == "query parameter 'api': 'shop' is not one of ['loyalty', 'commerce', 'tiny']"
    )


def test_its_configuration_is_held_to_its_own_schema(http: httpx.Client) -> None:
    assert http.get(f"{CONTROL}/config").json()["tiny"] == {"prefix": ""}
    assert http.patch(f"{CONTROL}/config", json={"tiny": {"prefix": "my "}}).json()["tiny"] == {
        "prefix": "my "
    }
    assert http.get("/tiny/v1/items/seed").json() == {"name": "my Seed"}
    r = http.patch(f"{CONTROL}/config", json={"tiny": {"suffix": "x"}})
    assert (r.status_code, r.json()["detail"]) == (
        400,
        "tiny.suffix: unknown field; expected one of: prefix",
    )
    r = http.patch(f"{CONTROL}/config", json={"shop": {}})
    assert (
        r.json()["detail"] == "shop: unknown field; expected one of: commerce, loyalty, seed, tiny"
    )


def test_reset_restores_its_seed_state_and_configuration(http: httpx.Client) -> None:
    http.put("/tiny/v1/items/seed", json={"name": "Changed"})
    http.patch(f"{CONTROL}/config", json={"tiny": {"prefix": "x"}})
    assert http.post(f"{CONTROL}/reset").status_code == 204
    assert http.get("/tiny/v1/items/seed").json() == {"name": "Seed"}
    assert http.get(f"{CONTROL}/config").json()["tiny"] == {"prefix": ""}
    assert "tiny.items" in http.get(f"{CONTROL}/state").json()
