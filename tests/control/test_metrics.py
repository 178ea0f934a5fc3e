"""GET /_emulator/metrics over HTTP: what a Prometheus server scraping a shared emulator reads,
parsed with prometheus-client's own parser. Each test runs a server of its own: the counters
are the server's, across namespaces, so only a fresh one has counts a test can predict."""

from __future__ import annotations

import collections
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.control.conftest import (
    APP_KEY,
    COMMERCE_PROFILE,
    LOYALTY_PROFILE,
    VALID_UPDATE,
    raw_get,
    raw_request,
)
from tests.control.test_journal import SteppingClock

TOKEN = "metrics-token"
# The operationIds of the calls below, as openapi/loyalty.yaml and commerce.yaml declare them
# (both vendors name their profile read getProfile).
GET_PROFILE, UPDATE_PROFILE, LOGIN = "getProfile", "updateProfile", "login"

Samples = dict[tuple[tuple[str, str], ...], float]


def scrape(url: str, namespace: str = "default", **headers: str) -> dict[str, Samples]:
    """Sample name -> {its labels, sorted: value}."""
    response = httpx.get(
        f"{url}/_emulator/metrics", headers={"X-Emulator-Namespace": namespace, **headers}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    out: dict[str, Samples] = collections.defaultdict(dict)
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            out[sample.name][tuple(sorted(sample.labels.items()))] = sample.value
    return out


def calls(samples: dict[str, Samples]) -> dict[tuple[str, str, str], float]:
    """emulator_vendor_calls_total as {(api, operation, status): count}."""
    return {
        (labels["api"], labels["operation"], labels["status"]): value
        for labels, value in (
            (dict(key), value) for key, value in samples["emulator_vendor_calls_total"].items()
        )
    }


def faults(samples: dict[str, Samples]) -> dict[tuple[str, str, str], float]:
    """emulator_faults_total as {(api, action, fault): count}."""
    return {
        (labels["api"], labels["action"], labels["fault"]): value
        for labels, value in (
            (dict(key), value) for key, value in samples["emulator_faults_total"].items()
        )
    }


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as running:
        yield running


def test_vendor_calls_are_counted_by_api_operation_and_status(server: EmulatorServer) -> None:
    seen: collections.Counter[tuple[str, str, str]] = collections.Counter()
    with (
        httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": "team-a"}) as http,
        Emulator(server.url, "team-a") as emu,
    ):

        def call(api: str, operation: str, method: str, path: str, **kwargs: object) -> int:
            status = http.request(method, path, **kwargs).status_code  # type: ignore[arg-type]
            seen[(api, operation, str(status))] += 1
            return status

        assert call("loyalty", UPDATE_PROFILE, "PUT", LOYALTY_PROFILE, json=VALID_UPDATE) == 200
        assert call("loyalty", UPDATE_PROFILE, "PUT", LOYALTY_PROFILE, json={}) == 400
        assert call("loyalty", GET_PROFILE, "GET", LOYALTY_PROFILE) == 200
        assert call("loyalty", "", "GET", "/client/nowhere") == 404  # routed to no operation
        emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation=UPDATE_PROFILE, times=1)
        injected = call("loyalty", UPDATE_PROFILE, "PUT", LOYALTY_PROFILE, json=VALID_UPDATE)
        assert injected == emu.requests()[-1]["status"] != 200
        login = {"data": {"grant_type": "client_credentials"}}
        auth = {"headers": {"Authorization": f"Bearer {APP_KEY}"}}
        assert call("commerce", LOGIN, "POST", "/ccadmin/v1/login", **login, **auth) == 200
        assert call("commerce", LOGIN, "POST", "/ccadmin/v1/login", **login) == 401
        emu.inject(fault="connection_reset", operation=GET_PROFILE, times=1)
        with pytest.raises((ConnectionResetError, ConnectionError)):
            raw_request(server.port, raw_get(LOYALTY_PROFILE, "team-a"))
        seen[("loyalty", GET_PROFILE, "none")] += 1  # no response ever started
        emu.inject(respond={"status": 418}, api="commerce", stage="arrival", times=1)
        assert call("commerce", GET_PROFILE, "GET", COMMERCE_PROFILE) == 418

    samples = scrape(server.url, "team-a")
    assert calls(samples) == seen
    assert faults(samples) == {
        ("loyalty", "error", ""): 1,
        ("loyalty", "fault", "connection_reset"): 1,
        ("commerce", "respond", ""): 1,
    }
    # Control calls (the rules added, the journal read, this scrape) are not vendor calls.
    assert {api for api, _, _ in calls(scrape(server.url))} == {"loyalty", "commerce"}
    durations = samples["emulator_vendor_call_duration_seconds_count"]
    by_operation = collections.Counter[tuple[str, str]]()
    for api, operation, _ in seen.elements():
        by_operation[(api, operation)] += 1
    assert {
        (dict(key)["api"], dict(key)["operation"]): value for key, value in durations.items()
    } == by_operation


