"""Every action and fault kind, as a real client sees it; matching, counting and expiry."""

from __future__ import annotations

import concurrent.futures
import json
import random
import socket

import httpx
import pytest

from emulator.client import Emulator
from emulator.clock import ManualClock
from emulator.server import EmulatorServer
from emulator.transport import MALFORMED_JSON
from tests.control.conftest import (
    LOYALTY_PROFILE,
    VALID_UPDATE,
    Clocked,
    commerce_token,
    raw_get,
    raw_request,
    wait_for,
)

# --- catalogue errors -----------------------------------------------------------------------


# Every documented error on each operation documenting it: tests/control/test_injection_contract.py


# --- respond --------------------------------------------------------------------------------


def test_respond_sends_exactly_the_rule(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(
        respond={
            "status": 503,
            "headers": {"Retry-After": "2", "X-Extra": "yes"},
            "body": {"not": ["the", "vendor", "shape"]},
        }
    )
    r = http.get(LOYALTY_PROFILE)
    assert (r.status_code, r.json()) == (503, {"not": ["the", "vendor", "shape"]})
    assert (r.headers["retry-after"], r.headers["x-extra"]) == ("2", "yes")


@pytest.mark.parametrize(
    ("respond", "content", "content_type"),
    [
        ({"status": 204}, b"", None),
        ({"status": 200, "body": None}, b"null", "application/json"),
        ({"status": 418, "body": "teapot"}, b'"teapot"', "application/json"),
        (
            {"status": 200, "headers": {"Content-Type": "text/plain"}, "body": "hi"},
            b'"hi"',
            "text/plain",
        ),
    ],
)
def test_respond_bodies_and_content_types(
    emu: Emulator, http: httpx.Client, respond: dict, content: bytes, content_type: str | None
) -> None:
    emu.inject(respond=respond)
    r = http.get(LOYALTY_PROFILE)
    assert (r.status_code, r.content, r.headers.get("content-type")) == (
        respond["status"],
        content,
        content_type,
    )


# --- delays ---------------------------------------------------------------------------------


def test_a_delay_only_rule_adds_latency_and_lets_the_call_through(clocked: Clocked) -> None:
    clocked.emu.inject(delay_ms=300, operation="getProfile")
    call = clocked.start("GET", LOYALTY_PROFILE)
    assert clocked.clock.asked == [0.3]
    clocked.clock.advance(0.299)
    assert not call.done() and clocked.clock.waiting == 1  # not answered before its time
    clocked.clock.advance(0.001)
    r = call.result(timeout=10)
    assert r.status_code == 200 and r.json()["firstName"] == "Ada"
    assert clocked.emu.requests()[-1]["rule"] is None  # a pure delay is not an injected answer


def test_a_delay_before_an_error(clocked: Clocked) -> None:
    clocked.emu.inject(error="loyalty.SERVICE_UNAVAILABLE", delay_ms=200)
    call = clocked.start("GET", LOYALTY_PROFILE)
    assert clocked.clock.asked == [0.2] and not call.done()
    clocked.clock.advance(0.2)
    assert call.result(timeout=10).status_code == 503


def delayed(clocked: Clocked) -> float:
    """The delay of the next call, in seconds as asked of the clock; the call answers 200."""
    call = clocked.start("GET", LOYALTY_PROFILE)
    asked = clocked.clock.asked[-1]
    clocked.clock.advance(asked)
    assert call.result(timeout=10).status_code == 200
    return asked


def test_uniform_and_lognormal_delays_follow_the_seeded_rng(clocked: Clocked) -> None:
    clocked.emu.config(seed=11)
    clocked.emu.inject(delay={"uniform": [150, 250]}, times=1)
    clocked.emu.inject(delay={"lognormal": {"median": 100, "sigma": 0.5, "maxMs": 400}})
    rng = random.Random(11)
    expected = [rng.uniform(150, 250)] + [
        min(100 * 2.718281828459045 ** (0.5 * rng.gauss(0, 1)), 400) for _ in range(2)
    ]
    assert [delayed(clocked) for _ in expected] == pytest.approx([ms / 1000 for ms in expected])


def test_a_lognormal_delay_is_capped(clocked: Clocked) -> None:
    clocked.emu.inject(delay={"lognormal": {"median": 60000, "sigma": 1, "maxMs": 200}})
    assert delayed(clocked) == 0.2


def test_a_delayed_call_does_not_hold_up_other_calls(clocked: Clocked) -> None:
    clocked.emu.inject(delay_ms=800, operation="getExtendedData")
    slow = clocked.start("GET", f"{LOYALTY_PROFILE}/emd")
    r = clocked.http.get(LOYALTY_PROFILE)
    assert r.status_code == 200  # answered while the other call waits out its delay
    assert not slow.done() and clocked.clock.waiting == 1
    clocked.clock.advance(0.8)
    assert slow.result(timeout=10).status_code == 200


# --- transport faults -----------------------------------------------------------------------


@pytest.fixture(params=["httptools", "h11"])
def any_server(
    request: pytest.FixtureRequest, server: EmulatorServer, h11_server: EmulatorServer
) -> EmulatorServer:
    """Transport faults on both of uvicorn's HTTP protocols."""
    return server if request.param == "httptools" else h11_server


@pytest.fixture
def faulty(any_server: EmulatorServer, namespace: str) -> Emulator:
    with Emulator(any_server.url, namespace) as emulator:
        yield emulator


def test_connection_reset_reaches_the_client_as_a_reset(
    faulty: Emulator, any_server: EmulatorServer
) -> None:
    faulty.inject(fault="connection_reset", operation="getProfile")
    with pytest.raises(httpx.ReadError) as caught:
        httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert "reset" in str(caught.value).lower()
    with pytest.raises(ConnectionResetError):
        raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace))
    entries = wait_for(lambda: faulty.requests() if len(faulty.requests()) == 2 else None)
    assert [(e["status"], e["fault"], e["rule"]) for e in entries] == [
        (None, "connection_reset", "f-1")
    ] * 2


