"""Every action and fault kind, as a real client sees it; matching, counting and expiry."""
from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from emulator.transport import MALFORMED_JSON
from tests.control.conftest import (LOYALTY_PROFILE, VALID_UPDATE, commerce_token, raw_get,
                                    raw_request, wait_for)



# --- catalogue errors -----------------------------------------------------------------------


# Every documented error on each operation documenting it: tests/control/test_injection_contract.py


# --- respond --------------------------------------------------------------------------------


def test_respond_sends_exactly_the_rule(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503, "headers": {"Retry-After": "2", "X-Extra": "yes"},
                        "body": {"not": ["the", "vendor", "shape"]}})
    r = http.get(LOYALTY_PROFILE)
    assert (r.status_code, r.json()) == (503, {"not": ["the", "vendor", "shape"]})
    assert (r.headers["retry-after"], r.headers["x-extra"]) == ("2", "yes")


@pytest.mark.parametrize(("respond", "content", "content_type"), [
    ({"status": 204}, b"", None),
    ({"status": 200, "body": None}, b"null", "application/json"),
    ({"status": 418, "body": "teapot"}, b'"teapot"', "application/json"),
    ({"status": 200, "headers": {"Content-Type": "text/plain"}, "body": "hi"}, b'"hi"', "text/plain"),
])
def test_respond_bodies_and_content_types(emu: Emulator, http: httpx.Client, respond: dict,
                                          content: bytes, content_type: str | None) -> None:
    emu.inject(respond=respond)
    r = http.get(LOYALTY_PROFILE)
    assert (r.status_code, r.content, r.headers.get("content-type")) == (
        respond["status"], content, content_type)


# --- delays ---------------------------------------------------------------------------------


def timed(call: Callable[[], httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = call()
    return time.perf_counter() - started, response


def test_a_delay_only_rule_adds_latency_and_lets_the_call_through(emu: Emulator,
                                                                   http: httpx.Client) -> None:
    emu.inject(delay_ms=300, operation="getProfile")
    elapsed, r = timed(lambda: http.get(LOYALTY_PROFILE))
    assert r.status_code == 200 and r.json()["firstName"] == "Ada"
    assert elapsed >= 0.3
    assert emu.requests()[-1]["rule"] is None  # a pure delay is not an injected answer


def test_a_delay_before_an_error(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(error="loyalty.SERVICE_UNAVAILABLE", delay_ms=200)
    elapsed, r = timed(lambda: http.get(LOYALTY_PROFILE))
    assert r.status_code == 503 and elapsed >= 0.2


def test_uniform_and_lognormal_delays_follow_the_seeded_rng(emu: Emulator, http: httpx.Client) -> None:
    emu.config(seed=11)
    emu.inject(delay={"uniform": [150, 250]}, times=1)
    emu.inject(delay={"lognormal": {"median": 100, "sigma": 0.5, "maxMs": 400}})
    rng = random.Random(11)
    expected = [rng.uniform(150, 250)] + [min(100 * 2.718281828459045 ** (0.5 * rng.gauss(0, 1)), 400)
                                          for _ in range(2)]
    for delay_ms in expected:
        elapsed, r = timed(lambda: http.get(LOYALTY_PROFILE))
        assert r.status_code == 200
        assert delay_ms / 1000 <= elapsed < delay_ms / 1000 + 0.5


def test_a_lognormal_delay_is_capped(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(delay={"lognormal": {"median": 60000, "sigma": 1, "maxMs": 200}})
    elapsed, r = timed(lambda: http.get(LOYALTY_PROFILE))
    assert r.status_code == 200 and 0.2 <= elapsed < 2


def test_a_delayed_call_does_not_hold_up_other_calls(emu: Emulator, http: httpx.Client,
                                                     server: EmulatorServer) -> None:
    emu.inject(delay_ms=800, operation="getExtendedData")
    slow = threading.Thread(target=lambda: httpx.get(
        f"{server.url}{LOYALTY_PROFILE}/emd", headers=emu.headers, timeout=10))
    slow.start()
    time.sleep(0.1)
    elapsed, r = timed(lambda: http.get(LOYALTY_PROFILE))
    assert r.status_code == 200 and elapsed < 0.5
    slow.join()


# --- transport faults -----------------------------------------------------------------------


@pytest.fixture(params=["httptools", "h11"])
def any_server(request: pytest.FixtureRequest, server: EmulatorServer,
               h11_server: EmulatorServer) -> EmulatorServer:
    """Transport faults on both of uvicorn's HTTP protocols."""
    return server if request.param == "httptools" else h11_server


@pytest.fixture
def faulty(any_server: EmulatorServer, namespace: str) -> Emulator:
    with Emulator(any_server.url, namespace) as emulator:
        yield emulator


def test_connection_reset_reaches_the_client_as_a_reset(faulty: Emulator, any_server: EmulatorServer) -> None:
    faulty.inject(fault="connection_reset", operation="getProfile")
    with pytest.raises(httpx.ReadError) as caught:
        httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert "reset" in str(caught.value).lower()
    with pytest.raises(ConnectionResetError):
        raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace))
    entries = wait_for(lambda: faulty.requests() if len(faulty.requests()) == 2 else None)
    assert [(e["status"], e["fault"], e["rule"]) for e in entries] == [(None, "connection_reset", "f-1")] * 2


def test_empty_response_closes_without_a_byte(faulty: Emulator, any_server: EmulatorServer) -> None:
    faulty.inject(fault="empty_response")
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace)) == b""
    entries = wait_for(lambda: faulty.requests() if len(faulty.requests()) == 2 else None)
    assert [(e["status"], e["fault"]) for e in entries] == [(None, "empty_response")] * 2


