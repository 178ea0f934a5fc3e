"""emulator.client.Emulator: each helper against the live server."""

from __future__ import annotations

import httpx
import pytest

from emulator.client import Emulator, EmulatorError
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE


def test_url_namespace_and_headers(emu: Emulator, namespace: str, server) -> None:
    assert (emu.url, emu.namespace) == (server.url, namespace)
    assert emu.headers == {"X-Emulator-Namespace": namespace}
    assert emu.health() is True


def test_inject_builds_the_rule_from_keywords(emu: Emulator) -> None:
    rule_id = emu.inject(
        error="loyalty.EMAIL_ALREADY_EXISTS",
        api="loyalty",
        operation="updateProfile",
        path_params={"correlation_id": "c-1"},
        headers={"X-A": "1"},
        body={"email": "a@b.co"},
        delay_ms=5,
        times=2,
        after=1,
        probability=0.5,
        ttl=60,
        rule_id="dup-email",
        description="email taken",
    )
    assert rule_id == "dup-email"
    assert emu.rules() == [
        {
            "id": "dup-email",
            "description": "email taken",
            "error": "loyalty.EMAIL_ALREADY_EXISTS",
            "match": {
                "api": "loyalty",
                "operation": "updateProfile",
                "pathParams": {"correlation_id": "c-1"},
                "headers": {"X-A": "1"},
                "body": {"email": "a@b.co"},
            },
            "delayMs": 5,
            "times": 2,
            "after": 1,
            "probability": 0.5,
            "ttlSeconds": 60,
            "stage": "checked",
            "matched": 0,
            "fired": 0,
            "spent": False,
        }
    ]
    emu.remove("dup-email")
    assert emu.rules() == []


def test_inject_fault_respond_and_delay(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(fault="malformed_body", operation="getExtendedData")
    emu.inject(
        respond={"status": 503, "headers": {"Retry-After": "1"}}, operation="getProfile", times=1
    )
    emu.inject(delay={"uniform": [1, 2]})
    assert http.get(f"{LOYALTY_PROFILE}/emd").content.startswith(b'{"status"')
    assert http.get(LOYALTY_PROFILE).status_code == 503
    assert http.get(LOYALTY_PROFILE).status_code == 200
    assert [rule["spent"] for rule in emu.rules()] == [False, True, False]  # listed until cleared
    emu.clear_rules()
    assert emu.rules() == []


def test_a_refused_call_raises_with_the_detail(emu: Emulator) -> None:
    with pytest.raises(EmulatorError) as caught:
        emu.inject(error="loyalty.NOPE")
    assert caught.value.status == 400
    assert "unknown error 'loyalty.NOPE'" in caught.value.detail
    assert "POST /_emulator/faults: 400" in str(caught.value)
    with pytest.raises(EmulatorError, match="404"):
        emu.activate("no-such-scenario")


def test_add_rule_takes_the_json_form(emu: Emulator) -> None:
    assert emu.add_rule({"match": {"api": "commerce"}, "fault": "timeout"}) == "f-1"


def test_errors_and_scenarios(emu: Emulator) -> None:
    assert "loyalty.EMAIL_ALREADY_EXISTS" in {e["name"] for e in emu.errors()}
    emu.activate("loyalty-flaky")
    assert {s["name"]: s["active"] for s in emu.scenarios()}["loyalty-flaky"] is True
    emu.deactivate("loyalty-flaky")
    assert not any(s["active"] for s in emu.scenarios())


def test_requests_with_filters_and_clear(emu: Emulator, http: httpx.Client) -> None:
    http.get(LOYALTY_PROFILE)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    assert [r["operation"] for r in emu.requests()] == ["getProfile", "updateProfile"]
    assert emu.requests(operation="updateProfile")[0]["body"] == VALID_UPDATE
    assert emu.requests(api="commerce") == []
    assert len(emu.requests(status=200, limit=1)) == 1
    emu.clear_requests()
    assert emu.requests() == []


def test_state_restore_config_and_reset(emu: Emulator) -> None:
    state = emu.state()
    emu.restore({"loyalty.accounts": state["loyalty.accounts"]})
    assert emu.state()["loyalty.sessions"] == {}
    assert emu.config(seed=5, loyalty={"extendedData": {"topLevelKeysLimit": 3}})["seed"] == 5
    assert emu.config()["loyalty"]["extendedData"] == {"dataSizeLimitKb": 5, "topLevelKeysLimit": 3}
    emu.reset()
    assert emu.state() == state and emu.config()["seed"] == 0