def test_namespaces_and_journal_bytes_are_read_when_scraped(server: EmulatorServer) -> None:
    for namespace in ("team-a", "team-b"):
        with httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": namespace}) as h:
            h.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    # A scrape uses its own namespace as any control call does: team-a's here.
    before = scrape(server.url, "team-a")
    assert before["emulator_namespaces"] == {(): 2}
    assert before["emulator_journal_bytes"][()] > 0
    for namespace in ("team-a", "team-b"):
        with Emulator(server.url, namespace) as emu:
            emu.reset()
    after = scrape(server.url, "team-a")  # team-a made afresh by the scrape, its journal empty
    assert after["emulator_namespaces"] == {(): 1}
    assert after["emulator_journal_bytes"] == {(): 0}
    # Counters are the server's: a namespace's reset leaves them.
    assert calls(after) == calls(before) == {("loyalty", UPDATE_PROFILE, "200"): 2}


def test_two_servers_in_one_process_count_apart(server: EmulatorServer) -> None:
    with EmulatorServer() as other:
        httpx.get(f"{server.url}{LOYALTY_PROFILE}")
        httpx.get(f"{other.url}{LOYALTY_PROFILE}")
        httpx.get(f"{other.url}{LOYALTY_PROFILE}")
        assert calls(scrape(server.url)) == {("loyalty", GET_PROFILE, "200"): 1}
        assert calls(scrape(other.url)) == {("loyalty", GET_PROFILE, "200"): 2}


def test_durations_fall_in_their_buckets() -> None:
    # The server's clock moves 0.25 s each time it is read: once when a call arrives and
    # once when it ends (no rules), so each call takes 0.25 s by it, a bucket's bound: a
    # bucket counts the durations up to and including its bound (`le`).
    with EmulatorServer(clock=SteppingClock(0.25)) as stepped:
        for _ in range(3):
            httpx.get(f"{stepped.url}{LOYALTY_PROFILE}")
        samples = scrape(stepped.url)
    labels = (("api", "loyalty"), ("operation", GET_PROFILE))
    buckets = {
        dict(key)["le"]: value
        for key, value in samples["emulator_vendor_call_duration_seconds_bucket"].items()
    }
    assert (buckets["0.1"], buckets["0.25"], buckets["0.5"], buckets["+Inf"]) == (0, 3, 3, 3)
    assert samples["emulator_vendor_call_duration_seconds_count"][labels] == 3
    assert samples["emulator_vendor_call_duration_seconds_sum"][labels] == pytest.approx(0.75)


def test_the_scrape_wants_the_control_token_when_the_server_has_one() -> None:
    with EmulatorServer(control_token=TOKEN) as guarded:
        httpx.get(f"{guarded.url}{LOYALTY_PROFILE}")  # vendor calls need no token
        refused = httpx.get(f"{guarded.url}/_emulator/metrics")
        assert refused.status_code == 401
        assert refused.json()["error"] == "unauthorized"
        assert "Bearer" in refused.headers["www-authenticate"]
        for headers in ({"Authorization": f"Bearer {TOKEN}"}, {"X-Emulator-Token": TOKEN}):
            samples = scrape(guarded.url, **headers)
            assert calls(samples) == {("loyalty", GET_PROFILE, "200"): 1}


def test_a_refused_namespace_header_is_counted_as_an_unrouted_vendor_call(
    server: EmulatorServer,
) -> None:
    bad = httpx.get(f"{server.url}{LOYALTY_PROFILE}", headers={"X-Emulator-Namespace": "a b"})
    assert calls(scrape(server.url)) == {("loyalty", "", str(bad.status_code)): 1}