def test_malformed_body_is_a_200_whose_json_does_not_parse(faulty: Emulator,
                                                          any_server: EmulatorServer) -> None:
    faulty.inject(fault="malformed_body")
    r = httpx.get(f"{any_server.url}{LOYALTY_PROFILE}", headers=faulty.headers, timeout=5)
    assert (r.status_code, r.headers["content-type"], r.content) == (200, "application/json", MALFORMED_JSON)
    with pytest.raises(ValueError):
        r.json()
    raw = raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace))
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\n" + MALFORMED_JSON)
    assert [(e["status"], e["fault"]) for e in faulty.requests()] == [(200, "malformed_body")] * 2


def test_timeout_holds_until_the_client_gives_up_while_other_calls_are_served(
        faulty: Emulator, any_server: EmulatorServer) -> None:
    faulty.inject(fault="timeout", operation="updateProfile")
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            httpx.put(f"{any_server.url}{LOYALTY_PROFILE}", json=VALID_UPDATE,
                      headers=faulty.headers, timeout=0.6)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion below
            outcome.append(exc)

    started = time.perf_counter()
    hanging = threading.Thread(target=hang)
    hanging.start()
    time.sleep(0.2)
    elapsed, r = timed(lambda: httpx.get(f"{any_server.url}{LOYALTY_PROFILE}",
                                         headers=faulty.headers, timeout=5))
    assert r.status_code == 200 and elapsed < 0.5  # served on another connection meanwhile
    hanging.join()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.ReadTimeout)
    assert time.perf_counter() - started >= 0.6
    entry = wait_for(lambda: faulty.requests(operation="updateProfile"))[0]
    assert (entry["status"], entry["fault"]) == (None, "timeout")
    with pytest.raises(TimeoutError):
        raw_request(any_server.port, raw_get(LOYALTY_PROFILE, faulty.namespace).replace(
            b"GET", b"PUT"), timeout=0.3)


def test_timeout_is_capped_by_the_server() -> None:
    with EmulatorServer(hold_seconds=0.3) as capped, Emulator(capped.url, "cap") as emulator:
        emulator.inject(fault="timeout")
        started = time.perf_counter()
        assert raw_request(capped.port, raw_get(LOYALTY_PROFILE, "cap"), timeout=5) == b""
        assert 0.3 <= time.perf_counter() - started < 3


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


def test_paths_and_methods_outside_the_spec_keep_their_404_and_405(emu: Emulator,
                                                                   http: httpx.Client) -> None:
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
    assert [http.get(LOYALTY_PROFILE).status_code for _ in range(6)] == [200, 200, 503, 503, 200, 200]
    [rule] = emu.rules()  # spent, and listed with its counters until removed
    assert (rule["matched"], rule["fired"], rule["spent"]) == (4, 2, True)


def test_counters_are_listed(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, after=1, times=5)
    for _ in range(3):
        http.get(LOYALTY_PROFILE)
    assert {k: emu.rules()[0][k] for k in ("matched", "fired")} == {"matched": 3, "fired": 2}


def test_probability_draws_from_the_namespaces_seeded_rng(emu: Emulator, http: httpx.Client) -> None:
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


def test_ttl_expires_a_rule(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, ttl=0.3)
    assert http.get(LOYALTY_PROFILE).status_code == 503
    time.sleep(0.35)
    assert http.get(LOYALTY_PROFILE).status_code == 200
    assert emu.rules() == []
