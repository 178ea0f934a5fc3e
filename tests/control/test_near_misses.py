"""Near misses: for one journaled call, why each rule of the namespace did not act on it
(GET /_emulator/requests/{id}/near-misses and Emulator.near_misses), closest rules first."""

from __future__ import annotations

import httpx
import pytest

from emulator.client import Emulator, EmulatorError
from emulator.clock import ManualClock
from emulator.server import EmulatorServer
from tests.control.conftest import COMMERCE_PROFILE, LOYALTY_PROFILE, VALID_UPDATE

CONTROL = "/_emulator"


def last_id(emu: Emulator) -> int:
    return emu.requests()[-1]["id"]


def reasons(emu: Emulator, request_id: int | None = None) -> list[tuple[str, str]]:
    found = emu.near_misses(last_id(emu) if request_id is None else request_id)
    return [(miss["rule"]["id"], miss["reason"]) for miss in found]


def test_each_rule_that_did_not_act_says_why_closest_first(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(
        error="loyalty.EMAIL_ALREADY_EXISTS",
        operation="updateProfile",
        body={"email": "a@b.co", "address": {"city": "Paris"}},
        rule_id="two-fields",
    )
    emu.inject(
        error="loyalty.EMAIL_ALREADY_EXISTS",
        operation="updateProfile",
        body={"email": "a@b.co"},
        rule_id="body",
    )
    emu.inject(respond={"status": 503}, operation="getProfile", rule_id="operation")
    emu.inject(respond={"status": 503}, api="commerce", rule_id="api")
    emu.inject(respond={"status": 503}, headers={"X-Trace": "1"}, rule_id="header-missing")
    emu.inject(
        respond={"status": 503}, headers={"Content-Type": "text/plain"}, rule_id="header-differs"
    )
    emu.inject(respond={"status": 503}, operation="updateProfile", after=1, rule_id="after")
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200
    found = emu.near_misses(last_id(emu))
    assert [(m["rule"]["id"], m["reason"], m["distance"]) for m in found] == [
        ("after", "after", 0),
        ("body", "body", 1),
        ("operation", "operation", 1),
        ("api", "api", 1),
        ("header-missing", "headerMissing", 1),
        ("header-differs", "headerDiffers", 1),
        ("two-fields", "body", 2),
    ]
    by_id = {m["rule"]["id"]: m for m in found}
    assert by_id["body"] == {
        **by_id["body"],
        "path": "email",
        "expected": "a@b.co",
        "actual": VALID_UPDATE["email"],
        "detail": f"body email: the rule expects 'a@b.co', the call has '{VALID_UPDATE['email']}'",
    }
    assert by_id["two-fields"]["path"] == "email"  # the first field that differs
    assert by_id["operation"]["detail"] == "the rule is for getProfile, the call was updateProfile"
    assert by_id["api"]["detail"] == "the rule is for the commerce API, the call went to loyalty"
    assert by_id["header-missing"]["detail"] == "header X-Trace: missing (the rule expects '1')"
    assert by_id["header-differs"]["detail"] == (
        "header Content-Type: the rule expects 'text/plain', the call has 'application/json'"
    )
    assert (
        by_id["after"]["detail"] == "after not reached: this was match 1 of the 1 it lets through"
    )
    assert by_id["after"]["rule"]["matched"] == 1  # each rule with its counters


def test_a_missing_body_field_names_its_dotted_path(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(
        error="loyalty.EMAIL_ALREADY_EXISTS",
        operation="updateProfile",
        body={"preferences": {"language": "fr"}},
    )
    http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "preferences": {}})
    [miss] = emu.near_misses(last_id(emu))
    assert (miss["reason"], miss["path"], miss["expected"]) == (
        "body",
        "preferences.language",
        "fr",
    )
    assert miss["detail"] == "body preferences.language: missing (the rule expects 'fr')"
    assert "actual" not in miss


