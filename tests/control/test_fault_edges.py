"""Hostile edges of fault rules and bad input, over HTTP: clients that hang up mid-delay,
nesting no vendor payload has, media types in capitals, huge values in a refused rule."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.control.conftest import (
    COMMERCE_PROFILE,
    LOYALTY_PROFILE,
    VALID_UPDATE,
    commerce_token,
    wait_for,
)


def nested(depth: int) -> Any:
    value: Any = None
    for _ in range(depth):
        value = [value]
    return value


def put_then_hang_up(server: EmulatorServer, namespace: str, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(
            f"PUT {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: "
            f"{namespace}\r\nContent-Type: application/json\r\nContent-Length: "
            f"{len(payload)}\r\n\r\n".encode()
            + payload
        )


@pytest.mark.parametrize(
    "rule",
    [
        {"delayMs": 60_000},
        {"delayMs": 60_000, "stage": "checked"},
        {"respond": {"status": 503}, "delayMs": 60_000},
    ],
)
def test_a_client_that_hangs_up_mid_delay_gets_nothing_written(
    server: EmulatorServer, emu: Emulator, http: httpx.Client, rule: dict[str, Any]
) -> None:
    emu.add_rule({**rule, "match": {"operation": "updateProfile"}})
    put_then_hang_up(server, emu.namespace, {**VALID_UPDATE, "firstName": "Changed"})
    [entry] = wait_for(lambda: emu.requests(operation="updateProfile"), timeout=10)
    assert entry["status"] is None  # no response ever started: none is journaled
    assert http.get(LOYALTY_PROFILE).json()["firstName"] == "Ada"  # fixtures/loyalty.yaml


def test_a_body_nested_deeper_than_any_vendor_payload_gets_the_invalid_request_error(
    http: httpx.Client,
) -> None:
    r = http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "extendedData": {"casl": nested(300)}})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_REQUEST")
    http.headers["Authorization"] = f"Bearer {commerce_token(http)}"
    r = http.put(COMMERCE_PROFILE, json={"firstName": nested(300)})
    assert (r.status_code, r.json()["errorCode"], r.json()["status"]) == (400, "22007", "400")
    assert http.get(COMMERCE_PROFILE).status_code == 200  # nothing unreadable was stored


@pytest.mark.parametrize("field", ["respond", "match"])
def test_a_rule_nested_too_deep_is_refused_naming_the_field(http: httpx.Client, field: str) -> None:
    rule = (
        {"respond": {"status": 503, "body": nested(700)}}
        if field == "respond"
        else {"respond": {"status": 503}, "match": {"body": {"a": nested(700)}}}
    )
    r = http.post("/_emulator/faults", json=rule)
    assert r.status_code == 400
    assert r.json() == {
        "error": "invalid_request",
        "detail": f"{field}.body: nested deeper than 64 levels",
    }
    assert http.get("/_emulator/faults").json() == []


def test_media_types_are_case_insensitive(http: httpx.Client) -> None:
    """RFC 9110 8.3.1: `Application/JSON` is application/json, checked as such."""
    headers = {"Content-Type": "Application/JSON"}
    r = http.put(LOYALTY_PROFILE, content=json.dumps(VALID_UPDATE), headers=headers)
    assert (r.status_code, r.json()) == (200, {"debugMessage": "Profile Updated"})  # seed 000
    r = http.put(
        LOYALTY_PROFILE,
        content=json.dumps({**VALID_UPDATE, "postalZipCode": "ABC"}),
        headers=headers,
    )
    assert r.json() == {
        "statusCode": 400,
        "errorCode": "INVALID_REQUEST",
        "errorMessage": "Invalid PostalZipCode: ABC",
    }  # seed 000


def test_an_unknown_account_keeps_its_404_whatever_rule_waits(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(respond={"status": 503}, operation="startSession")
    for identifier in ("%20", "no-such-account"):
        r = http.post(
            f"/client/users/{identifier}/sessions",
            json={"correlationId": "c-x", "channel": "WEBSITE"},
        )
        assert (r.status_code, r.json()["errorCode"]) == (404, "NOT_FOUND")
    assert emu.rules()[0]["matched"] == 0


@pytest.mark.parametrize(
    ("rule", "detail"),
    [
        ({"respond": {"status": 205, "body": {}}}, "respond.body: a 205 response has no body"),
        (
            {"respond": {"status": 503, "headers": {"X-Dup": "1", "x-dup": "2"}}},
            "respond.headers: 'x-dup' is given twice (header names are case-insensitive)",
        ),
    ],
)
def test_responses_that_cannot_be_sent_as_written_are_refused(
    http: httpx.Client, rule: dict, detail: str
) -> None:
    r = http.post("/_emulator/faults", json=rule)
    assert (r.status_code, r.json()) == (400, {"error": "invalid_request", "detail": detail})


@pytest.mark.parametrize("field", ["error", "operation"])
def test_a_huge_refused_value_is_not_echoed_whole(http: httpx.Client, field: str) -> None:
    value = "x" * 1_000_000
    rule = (
        {"error": value}
        if field == "error"
        else {"fault": "timeout", "match": {"operation": value}}
    )
    r = http.post("/_emulator/faults", json=rule)
    assert r.status_code == 400
    assert len(r.content) < 2_000 and "xxx..." in r.json()["detail"]
