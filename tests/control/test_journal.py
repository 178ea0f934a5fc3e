"""The journal's answers: each entry's id, the response the client received, how long the call
took (by an injected clock), the rule that acted, and the filters (path, body, rule, time
window, after an id)."""

from __future__ import annotations

import datetime
from collections.abc import Iterator

import httpx
import pytest

from emulator.client import Emulator
from emulator.clock import ManualClock
from emulator.server import EmulatorServer
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE, raw_get, raw_request, wait_for

CONTROL = "/_emulator"


def journal(http: httpx.Client, **params: object) -> list[dict]:
    answer = http.get(f"{CONTROL}/requests", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["requests"]


def test_entries_have_ids_in_call_order_not_reused_after_a_clear(http: httpx.Client) -> None:
    for _ in range(3):
        http.get(LOYALTY_PROFILE)
    assert [e["id"] for e in journal(http)] == [1, 2, 3]
    http.delete(f"{CONTROL}/requests")
    http.get(LOYALTY_PROFILE)
    assert [e["id"] for e in journal(http)] == [4]
    http.post(f"{CONTROL}/reset")  # a reset starts the namespace afresh
    http.get(LOYALTY_PROFILE)
    assert [e["id"] for e in journal(http)] == [1]


def test_an_entry_holds_the_response_the_client_received(http: httpx.Client) -> None:
    ok = http.get(LOYALTY_PROFILE)
    refused = http.put(LOYALTY_PROFILE, json={"firstName": "Ada"})
    first, second = journal(http)
    for entry, answer in ((first, ok), (second, refused)):
        response = entry["response"]
        assert response["status"] == answer.status_code == entry["status"]
        assert response["body"] == answer.json()
        assert response["headers"]["content-type"] == answer.headers["content-type"]
        assert response["headers"]["content-length"] == answer.headers["content-length"]
        assert response["size"] == len(answer.content) and response["truncated"] is False
    assert entry["actedBy"] is None and entry["rule"] is None


KIB = 1024


def test_a_response_beyond_the_cap_is_kept_cut_short_with_its_size(
    emu: Emulator, http: httpx.Client
) -> None:
    text = "x" * (1024 * KIB + 10)  # the body's JSON is 2 bytes longer (the quotes)
    emu.inject(respond={"status": 200, "body": text}, operation="getProfile")
    answer = http.get(LOYALTY_PROFILE)
    assert answer.json() == text
    [entry] = journal(http)
    response = entry["response"]
    assert (response["size"], response["truncated"]) == (len(answer.content), True)
    assert response["body"] == answer.text[: 64 * KIB]  # the first 64 KiB, as a request's, as text


def test_response_bodies_count_against_the_journals_byte_budget() -> None:
    # Small requests, 64 KiB kept of each 200 KiB answer: room for four, not five.
    with (
        EmulatorServer(journal_bytes=300 * KIB) as small,
        Emulator(small.url, "budget") as emu,
        httpx.Client(base_url=small.url, headers=emu.headers) as http,
    ):
        emu.inject(respond={"status": 200, "body": "y" * (200 * KIB)}, operation="getProfile")
        for n in range(10):
            assert http.get(LOYALTY_PROFILE, params={"n": n}).status_code == 200
        entries = journal(http)
        assert [e["query"] for e in entries] == ["n=6", "n=7", "n=8", "n=9"]
        assert {(e["response"]["size"], e["response"]["truncated"]) for e in entries} == {
            (200 * KIB + 2, True)
        }


def test_an_empty_response_and_a_transport_fault(
    emu: Emulator, http: httpx.Client, server: EmulatorServer
) -> None:
    emu.inject(respond={"status": 204}, operation="getProfile", times=1)
    assert http.get(LOYALTY_PROFILE).status_code == 204
    emu.inject(fault="connection_reset", operation="getProfile", rule_id="reset", times=1)
    with pytest.raises(ConnectionResetError):
        raw_request(server.port, raw_get(LOYALTY_PROFILE, emu.namespace))
    entries = wait_for(lambda: (found := journal(http)) and len(found) == 2 and found)
    empty, broken = entries
    assert empty["response"] == {
        "status": 204,
        "headers": {},
        "body": None,
        "size": 0,
        "truncated": False,
    }
    assert empty["actedBy"] == {"id": "f-1", "scenario": None, "action": "respond"}
    assert (broken["status"], broken["response"], broken["fault"]) == (
        None,
        None,
        "connection_reset",
    )
    assert broken["actedBy"] == {"id": "reset", "scenario": None, "action": "fault"}


def test_acted_by_names_the_rule_its_scenario_and_its_action(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(delay_ms=1, operation="getProfile", rule_id="slow", times=1)
    http.get(LOYALTY_PROFILE)
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    emu.activate("loyalty-email-taken")
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    delayed, injected, outage = journal(http)
    # A pure delay acted, but is no injected answer: `rule` stays null for it.
    assert (delayed["rule"], delayed["actedBy"]) == (
        None,
        {"id": "slow", "scenario": None, "action": "delay"},
    )
    assert (injected["rule"], injected["actedBy"]) == (
        "f-1",
        {"id": "f-1", "scenario": None, "action": "error"},
    )
    assert outage["actedBy"]["scenario"] == "loyalty-email-taken"
    assert outage["actedBy"]["id"] == outage["rule"] and outage["rule"].startswith(
        "s-loyalty-email-taken-"
    )


class SteppingClock(ManualClock):
    """A clock that moves a fixed step each time it is read."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def now(self) -> float:
        self._now += self.step
        return self._now


@pytest.fixture(scope="module")
def stepped() -> Iterator[EmulatorServer]:
    with EmulatorServer(clock=SteppingClock(0.125)) as running:
        yield running


def test_duration_is_read_from_the_servers_clock(stepped: EmulatorServer) -> None:
    # No rules: the clock is read when the call arrives and when it ends, nowhere else.
    with httpx.Client(base_url=stepped.url, headers={"X-Emulator-Namespace": "clocked"}) as http:
        http.get(LOYALTY_PROFILE)
        http.put(LOYALTY_PROFILE, json={})
        assert [e["durationMs"] for e in journal(http)] == [125.0, 125.0]


def test_filters_by_path_body_and_rule(emu: Emulator, http: httpx.Client) -> None:
    http.get(LOYALTY_PROFILE)
    http.get("/client/users/no-such-session/profile")
    http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "email": "needle@example.com"})
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", rule_id="taken")
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)

    def ids(**params: object) -> list[int]:
        return [e["id"] for e in journal(http, **params)]

    assert ids(path="no-such-session") == [2]
    assert ids(path="/profile") == [1, 2, 3, 4]
    assert ids(body="needle@example") == [3]  # in the request body
    assert ids(body="EMAIL_ALREADY_EXISTS") == [4]  # in the response body
    assert ids(rule="taken") == [4]
    assert ids(rule="taken", status=200) == []
    assert ids(after=2) == [3, 4]
    assert ids(after=2, limit=1) == [4]
    assert ids(after=4) == []


def test_filters_by_a_time_window(http: httpx.Client) -> None:
    for _ in range(3):
        http.get(LOYALTY_PROFILE)
    entries = journal(http)
    first, last = entries[0]["at"], entries[-1]["at"]
    assert [e["id"] for e in journal(http, since=first, until=last)] == [1, 2, 3]
    assert [e["id"] for e in journal(http, since=last)] == [
        e["id"] for e in entries if e["at"] >= last
    ]
    assert [e["id"] for e in journal(http, until=first)] == [
        e["id"] for e in entries if e["at"] <= first
    ]
    later = (datetime.datetime.fromisoformat(last) + datetime.timedelta(seconds=1)).isoformat()
    assert journal(http, since=later) == []
    earlier = datetime.datetime.fromisoformat(first) - datetime.timedelta(hours=1)
    # No zone: UTC.
    assert len(journal(http, since=earlier.replace(tzinfo=None).isoformat())) == 3


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"until": "2026-13-01T00:00:00Z"},
        {"after": -1},
        {"rule": "no spaces"},
        {"path": ""},
        {"body": ""},
    ],
)
def test_bad_filters_are_400(http: httpx.Client, params: dict[str, object]) -> None:
    answer = http.get(f"{CONTROL}/requests", params=params)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_a_bad_time_says_which_parameter_and_what_is_expected(http: httpx.Client) -> None:
    answer = http.get(f"{CONTROL}/requests", params={"since": "yesterday"})
    assert answer.json() == {
        "error": "invalid_request",
        "detail": "since: 'yesterday' is not a date-time such as 2026-01-05T10:00:00Z",
    }


def test_namespaces_are_listed_with_their_counts(
    server: EmulatorServer, emu: Emulator, http: httpx.Client
) -> None:
    http.get(LOYALTY_PROFILE)
    http.get(LOYALTY_PROFILE)
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)  # spends the rule
    emu.activate("loyalty-flaky")
    rules = emu.rules()
    assert sum(rule["spent"] for rule in rules) == 1 and len(rules) > 1
    listing = httpx.get(f"{server.url}{CONTROL}/namespaces").json()
    mine = next(n for n in listing if n["name"] == emu.namespace)
    assert mine == {
        "name": emu.namespace,
        "requests": 3,
        "latest": 3,
        "rules": len(rules),
        "spentRules": 1,
        "activeScenarios": ["loyalty-flaky"],
    }
    assert [n["name"] for n in listing] == sorted(n["name"] for n in listing)
    emu.reset()
    listing = httpx.get(f"{server.url}{CONTROL}/namespaces").json()
    assert emu.namespace not in [n["name"] for n in listing]