def test_empty_response_closes_without_a_byte(faulty: Emulator, any_server: EmulatorServer) -> None:
    faulty.inject(fault="empty_response")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace)) == b""
    entries = wait_for(lambda: faulty.requests() if len(faulty.requests()) == 2 else None)
    assert [(e["status"], e["fault"]) for e in entries] == [(None, "empty_response")] * 2


def test_malformed_body_is_a_200_whose_json_does_not_parse(
    faulty: Emulator, any_server: EmulatorServer
) -> None:
    faulty.inject(fault="malformed_body")
    r = httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert (r.status_code, r.headers["content-type"], r.content) == (
        200,
        "application/json",
        MALFORMED_JSON,
    )
    with pytest.raises(ValueError):
        r.json()
    raw = raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace))
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n" + MALFORMED_JSON)
    assert [(e["status"], e["fault"]) for e in faulty.requests()] == [(200, "malformed_body")] * 2


def test_timeout_holds_until_the_client_gives_up_while_other_calls_are_served(
    faulty: Emulator, any_server: EmulatorServer
) -> None:
    faulty.inject(fault="timeout", operation="updateProfile")
    body = json.dumps(VALID_UPDATE).encode()
    held = socket.create_connection(("127.0.0.1", any_server.port), timeout=5)
    held.sendall(
        f"PUT {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\n"
        f"X-Emulator-Namespace: {faulty.namespace}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    namespace = any_server.app.runtime.namespace(faulty.namespace)
    assert wait_for(lambda: namespace.in_flight == 1)  # the server holds the call
    r = httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert r.status_code == 200  # served on another connection meanwhile
    held.setblocking(False)
    with pytest.raises(BlockingIOError):
        held.recv(1)  # still nothing for the held call
    held.close()  # the client gives up
    entry = wait_for(lambda: faulty.requests(operation="updateProfile"))[0]
    assert (entry["status"], entry["fault"]) == (None, "timeout")
    with pytest.raises(TimeoutError):
        raw_request(
            any_server.port,
            raw_get(LOYALTY_PROFILE, faulty.namespace).replace(b"GET", b"PUT"),
            timeout=0.3,
        )


def test_timeout_is_capped_by_the_server() -> None:
    clock = ManualClock()
    with (
        EmulatorServer(hold_seconds=0.3, clock=clock) as capped,
        Emulator(capped.url, "cap") as emulator,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        emulator.inject(fault="timeout")
        held = pool.submit(raw_request, capped.port, raw_get(LOYALTY_PROFILE, "cap"), 10)
        assert wait_for(lambda: clock.waiting == 1)
        assert clock.asked == [0.3] and not held.done()
        clock.advance(0.3)
        assert held.result(timeout=10) == b""  # the server closed the held connection


def test_control_calls_are_never_faulted_nor_journaled(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(fault="connection_reset")
    assert emu.health() and len(emu.rules()) == 1
    assert http.get("/_emulator/faults").status_code == 200
    assert emu.requests() == []


# --- matching -------------------------------------------------------------------------------


def test_match_by_api_and_operation(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="loyalty.INTERNAL_ERROR", api="loyalty", operation="getExtendedData")
    assert http.get(LOYALTY_PROFILE).status_code == 200
    assert http.get(f"{LOYALTY_PROFILE}/emd").status_code == 500
    assert http.get("/ccadmin/v1/profiles/se-570031").status_code == 401  # commerce untouched


def test_match_by_path_params(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="loyalty.INTERNAL_ERROR", path_params={"correlation_id": "seed-session-2"})
    assert http.get(LOYALTY_PROFILE).status_code == 200
    assert http.get("/client/users/seed-session-2/profile").status_code == 500


def test_match_by_headers_ignores_the_case_of_names(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="loyalty.INTERNAL_ERROR", headers={"X-Client-Version": "2.0"})
    assert http.get(LOYALTY_PROFILE, headers={"x-client-version": "1.0"}).status_code == 200
    assert http.get(LOYALTY_PROFILE, headers={"X-CLIENT-VERSION": "2.0"}).status_code == 500


def test_match_by_body_subset(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", body={"email": "taken@example.com"})
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200
    r = http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "email": "taken@example.com"})
    assert r.json()["errorCode"] == "EMAIL_ALREADY_EXISTS"


def test_an_empty_match_matches_every_vendor_operation(emu: Emulator, http: httpx.Client) -> None:
    http.headers["Authorization"] = f"Bearer {commerce_token(http)}"
    emu.inject(respond={"status": 299})
    for path in (LOYALTY_PROFILE, f"{LOYALTY_PROFILE}/emd", "/ccadmin/v1/profiles/x"):
        assert http.get(path).status_code == 299


def test_paths_and_methods_outside_the_spec_keep_their_404_and_405(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(respond={"status": 299})
    assert http.get("/client/nowhere").status_code == 404
    assert http.delete(LOYALTY_PROFILE).status_code == 405
    assert http.get("/ccadmin/v1/nowhere").status_code == 404
    assert [r["matched"] for r in emu.rules()] == [0]


def test_first_matching_rule_wins(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 501}, operation="getProfile")
    emu.inject(respond={"status": 502})
    assert http.get(LOYALTY_PROFILE).status_code == 501
    assert http.get(f"{LOYALTY_PROFILE}/emd").status_code == 502


# --- times, after, probability, ttl ---------------------------------------------------------


def test_times_and_after(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, after=2, times=2)
    assert [http.get(LOYALTY_PROFILE).status_code for _ in range(6)] == [
        200,
        200,
        503,
        503,
        200,
        200,
    ]
    [rule] = emu.rules()  # spent, and listed with its counters until removed
    assert (rule["matched"], rule["fired"], rule["spent"]) == (4, 2, True)


def test_counters_are_listed(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, after=1, times=5)
    for _ in range(3):
        http.get(LOYALTY_PROFILE)
    assert {k: emu.rules()[0][k] for k in ("matched", "fired")} == {"matched": 3, "fired": 2}


def test_probability_draws_from_the_namespaces_seeded_rng(
    emu: Emulator, http: httpx.Client
) -> None:
    def run() -> list[bool]:
        emu.inject(respond={"status": 503}, probability=0.3)
        return [http.get(LOYALTY_PROFILE).status_code == 503 for _ in range(30)]

    emu.config(seed=1234)
    first = run()
    rng = random.Random(1234)
    assert first == [rng.random() < 0.3 for _ in range(30)]
    assert 0 < sum(first) < 30
    emu.reset()
    emu.config(seed=1234)
    assert run() == first  # same seed, same faults
    emu.reset()
    emu.config(seed=99)
    assert run() != first


def test_ttl_expires_a_rule(clocked: Clocked) -> None:
    emu, http = clocked.emu, clocked.http
    emu.inject(respond={"status": 503}, ttl=0.3)
    assert http.get(LOYALTY_PROFILE).status_code == 503
    clocked.clock.advance(0.25)
    assert http.get(LOYALTY_PROFILE).status_code == 503
    clocked.clock.advance(0.25)
    assert http.get(LOYALTY_PROFILE).status_code == 200
    assert emu.rules() == []
