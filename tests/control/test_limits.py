"""Memory bounded in bytes (docs/control.md, "Limits"): the journal's byte budget and the
64 KiB it keeps of a body, the namespace cap (the least recently used idle namespace makes
room, never `default`), no namespace for a call that matches no operation, and control
errors that quote a huge value cut short."""

from __future__ import annotations

import json

import httpx
import pytest

from emulator import specs
from emulator.server import EmulatorServer
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE

CONTROL = "/_emulator"
KIB = 1024


def refused_update(size: int) -> bytes:
    """A profile update of about `size` bytes the vendor refuses (a bad postal code: 400)."""
    body = {**VALID_UPDATE, "postalZipCode": "nope", "firstName": ""}
    filler = size - len(json.dumps(body))
    return json.dumps({**body, "firstName": "x" * filler}).encode()


def test_the_journal_keeps_64_kib_of_a_body_and_its_whole_size(http: httpx.Client) -> None:
    big, small = refused_update(200 * KIB), refused_update(1 * KIB)
    for body in (big, small):
        r = http.put(LOYALTY_PROFILE, content=body, headers={"content-type": "application/json"})
        assert r.status_code == 400
    first, second = http.get(f"{CONTROL}/requests").json()["requests"]
    assert (first["bodySize"], first["bodyTruncated"]) == (len(big), True)
    assert first["body"] == big[: 64 * KIB].decode()  # a cut body is shown as text
    assert (second["bodySize"], second["bodyTruncated"]) == (len(small), False)
    assert second["body"] == json.loads(small)


def test_the_journal_drops_its_oldest_calls_beyond_its_byte_budget() -> None:
    budget = 300 * KIB  # room for four 64 KiB bodies, not five
    body = refused_update(512 * KIB)
    with (
        EmulatorServer(journal_bytes=budget) as small,
        httpx.Client(base_url=small.url, timeout=10) as http,
    ):
        for n in range(10):
            r = http.put(
                LOYALTY_PROFILE,
                params={"n": n},
                content=body,
                headers={"content-type": "application/json"},
            )
            assert r.status_code == 400
        listing = http.get(f"{CONTROL}/requests")
        queries = [e["query"] for e in listing.json()["requests"]]
        assert queries == ["n=6", "n=7", "n=8", "n=9"]
        assert len(listing.content) < budget + 64 * KIB  # the listing is bounded with it
        http.get(LOYALTY_PROFILE)  # a small call still fits beside the four big ones
        entries = http.get(f"{CONTROL}/requests").json()["requests"]
        assert [e["query"] for e in entries] == ["n=6", "n=7", "n=8", "n=9", ""]


def test_the_journal_always_keeps_the_newest_call_however_small_its_budget() -> None:
    with EmulatorServer(journal_bytes=1) as tiny, httpx.Client(base_url=tiny.url) as http:
        http.get(LOYALTY_PROFILE, params={"n": 1})
        http.get(LOYALTY_PROFILE, params={"n": 2})
        assert [e["query"] for e in http.get(f"{CONTROL}/requests").json()["requests"]] == ["n=2"]


def rules(http: httpx.Client, namespace: str) -> list[str]:
    answer = http.get(f"{CONTROL}/faults", headers={"X-Emulator-Namespace": namespace})
    assert answer.status_code == 200
    return [rule["id"] for rule in answer.json()]


def test_a_new_namespace_beyond_the_cap_drops_the_least_recently_used_one() -> None:
    with EmulatorServer(max_namespaces=3) as capped, httpx.Client(base_url=capped.url) as http:
        for name in ("default", "a", "b"):
            r = http.post(
                f"{CONTROL}/faults",
                json={"id": f"rule-{name}", "delayMs": 1},
                headers={"X-Emulator-Namespace": name},
            )
            assert r.status_code == 201
        http.get(LOYALTY_PROFILE, headers={"X-Emulator-Namespace": "a"})  # a: used since b
        assert http.get(LOYALTY_PROFILE, headers={"X-Emulator-Namespace": "c"}).status_code == 200
        assert rules(http, "a") == ["rule-a"]
        assert rules(http, "default") == ["rule-default"]  # never dropped, though the oldest
        assert capped.app.runtime.existing("b") is None
        assert rules(http, "b") == []  # made again from the fixtures (this drops c or a)
        assert (
            len(
                {
                    name
                    for name in ("default", "a", "b", "c")
                    if capped.app.runtime.existing(name) is not None
                }
            )
            == 3
        )


def test_a_call_that_matches_no_operation_makes_no_namespace() -> None:
    with EmulatorServer(max_namespaces=2) as capped, httpx.Client(base_url=capped.url) as http:
        r = http.post(
            f"{CONTROL}/faults",
            json={"id": "kept", "delayMs": 1},
            headers={"X-Emulator-Namespace": "team"},
        )
        assert r.status_code == 201
        for n in range(20):
            for method, path in (
                ("GET", "/client/nowhere"),
                ("DELETE", LOYALTY_PROFILE),
                ("GET", "/ccadmin/v1/nowhere"),
                ("GET", "/elsewhere"),
                ("GET", f"{CONTROL}/nowhere"),
            ):
                answer = http.request(method, path, headers={"X-Emulator-Namespace": f"lost-{n}"})
                assert answer.status_code in (404, 405)
            assert capped.app.runtime.existing(f"lost-{n}") is None
        assert rules(http, "team") == ["kept"]  # nothing made it give up its place


def test_an_unrouted_call_is_journaled_in_a_namespace_that_exists(http: httpx.Client) -> None:
    http.get(LOYALTY_PROFILE)
    http.get("/client/nowhere")
    entries = http.get(f"{CONTROL}/requests").json()["requests"]
    assert [(e["operation"], e["status"]) for e in entries] == [("getProfile", 200), (None, 404)]


@pytest.mark.parametrize(
    "where",
    [pytest.param("state", marks=pytest.mark.slow), "faults", "config", "namespace", "query"],
)
def test_a_control_error_quotes_a_huge_value_cut_short(http: httpx.Client, where: str) -> None:
    """A 50 MB state PUT must not get a 52 MB error back: at most ~200 characters of the
    value are repeated, whatever its size (a body as large as its operation takes)."""
    caps = {
        "state": ("/state", "put"),
        "faults": ("/faults", "post"),
        "config": ("/config", "patch"),
    }
    if where in caps:
        path, method = caps[where]
        cap = specs.load("control.yaml")["paths"][path][method]["x-max-body-bytes"]
        huge = "y" * (min(cap, 50 * 1024 * 1024) - 100)
    else:
        huge = "y" * 20_000
    headers = {"content-type": "application/json"}
    if where == "state":
        r = http.put(
            f"{CONTROL}/state", content=json.dumps({"loyalty.accounts": huge}), headers=headers
        )
    elif where == "faults":
        r = http.post(f"{CONTROL}/faults", content=json.dumps({"fault": huge}), headers=headers)
    elif where == "config":
        r = http.patch(
            f"{CONTROL}/config",
            headers=headers,
            content=json.dumps({"loyalty": {"validSources": huge}}),
        )
    elif where == "namespace":
        r = http.get(f"{CONTROL}/faults", headers={"X-Emulator-Namespace": huge})
    else:
        r = http.get(f"{CONTROL}/requests", params={"operation": "x", "api": huge})
    assert r.status_code == 400
    error = r.json()
    assert error.keys() == {"error", "detail"} and error["error"] == "invalid_request"
    assert 0 < error["detail"].count("y") <= 200 and "..." in error["detail"]
    assert len(r.content) < 1000