def test_spent_rules_stay_listed_with_their_counters_and_are_near_misses(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 400
    assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200
    [rule] = emu.rules()
    assert (rule["id"], rule["spent"], rule["matched"], rule["fired"]) == ("f-1", True, 1, 1)
    first, second = emu.requests()
    assert emu.near_misses(first["id"]) == []  # it acted on the first call
    [miss] = emu.near_misses(second["id"])
    assert (miss["reason"], miss["detail"]) == (
        "spent",
        "spent: it fired its 1 time(s) before this call",
    )
    assert miss["rule"]["spent"] is True


def test_spent_rules_are_near_misses_when_no_rule_is_live(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(respond={"status": 503}, operation="getProfile", times=1)
    emu.inject(respond={"status": 503}, operation="updateProfile", times=1)
    http.get(LOYALTY_PROFILE)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)  # both spent now: no rule is weighed at all
    assert reasons(emu) == [("f-2", "spent"), ("f-1", "operation")]  # the closer first


def test_probability_that_drew_no(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, operation="getProfile", probability=0, rule_id="never")
    assert http.get(LOYALTY_PROFILE).status_code == 200
    [miss] = emu.near_misses(last_id(emu))
    assert (miss["reason"], miss["detail"]) == ("probability", "probability 0: the draw said no")


def test_a_rule_of_the_checked_stage_when_the_call_failed_its_checks(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", rule_id="later")
    # Mandatory fields missing: the vendor's own 400, before any checked-stage rule acts.
    assert http.put(LOYALTY_PROFILE, json={"firstName": "Ada"}).status_code == 400
    [miss] = emu.near_misses(last_id(emu))
    assert miss["reason"] == "stage"
    assert miss["detail"] == (
        "it acts at stage checked, which the call never reached (it was "
        "answered before the vendor's checks passed)"
    )


def test_a_rule_an_earlier_rule_of_its_stage_decided_before(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(respond={"status": 503}, operation="getProfile", rule_id="first")
    emu.inject(respond={"status": 502}, operation="getProfile", rule_id="second")
    assert http.get(LOYALTY_PROFILE).status_code == 503
    answer = emu._call("GET", f"/requests/{last_id(emu)}/near-misses")
    assert answer["actedBy"] == {"id": "first", "scenario": None, "action": "respond"}
    [miss] = answer["nearMisses"]
    assert (miss["rule"]["id"], miss["reason"], miss["detail"]) == (
        "second",
        "shadowed",
        "an earlier rule of stage checked decided first (first)",
    )


def test_an_error_rule_is_narrowed_to_the_operations_documenting_it(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS")  # no operation: only where documented
    http.get(LOYALTY_PROFILE)
    [miss] = emu.near_misses(last_id(emu))
    assert miss["reason"] == "operation"
    assert miss["detail"].startswith("the rule's error is documented only for ")
    assert miss["detail"].endswith(", the call was getProfile")


def test_a_path_parameter_that_differs(emu: Emulator, http: httpx.Client) -> None:
    emu.inject(respond={"status": 503}, path_params={"correlation_id": "other"})
    http.get(LOYALTY_PROFILE)
    [miss] = emu.near_misses(last_id(emu))
    assert (miss["reason"], miss["path"], miss["expected"], miss["actual"]) == (
        "pathParams",
        "correlation_id",
        "other",
        "seed-session-1",
    )


def test_an_expired_rule_is_a_near_miss_until_removed() -> None:
    clock = ManualClock()
    with (
        EmulatorServer(clock=clock) as server,
        Emulator(server.url, "ttl") as emu,
        httpx.Client(base_url=server.url, headers=emu.headers) as http,
    ):
        emu.inject(respond={"status": 503}, operation="getProfile", ttl=60, rule_id="brief")
        emu.inject(respond={"status": 503}, operation="getProfile", ttl=600, rule_id="longer")
        emu.inject(delay_ms=0, operation="updateProfile", rule_id="keeps-the-engine-live")
        assert http.get(LOYALTY_PROFILE).status_code == 503
        clock.advance(61)
        assert http.get(LOYALTY_PROFILE).status_code == 503  # `longer` now
        assert [r["id"] for r in emu.rules()] == ["longer", "keeps-the-engine-live"]
        found = emu.near_misses(last_id(emu))
        assert [(m["rule"]["id"], m["reason"]) for m in found] == [
            ("brief", "expired"),
            ("keeps-the-engine-live", "operation"),
        ]
        assert found[0]["detail"] == "expired: its ttlSeconds (60) had run out"
        clock.advance(600)
        assert http.get(LOYALTY_PROFILE).status_code == 200
        assert reasons(emu) == [
            ("brief", "expired"),
            ("longer", "expired"),
            ("keeps-the-engine-live", "operation"),
        ]
        emu.clear_rules()
        http.get(LOYALTY_PROFILE)
        assert reasons(emu) == []


def test_an_unrouted_call_and_a_scenario_rule(emu: Emulator, http: httpx.Client) -> None:
    emu.activate("loyalty-email-taken")
    http.get("/client/nowhere")
    [miss] = emu.near_misses(last_id(emu))
    assert miss["rule"]["scenario"] == "loyalty-email-taken"
    assert (miss["reason"], miss["detail"]) == (
        "operation",
        "the call matched no operation of the loyalty spec (rules act on vendor operations only)",
    )


def test_no_rules_no_near_misses_and_an_unknown_request_is_404(
    emu: Emulator, http: httpx.Client
) -> None:
    http.get(COMMERCE_PROFILE)
    assert emu.near_misses(last_id(emu)) == []
    with pytest.raises(EmulatorError) as refused:
        emu.near_misses(99)
    assert (refused.value.status, refused.value.body) == (
        404,
        {
            "error": "not_found",
            "detail": f"No request 99 in the journal of namespace '{emu.namespace}'",
        },
    )


def test_a_request_id_that_is_no_integer_routes_nowhere(http: httpx.Client) -> None:
    answer = http.get(f"{CONTROL}/requests/abc/near-misses")
    assert answer.json() == {
        "error": "not_found",
        "detail": "GET /_emulator/requests/abc/near-misses",
    }


def test_near_misses_are_per_namespace(
    server: EmulatorServer, emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(respond={"status": 503}, operation="getProfile", probability=0)
    http.get(LOYALTY_PROFILE)
    other = emu.view(f"{emu.namespace}-other")
    with pytest.raises(EmulatorError) as refused:
        other.near_misses(1)
    assert refused.value.status == 404
