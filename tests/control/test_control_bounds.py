"""Bounds of the control API (docs/control.md, "Limits"), over real HTTP.

- Fault rules per namespace are capped (1000, `serve --max-rules`): one more rule, or a
  scenario whose rules would go over, is answered 409 in the control shape, and nothing is
  added; removing rules makes room.
- Each control operation with a body has its own cap (control.yaml's `x-max-body-bytes`):
  a body over it is answered 413 naming the cap, before any of it is parsed, while other
  clients are answered; a body over 1 MiB that is taken (a state snapshot) is parsed beside
  the event loop, so another client is answered while it is.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator import payload, specs
from emulator.server import EmulatorServer
from tests.control.meanwhile import GUARD, answered_meanwhile, serve
from tests.processes import Served

CONTROL = "/_emulator"
SPEC = specs.load("control.yaml")
MB = 1024 * 1024
RULE = {"delayMs": 1}
SCENARIO = "commerce-internal-error"  # fixtures/scenarios: two rules


def operation(path: str, method: str) -> dict[str, Any]:
    return SPEC["paths"][path][method]


def example(response: str) -> dict[str, Any]:
    return SPEC["components"]["responses"][response]["content"]["application/json"]["example"]


# --- fault rules per namespace ------------------------------------------------------------------


@pytest.mark.slow
def test_a_namespace_holds_at_most_1000_rules(http: httpx.Client) -> None:
    # control.yaml (addFault): "A namespace holds at most 1000 rules".
    for n in range(1000):
        r = http.post(f"{CONTROL}/faults", json=RULE)
        assert r.status_code == 201, (n, r.text)
    r = http.post(f"{CONTROL}/faults", json=RULE)
    namespace = http.headers["X-Emulator-Namespace"]
    assert (r.status_code, r.json()) == (
        409,
        {
            "error": "too_many_rules",
            "detail": f"Namespace {namespace!r} would hold 1001 fault rules, over its cap of "
            "1000 (--max-rules): remove some first",
        },
    )
    assert example("TooManyRules")["error"] == "too_many_rules"
    assert len(http.get(f"{CONTROL}/faults").json()) == 1000
    assert http.delete(f"{CONTROL}/faults/f-1").status_code == 204
    assert http.post(f"{CONTROL}/faults", json=RULE).status_code == 201


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("capped"), "--max-rules", "3") as served:
        yield served


@pytest.mark.slow  # a server of its own
def test_the_cap_is_the_servers_max_rules_and_scenarios_count(capped: Served) -> None:
    with httpx.Client(base_url=capped.url, headers={"X-Emulator-Namespace": "cap"}) as http:
        assert http.post(f"{CONTROL}/faults", json=RULE).status_code == 201
        assert http.put(f"{CONTROL}/scenarios/{SCENARIO}").status_code == 200  # 1 + 2 rules
        r = http.post(f"{CONTROL}/faults", json=RULE)
        assert (r.status_code, r.json()["error"]) == (409, "too_many_rules")
        assert "over its cap of 3 (--max-rules)" in r.json()["detail"]
        # Activating it again replaces its own rules: still 3.
        assert http.put(f"{CONTROL}/scenarios/{SCENARIO}").status_code == 200
        assert http.delete(f"{CONTROL}/scenarios/{SCENARIO}").status_code == 200
        for _ in range(2):
            assert http.post(f"{CONTROL}/faults", json=RULE).status_code == 201
        r = http.put(f"{CONTROL}/scenarios/{SCENARIO}")  # 3 + 2 rules: refused whole
        assert (r.status_code, r.json()["error"]) == (409, "too_many_rules")
        assert "would hold 5 fault rules" in r.json()["detail"]
        assert [rule["id"] for rule in http.get(f"{CONTROL}/faults").json()] == [
            "f-1",
            "f-2",
            "f-3",
        ]
        listed = {s["name"]: s["active"] for s in http.get(f"{CONTROL}/scenarios").json()}
        assert listed[SCENARIO] is False


def test_the_409_is_declared_where_it_can_be_answered() -> None:
    for path, method in (("/faults", "post"), ("/scenarios/{name}", "put")):
        assert operation(path, method)["responses"]["409"] == {
            "$ref": "#/components/responses/TooManyRules"
        }


# --- body caps per control operation ------------------------------------------------------------


def test_each_control_operation_with_a_body_sets_its_cap_and_declares_the_413() -> None:
    for path, item in SPEC["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "requestBody" in op:
                assert isinstance(op.get("x-max-body-bytes"), int), (method, path)
                assert "413" in op["responses"], (method, path)
    # A snapshot legitimately needs far more than a rule, a rule than a configuration.
    assert (
        operation("/state", "put")["x-max-body-bytes"]
        > operation("/faults", "post")["x-max-body-bytes"]
        > operation("/config", "patch")["x-max-body-bytes"]
    )


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON of exactly ``size`` bytes (spaces before its closing brace)."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw[:-1] + b" " * (size - len(raw)) + b"}"


@pytest.mark.parametrize(
    ("method", "path", "body", "within"),
    [
        ("POST", "/faults", RULE, 201),
        ("PATCH", "/config", {"seed": 7}, 200),
    ],
)
def test_a_body_over_its_operations_cap_is_413_naming_the_cap(
    http: httpx.Client, method: str, path: str, body: dict[str, Any], within: int
) -> None:
    cap = operation(path, method.lower())["x-max-body-bytes"]
    headers = {"Content-Type": "application/json"}
    r = http.request(method, CONTROL + path, content=padded(body, cap), headers=headers)
    assert r.status_code == within, r.text
    r = http.request(method, CONTROL + path, content=padded(body, cap + 1), headers=headers)
    assert (r.status_code, r.json()) == (
        413,
        {
            "error": "payload_too_large",
            "detail": f"Request body too large: this call takes at most {cap} bytes",
        },
    )
    assert example("PayloadTooLarge")["detail"].startswith("Request body too large: ")


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The sizes of the bodies the server parses."""
    sizes: list[int] = []
    parse = payload.parse_json

    def counted(raw: bytes) -> Any:
        sizes.append(len(raw))
        return parse(raw)

    monkeypatch.setattr(payload, "parse_json", counted)
    return sizes


@pytest.mark.slow
def test_a_50_mb_fault_rule_is_refused_unparsed_while_others_are_answered(
    server: EmulatorServer, http: httpx.Client, parses: list[int]
) -> None:
    body = b'{"match": {"body": {"x": "' + b"y" * (50 * MB) + b'"}}, "delayMs": 1}'

    def call() -> httpx.Response | None:
        try:
            return http.post(
                f"{CONTROL}/faults", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.WriteError:  # answered (413) and closed before the 50 MB were sent
            return None

    r = answered_meanwhile(server.url, call, "a 50 MB fault rule")
    if r is not None:
        assert (r.status_code, r.json()["error"]) == (413, "payload_too_large")
    assert all(size < MB for size in parses), parses
    assert http.get(f"{CONTROL}/faults").json() == []


@pytest.mark.slow
def test_a_large_snapshot_is_parsed_while_other_clients_are_answered(
    server: EmulatorServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The parse of a snapshot over 1 MiB waits until another client has been answered: on
    the event loop, that wait would hold every client, and the other client would go
    unanswered past the guard."""
    state = http.get(f"{CONTROL}/state").json()
    template = state["loyalty.accounts"]["1000000001"]
    for n in range(5000):
        account = str(2_000_000_000 + n)
        state["loyalty.accounts"][account] = {
            **template,
            "accountId": account,
            "loyaltyId": str(8_000_000_000 + n),
            "profile": {**template["profile"], "email": f"m-{n}@example.com", "phoneNumber": None},
        }
    raw = json.dumps(state).encode()
    assert len(raw) > MB
    parsing, answered = threading.Event(), threading.Event()
    parse = payload.parse_json

    def waiting(body: bytes) -> Any:
        if len(body) > MB:
            parsing.set()
            answered.wait(GUARD)  # on the event loop this holds every client
        return parse(body)

    monkeypatch.setattr(payload, "parse_json", waiting)
    result: list[httpx.Response] = []
    restore = threading.Thread(
        target=lambda: result.append(
            http.put(f"{CONTROL}/state", content=raw, headers={"Content-Type": "application/json"})
        )
    )
    restore.start()
    try:
        assert parsing.wait(GUARD), "the snapshot was never parsed"
        with httpx.Client(base_url=server.url, timeout=GUARD) as other:
            try:
                assert other.get(f"{CONTROL}/health").status_code == 200
            except httpx.TimeoutException:
                pytest.fail(f"another client went unanswered for {GUARD} s during the parse")
            answered.set()
    finally:
        answered.set()
        restore.join(2 * GUARD)
    assert result and result[0].status_code == 204, result and result[0].text
    assert len(http.get(f"{CONTROL}/state").json()["loyalty.accounts"]) == len(
        state["loyalty.accounts"]
    )
