"""Unit tests of the fault engine (emulator/faults.py): rules, matching, seeding, scenarios; no HTTP."""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from emulator.faults import (
    RULE_SCHEMA,
    Call,
    Contract,
    Decision,
    Engine,
    FaultRule,
    RuleError,
    Scenario,
    load_scenario_file,
    load_scenarios,
)

ROOT = Path(__file__).resolve().parents[2]
KNOWN = {"loyalty.EMAIL_ALREADY_EXISTS", "commerce.22001", "commerce.22002"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rule(**data: Any) -> FaultRule:
    return FaultRule.parse(data, known_errors=KNOWN)


def call(
    api: str = "commerce",
    operation: str = "updateProfile",
    *,
    path_params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> Call:
    return Call(
        api=api,
        operation=operation,
        path_params=path_params or {},
        headers=headers or {},
        body=body,
    )


def engine_with(*rules: FaultRule, **kwargs: Any) -> Engine:
    engine = Engine(**kwargs)
    for r in rules:
        engine.add(r)
    return engine


def fires(match: dict[str, Any], c: Call) -> bool:
    return engine_with(rule(match=match, fault="timeout")).decide(c) is not None


# --- matching -----------------------------------------------------------------------------


def test_empty_engine_decides_nothing() -> None:
    assert Engine().decide(call()) is None


def test_empty_match_matches_every_call() -> None:
    engine = engine_with(rule(fault="timeout"))
    assert engine.decide(call("commerce", "login")) == Decision(rule_id="f-1", fault="timeout")
    assert engine.decide(call("loyalty", "getProfile")) is not None


def test_an_error_matches_only_calls_of_its_own_api() -> None:
    """REQUIREMENTS 5.12: loyalty.* errors go on loyalty calls only, commerce.* on commerce."""
    engine = engine_with(rule(error="loyalty.EMAIL_ALREADY_EXISTS"), rule(error="commerce.22001"))
    assert engine.decide(call("commerce", "updateProfile")).error == "commerce.22001"
    assert engine.decide(call("loyalty", "updateProfile")).error == "loyalty.EMAIL_ALREADY_EXISTS"
    assert engine.rules()[0].to_dict()["match"] == {"api": "loyalty"}
    with pytest.raises(
        RuleError,
        match=r"match\.api: commerce\.22001 is an error of the commerce API, not of loyalty",
    ):
        rule(match={"api": "loyalty"}, error="commerce.22001")


@pytest.mark.parametrize(
    ("match", "expected"),
    [
        ({"api": "loyalty"}, True),
        ({"api": "commerce"}, False),
        ({"operation": "updateProfile"}, True),
        ({"operation": "getProfile"}, False),
        ({"api": "loyalty", "operation": "getProfile"}, False),
    ],
)
def test_api_and_operation_must_be_equal(match: dict[str, Any], expected: bool) -> None:
    assert fires(match, call("loyalty", "updateProfile")) is expected


def test_path_params_must_all_be_equal() -> None:
    c = call(path_params={"correlation_id": "c-1", "other": "x"})
    assert fires({"pathParams": {"correlation_id": "c-1"}}, c)
    assert fires({"pathParams": {"correlation_id": "c-1", "other": "x"}}, c)
    assert not fires({"pathParams": {"correlation_id": "c-2"}}, c)
    assert not fires({"pathParams": {"correlation_id": "c-1", "missing": "x"}}, c)


def test_header_names_are_case_insensitive_values_exact() -> None:
    c = call(headers={"X-CCAsset-Language": "en"})
    assert c.headers == {"x-ccasset-language": "en"}
    assert fires({"headers": {"x-ccasset-language": "en"}}, c)
    assert fires({"headers": {"X-CCASSET-LANGUAGE": "en"}}, c)
    assert not fires({"headers": {"X-CCAsset-Language": "EN"}}, c)
    assert not fires({"headers": {"X-Other": "en"}}, c)


def test_body_is_a_subset_match() -> None:
    body = {"email": "a@b.co", "firstName": "A", "extendedData": {"casl": True, "tags": ["x", "y"]}}
    c = call(body=body)
    assert fires({"body": {}}, c)
    assert fires({"body": {"email": "a@b.co"}}, c)
    assert fires({"body": {"extendedData": {"casl": True}}}, c)
    assert fires({"body": {"extendedData": {"tags": ["x", "y"]}}}, c)
    assert not fires({"body": {"email": "other@b.co"}}, c)
    assert not fires({"body": {"extendedData": {"casl": False}}}, c)
    assert not fires({"body": {"extendedData": {"tags": ["x"]}}}, c)  # lists are compared whole
    assert not fires({"body": {"extendedData": {"missing": 1}}}, c)
    assert not fires({"body": {"email": {"nested": "x"}}}, c)
    items = call(body={"items": [{"sku": "a", "qty": 1}]})
    assert fires({"body": {"items": [{"sku": "a", "qty": 1}]}}, items)
    assert not fires({"body": {"items": [{"sku": "a"}]}}, items)  # no subset inside lists


@pytest.mark.parametrize("body", [None, [], ["email"], "a@b.co", 3])
def test_non_object_body_never_matches_a_body_pattern(body: Any) -> None:
    assert not fires({"body": {}}, call(body=body))


def test_body_scalars_compare_as_json() -> None:
    assert not fires({"body": {"n": 1}}, call(body={"n": True}))
    assert not fires({"body": {"flag": True}}, call(body={"flag": 1}))
    assert fires({"body": {"n": 1}}, call(body={"n": 1.0}))
    assert not fires({"body": {"s": "1"}}, call(body={"s": 1}))


# --- order, times, after, probability -------------------------------------------------------


def test_first_matching_rule_wins_in_list_order() -> None:
    engine = engine_with(
        rule(match={"api": "commerce"}, error="commerce.22002"),
        rule(respond={"status": 500}),
        rule(respond={"status": 502}),
    )
    assert engine.decide(call("commerce", "login")).error == "commerce.22002"
    assert engine.decide(call("loyalty", "updateProfile")).respond == {"status": 500}
    engine.add(rule(respond={"status": 503}), front=True)
    assert engine.decide(call("commerce", "login")).respond == {"status": 503}
    arrival = engine_with(
        rule(fault="timeout", match={"api": "loyalty"}), rule(fault="empty_response")
    )
    assert [arrival.arrive(call(api)).fault for api in ("loyalty", "commerce")] == [
        "timeout",
        "empty_response",
    ]


def test_times_spends_the_rule_then_later_rules_apply() -> None:
    engine = engine_with(rule(error="commerce.22001", times=2), rule(respond={"status": 503}))
    results = [engine.decide(call()) for _ in range(4)]
    assert [(d.error, d.respond) for d in results] == [("commerce.22001", None)] * 2 + [
        (None, {"status": 503})
    ] * 2
    # A spent rule stays listed with its counters (a test reads `fired`) until removed.
    listed = [r.to_dict() for r in engine.rules()]
    assert [(r["id"], r["fired"], r["spent"]) for r in listed] == [
        ("f-1", 2, True),
        ("f-2", 2, False),
    ]
    assert engine.remove("f-1") and [r.id for r in engine.rules()] == ["f-2"]


def test_a_spent_rule_is_never_matched_again_and_leaves_the_engine_idle() -> None:
    engine = engine_with(rule(error="commerce.22001", times=1))
    assert engine.active and engine.decide(call()) is not None
    assert not engine.active and engine.decide(call()) is None
    assert engine.rules()[0].matched == 1


def test_after_lets_the_first_matches_pass_without_consulting_later_rules() -> None:
    engine = engine_with(
        rule(error="commerce.22001", after=2, times=1), rule(respond={"status": 503})
    )
    assert engine.decide(call()) is None
    assert engine.decide(call()) is None
    assert engine.decide(call()).error == "commerce.22001"
    assert engine.decide(call()).respond == {"status": 503}


def test_counters_are_visible_in_listing() -> None:
    engine = engine_with(rule(match={"api": "commerce"}, error="commerce.22001", after=1))
    for c in (call("commerce", "login"), call("commerce", "login"), call("loyalty", "getProfile")):
        engine.decide(c)
    listed = engine.rules()[0].to_dict()
    assert (listed["id"], listed["matched"], listed["fired"]) == ("f-1", 2, 1)


def count_fired(seed: int, n: int = 1000, p: float = 0.1) -> list[int]:
    engine = engine_with(rule(error="commerce.22001", probability=p), seed=seed)
    return [i for i in range(n) if engine.decide(call()) is not None]


def test_probability_is_repeatable_with_a_seed() -> None:
    first, second = count_fired(seed=42), count_fired(seed=42)
    assert first == second
    assert 60 <= len(first) <= 140  # p = .1 over 1000 calls, ~4.2 sigma either side
    assert count_fired(seed=43) != first


def test_reseed_restarts_the_sequence() -> None:
    engine = engine_with(rule(error="commerce.22001", probability=0.5), seed=7)
    run1 = [engine.decide(call()) is not None for _ in range(50)]
    engine.reseed(7)
    assert [engine.decide(call()) is not None for _ in range(50)] == run1


def test_probability_one_rules_do_not_consume_random_numbers() -> None:
    baseline = count_fired(seed=5, n=200)
    engine = engine_with(
        rule(match={"operation": "login"}, error="commerce.22001"),
        rule(error="commerce.22001", probability=0.1),
        seed=5,
    )
    got = []
    for i in range(200):
        engine.decide(call("commerce", "login"))  # fires the p=1 rule, draws nothing
        if engine.decide(call()) is not None:
            got.append(i)
    assert got == baseline


def test_probability_zero_never_fires() -> None:
    engine = engine_with(rule(error="commerce.22001", probability=0))
    assert all(engine.decide(call()) is None for _ in range(100))
    assert (engine.rules()[0].matched, engine.rules()[0].fired) == (100, 0)


def test_a_failed_draw_lets_the_next_rule_match() -> None:
    """REQUIREMENTS 5.13: a probabilistic scenario in front never hides a test's own rule."""
    engine = engine_with(rule(fault="connection_reset", probability=0.2), seed=3)
    engine.add(rule(fault="empty_response", times=1))
    decisions = [engine.decide(call()) for _ in range(20)]
    assert [d and d.fault for d in decisions].count("empty_response") == 1
    first_no = next(i for i, d in enumerate(decisions) if d.fault == "empty_response")
    assert all(d.fault == "connection_reset" for d in decisions[:first_no])
    assert all(d is None or d.fault == "connection_reset" for d in decisions[first_no + 1 :])
    assert engine.rules()[1].to_dict()["fired"] == 1


# --- the contract (REQUIREMENTS 5.12) ------------------------------------------------------------

CONTRACT = Contract(
    operations={"loyalty": ("startSession", "updateProfile"), "commerce": ("login",)},
    documented={
        "loyalty.EMAIL_ALREADY_EXISTS": frozenset({"updateProfile"}),
        "commerce.22001": frozenset(),
        "commerce.22002": frozenset({"login"}),
    },
    absent=frozenset(),
)


def test_a_rule_names_an_api_the_contract_knows() -> None:
    """The APIs are the server's vendors (data, not a list in the rule schema)."""
    with pytest.raises(RuleError) as caught:
        FaultRule.parse({"fault": "timeout", "match": {"api": "shop"}}, known_errors=CONTRACT)
    assert "match.api: 'shop' is not one of ['loyalty', 'commerce']" in str(caught.value)
    assert (
        FaultRule.parse(
            {"fault": "timeout", "match": {"api": "commerce"}}, known_errors=CONTRACT
        ).match.api
        == "commerce"
    )


def test_a_contract_narrows_an_error_to_the_operations_documenting_it() -> None:
    parsed = FaultRule.parse({"error": "loyalty.EMAIL_ALREADY_EXISTS"}, known_errors=CONTRACT)
    engine = engine_with(parsed)
    assert engine.decide(call("loyalty", "startSession")) is None
    assert engine.decide(call("loyalty", "updateProfile")).error == "loyalty.EMAIL_ALREADY_EXISTS"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"error": "loyalty.EMAIL_ALREADY_EXISTS", "match": {"operation": "startSession"}},
            "error: loyalty.EMAIL_ALREADY_EXISTS is not a response of loyalty startSession in its spec "
            "(documented for: updateProfile)",
        ),
        (
            {"error": "commerce.22001"},
            "error: commerce.22001 is not a response of any commerce operation in its spec",
        ),
        (
            {"fault": "timeout", "match": {"api": "commerce", "operation": "updateProfile"}},
            "match.operation: the commerce API has no operation 'updateProfile' (operations: login)",
        ),
        (
            {"fault": "timeout", "match": {"operation": "startSesion"}},
            "match.operation: no API has an operation 'startSesion' (operations: login, startSession, "
            "updateProfile); "
            "did you mean startSession?",
        ),
    ],
)
def test_a_contract_refuses_what_the_specs_do_not_document(
    data: dict[str, Any], message: str
) -> None:
    with pytest.raises(RuleError) as caught:
        FaultRule.parse(data, known_errors=CONTRACT)
    assert str(caught.value) == message


def test_a_lenient_contract_lets_an_absent_api_through() -> None:
    lenient = Contract(operations={"loyalty": ()}, documented={}, absent=frozenset({"commerce"}))
    assert "commerce.22001" in lenient and "loyalty.X" not in lenient
    assert (
        FaultRule.parse(
            {"error": "commerce.22001", "match": {"operation": "nope"}}, known_errors=lenient
        ).error
        == "commerce.22001"
    )


# --- stages (REQUIREMENTS 5.11) ----------------------------------------------------------------


def test_an_error_or_respond_waits_for_the_checks_and_a_fault_acts_on_arrival() -> None:
    engine = engine_with(rule(error="commerce.22001"), rule(fault="timeout"))
    assert engine.waits
    # Each stage has its own first match: the error ahead never keeps the fault from
    # acting on arrival (a call the vendor would refuse is reset all the same).
    assert engine.arrive(call()).fault == "timeout"
    assert engine.rules()[0].matched == 0  # not counted before the call passed its checks
    assert engine.checked(call()).error == "commerce.22001"
    engine = engine_with(rule(respond={"status": 503}, stage="arrival"))
    assert engine.arrive(call()).respond == {"status": 503} and not engine.waits
    assert engine.checked(call()) is None


def test_a_delay_on_arrival_and_an_error_at_the_checks_both_act() -> None:
    """A latency scenario in front never hides a test's own error rule."""
    engine = engine_with(rule(delayMs=250), rule(error="commerce.22001"))
    assert engine.arrive(call()) == Decision(rule_id="f-1", delay_ms=250.0)
    assert engine.checked(call()).error == "commerce.22001"


def test_a_delay_asked_for_at_the_checks_lets_the_call_through_there() -> None:
    """The shield of the commerce-token-expired scenario: first match wins at the checks."""
    engine = engine_with(
        rule(match={"operation": "login"}, delayMs=0, stage="checked"),
        rule(error="commerce.22002", times=1),
    )
    assert engine.checked(call("commerce", "login")).passes_through
    assert engine.checked(call("commerce", "getProfile")).error == "commerce.22002"


def test_a_call_that_never_reaches_the_checks_spends_nothing() -> None:
    engine = engine_with(rule(error="commerce.22001", times=1))
    assert engine.arrive(call()) is None  # e.g. then refused with a 401: checked() never runs
    assert engine.checked(call()).error == "commerce.22001"
    assert engine.rules()[0].to_dict()["fired"] == 1


def test_after_passes_the_call_untouched_without_consulting_later_rules() -> None:
    engine = engine_with(rule(error="commerce.22001", after=1), rule(respond={"status": 503}))
    assert engine.decide(call()) is None
    assert engine.decide(call()).error == "commerce.22001"


# --- ttl and delays -------------------------------------------------------------------------


def test_ttl_expires_with_the_injected_clock() -> None:
    clock = FakeClock()
    engine = engine_with(
        rule(error="commerce.22001", ttlSeconds=60), rule(respond={"status": 503}), clock=clock
    )
    clock.now += 59.9
    assert engine.decide(call()).error == "commerce.22001"
    clock.now += 0.1
    assert engine.decide(call()).respond == {"status": 503}
    assert [r.id for r in engine.rules()] == ["f-2"]


def test_ttl_counts_from_when_the_rule_was_added() -> None:
    clock = FakeClock()
    engine = Engine(clock=clock)
    clock.now += 500
    engine.add(rule(error="commerce.22001", ttlSeconds=10))
    clock.now += 5
    assert len(engine.rules()) == 1
    clock.now += 5
    assert engine.rules() == []


def test_fixed_delay_and_delay_only_rule_passes_through() -> None:
    engine = engine_with(rule(delayMs=250), rule(delayMs=100))
    decision = engine.decide(call())
    assert decision == Decision(rule_id="f-1", delay_ms=250.0)  # first match wins on arrival
    assert decision.passes_through


def test_action_with_delay() -> None:
    decision = engine_with(
        rule(respond={"status": 503, "headers": {"Retry-After": "2"}, "body": {"a": 1}}, delayMs=10)
    ).decide(call())
    assert decision == Decision(
        rule_id="f-1",
        delay_ms=10.0,
        respond={"status": 503, "headers": {"Retry-After": "2"}, "body": {"a": 1}},
    )
    assert not decision.passes_through


def test_uniform_delay_stays_in_bounds_and_spreads() -> None:
    engine = engine_with(rule(delay={"uniform": [100, 200]}))
    delays = [engine.decide(call()).delay_ms for _ in range(500)]
    assert all(100 <= d <= 200 for d in delays)
    assert min(delays) < 110 and max(delays) > 190


def test_uniform_delay_is_seeded() -> None:
    def run(seed: int) -> list[float]:
        engine = engine_with(rule(delay={"uniform": [0, 1000]}), seed=seed)
        return [engine.decide(call()).delay_ms for _ in range(20)]

    assert run(1) == run(1) != run(2)


def test_lognormal_delay_is_capped_and_centred_on_median() -> None:
    engine = engine_with(rule(delay={"lognormal": {"median": 100, "sigma": 1.0, "maxMs": 400}}))
    delays = sorted(engine.decide(call()).delay_ms for _ in range(2001))
    assert max(delays) == 400  # exp(1.39 sigma) is exceeded by ~8% of draws: the cap bites
    assert min(delays) > 0
    assert 80 <= delays[1000] <= 125  # the median of a lognormal is its median parameter


def test_lognormal_with_zero_sigma_is_constant() -> None:
    engine = engine_with(rule(delay={"lognormal": {"median": 30, "sigma": 0, "maxMs": 1000}}))
    assert {engine.decide(call()).delay_ms for _ in range(10)} == {30.0}


# --- engine bookkeeping ---------------------------------------------------------------------


def test_ids_are_assigned_and_explicit_ids_kept() -> None:
    engine = Engine()
    assert engine.add(rule(error="commerce.22001")) == "f-1"
    assert engine.add(rule(error="commerce.22001", id="mine")) == "mine"
    assert engine.add(rule(error="commerce.22001", id="f-2")) == "f-2"
    assert engine.add(rule(error="commerce.22001")) == "f-3"
    with pytest.raises(RuleError, match="id: 'mine' is already in use"):
        engine.add(rule(error="commerce.22001", id="mine"))


def test_remove_and_clear() -> None:
    engine = engine_with(rule(error="commerce.22001"), rule(fault="timeout"))
    assert engine.remove("f-1") is True
    assert engine.remove("f-1") is False
    assert engine.decide(call()).fault == "timeout"
    engine.activate("flaky", [rule(fault="connection_reset")])
    engine.clear()
    assert engine.rules() == [] and engine.active_scenarios() == []
    assert engine.decide(call()) is None
    assert engine.add(rule(error="commerce.22001")) == "f-1"


def test_scenarios_go_in_front_and_deactivate() -> None:
    engine = engine_with(rule(error="commerce.22001"))
    parsed = [rule(match={"api": "commerce"}, fault="timeout"), rule(fault="empty_response")]
    engine.activate("flaky", parsed)
    assert [r.id for r in engine.rules()] == ["s-flaky-1", "s-flaky-2", "f-1"]
    assert engine.rules()[0].to_dict()["scenario"] == "flaky"
    assert engine.decide(call("commerce", "login")).fault == "timeout"
    assert parsed[0].matched == 0  # the caller's objects are not used as live rules
    engine.activate("slow", [rule(delayMs=5)])
    assert engine.active_scenarios() == ["flaky", "slow"]
    assert engine.arrive(call()).delay_ms == 5
    assert engine.deactivate("slow") is True
    assert engine.deactivate("slow") is False
    assert engine.decide(call("loyalty", "getProfile")).fault == "empty_response"
    engine.deactivate("flaky")
    assert [r.id for r in engine.rules()] == ["f-1"]


def test_reactivating_a_scenario_replaces_its_rules_with_fresh_counters() -> None:
    engine = Engine()
    engine.activate("once", [rule(error="commerce.22001", times=1)])
    assert engine.decide(call()) is not None
    assert engine.decide(call()) is None
    engine.activate("once", [rule(error="commerce.22001", times=1)])
    assert [r.id for r in engine.rules()] == ["s-once-1"]
    assert engine.decide(call()) is not None
    assert engine.active_scenarios() == ["once"]


def test_activate_refuses_unsafe_names() -> None:
    with pytest.raises(RuleError):
        Engine().activate("../etc", [])


def test_times_is_exact_under_concurrent_calls() -> None:
    engine = engine_with(rule(error="commerce.22001", times=100))
    fired: list[bool] = []

    def worker() -> None:
        for _ in range(200):
            fired.append(engine.decide(call()) is not None)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(fired) == 100


# --- parsing and validation -----------------------------------------------------------------


def test_parse_and_to_dict_round_trip() -> None:
    data = {
        "id": "r1",
        "description": "dup email",
        "error": "loyalty.EMAIL_ALREADY_EXISTS",
        "delayMs": 250,
        "match": {
            "api": "loyalty",
            "operation": "updateProfile",
            "pathParams": {"correlation_id": "c-1"},
            "headers": {"X-A": "1"},
            "body": {"email": "a@b.co"},
        },
        "times": 1,
        "after": 0,
        "probability": 1.0,
        "ttlSeconds": 60,
        "stage": "checked",
    }
    parsed = FaultRule.parse(data, known_errors=KNOWN)
    assert parsed.to_dict(counters=False) == data
    assert parsed.to_dict() == {**data, "matched": 0, "fired": 0, "spent": False}
    assert FaultRule.parse(parsed.to_dict(counters=False), known_errors=KNOWN) == parsed


def test_parse_copies_its_input() -> None:
    data = {"respond": {"status": 500, "body": {"a": [1]}}, "match": {"body": {"x": {"y": 1}}}}
    parsed = FaultRule.parse(data, known_errors=KNOWN)
    data["respond"]["body"]["a"].append(2)
    data["match"]["body"]["x"]["y"] = 2
    assert parsed.respond == {"status": 500, "body": {"a": [1]}}
    assert parsed.match.body == {"x": {"y": 1}}


def names(message: str, text: str) -> None:
    """What the emulator words is asserted whole; where jsonschema words the reason (a type, a
    bound, an enum, a pattern), the message is only the field the emulator names, ending in
    ": ", and the reason after it is not pinned."""
    if message.endswith(": ") or not message:
        at = text.find(message)
        assert at >= 0 and len(text) > at + len(message), text
    else:
        assert message in text, text


INVALID_RULES: list[tuple[Any, str]] = [
    ({"delay": {"lognormal": {"median": 5, "sigma": -1, "maxMs": 10}}}, "delay.lognormal.sigma: "),
    ({"fault": "timeout", "probability": 2}, "probability: "),
    ({"fault": "explode"}, "fault: "),
    ({"error": "commerce.22001", "times": 0}, "times: "),
    ({"error": "commerce.22001", "times": 1.5}, "times: "),
    ({"error": "commerce.22001", "times": True}, "times: "),
    ({"error": "commerce.22001", "after": -1}, "after: "),
    ({"error": "commerce.22001", "ttlSeconds": 0}, "ttlSeconds: "),
    ({"delayMs": -5}, "delayMs: "),
    ({"delayMs": 3600001}, "delayMs: "),
    ({"delay": {"lognormal": {"median": 5, "sigma": 11, "maxMs": 10}}}, "delay.lognormal.sigma: "),
    ({"fault": "timeout", "times": 10**12}, "times: "),
    ({"respond": {"status": 99}}, "respond.status: "),
    ({"respond": {"status": 101}}, "respond.status: "),
    ({"respond": {"status": 204, "body": {}}}, "respond.body: a 204 response has no body"),
    ({"respond": {"status": 304, "body": None}}, "respond.body: a 304 response has no body"),
    ({"respond": {"status": 205, "body": {}}}, "respond.body: a 205 response has no body"),
    ({"fault": "timeout", "stage": "checked"}, "stage: transport faults act on arrival"),
    ({"error": "commerce.22001", "stage": "later"}, "stage: "),
    ({"respond": {"status": 600}}, "respond.status: "),
    ({"respond": {"body": {}}}, "respond.status: required field is missing"),
    ({"respond": {"status": 503, "headers": {"Retry-After": 2}}}, "respond.headers.Retry-After: "),
    (
        {"respond": {"status": 503, "extra": 1}},
        "respond.extra: unknown field; expected one of: body, headers, status",
    ),
    ({"fault": "timeout", "match": {"pathParams": {"id": 1}}}, "match.pathParams.id: "),
    ({"fault": "timeout", "match": {"body": []}}, "match.body: "),
    ({"fault": "timeout", "match": {"vendor": "x"}}, "match.vendor: unknown field"),
    ({"fault": "timeout", "retries": 3}, "retries: unknown field"),
    ({"fault": "timeout", "id": "has space"}, "id: "),
    ({"delay": {"uniform": [1]}}, "delay.uniform: "),
    ({"delay": {"uniform": [5, 1]}}, "delay.uniform: lower bound 5 is greater than upper bound 1"),
    ({"delay": {}}, "delay: give exactly one of: lognormal, uniform"),
    (
        {"delay": {"uniform": [1, 2], "lognormal": {"median": 1, "sigma": 1, "maxMs": 2}}},
        "delay: give exactly one of: lognormal, uniform",
    ),
    ({"delay": {"lognormal": {"median": 0, "sigma": 1, "maxMs": 2}}}, "delay.lognormal.median: "),
    (
        {"delay": {"lognormal": {"median": 1, "sigma": 1}}},
        "delay.lognormal.maxMs: required field is missing",
    ),
    (
        {"error": "commerce.22001", "fault": "timeout"},
        "give exactly one of error, respond, fault (got error, fault)",
    ),
    (
        {"fault": "timeout", "delayMs": 1, "delay": {"uniform": [1, 2]}},
        "give delayMs or delay, not both",
    ),
    ({"match": {"api": "loyalty"}}, "a rule needs an action"),
    ({}, "a rule needs an action"),
    ({"error": "loyalty.NOPE"}, "error: unknown error 'loyalty.NOPE'"),
    ({"error": "loyalty.EMAIL_ALREADY_EXIST"}, "did you mean loyalty.EMAIL_ALREADY_EXISTS?"),
    (
        {"respond": {"status": 503, "headers": {"Retry After": "1"}}},
        "respond.headers: 'Retry After' is not a valid header name",
    ),
    (
        {"respond": {"status": 200, "headers": {"Content-Length": "3"}}},
        "respond.headers: 'Content-Length' is set by the emulator",
    ),
    (
        {"respond": {"status": 200, "headers": {"X-A": "1\r\nX-B: 2"}}},
        "respond.headers.X-A: '1\\r\\nX-B: 2' is not a valid header value",
    ),
    (
        {"respond": {"status": 200, "headers": {"X-A": "caf\u00e9 \u2603"}}},
        "is not a valid header value",
    ),
    ("just a string", ""),  # the top level: nothing but jsonschema's words
]
VALID_RULES: list[dict[str, Any]] = [
    {"delayMs": 0},
    {"fault": "timeout"},
    {"error": "commerce.22001", "delay": {"uniform": [1, 2]}},
    {"respond": {"status": 204}, "match": {}},
    {"respond": {"status": 200, "body": None}},
    {"respond": {"status": 503, "headers": {"Retry-After": "2"}, "body": [1, "x"]}},
    {"respond": {"status": 503}, "stage": "arrival"},
    {"fault": "timeout", "stage": "arrival"},
    {"error": "commerce.22001", "stage": "checked"},
    {"delayMs": 5, "stage": "checked"},
    {
        "id": "r.1",
        "description": "all keys",
        "error": "commerce.22002",
        "times": 3,
        "after": 1,
        "probability": 0.5,
        "ttlSeconds": 0.5,
        "delay": {"lognormal": {"median": 10, "sigma": 0, "maxMs": 20}},
        "match": {
            "api": "commerce",
            "operation": "getProfile",
            "pathParams": {"id": "p"},
            "headers": {"A": "b"},
            "body": {"a": {"b": [1]}},
        },
    },
]


@pytest.mark.parametrize(("data", "message"), INVALID_RULES)
def test_invalid_rules_are_rejected_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(RuleError) as caught:
        FaultRule.parse(data, known_errors=KNOWN)
    names(message, str(caught.value))


def test_where_prefixes_the_message() -> None:
    with pytest.raises(RuleError) as caught:
        FaultRule.parse(
            {"delay": {"lognormal": {"median": 5, "sigma": -1, "maxMs": 10}}},
            known_errors=KNOWN,
            where="faults[2]",
        )
    assert str(caught.value).startswith("faults[2].delay.lognormal.sigma: ")
    names("faults[2].delay.lognormal.sigma: ", str(caught.value))  # then jsonschema's reason
    with pytest.raises(RuleError) as caught:
        FaultRule.parse({}, known_errors=KNOWN, where="faults[2]")
    assert str(caught.value).startswith("faults[2]: a rule needs an action")


def test_rule_schema_alone_agrees_with_parse() -> None:
    Draft7Validator.check_schema(RULE_SCHEMA)
    validator = Draft7Validator(RULE_SCHEMA)
    for bad in (
        {},
        {"error": "x", "respond": {"status": 500}},
        {"fault": "timeout", "respond": {"status": 500}},
        {"delayMs": 1, "delay": {"uniform": [1, 2]}},
        {"match": {}},
    ):
        assert not validator.is_valid(bad), bad
    for good in (
        {"delayMs": 0},
        {"fault": "timeout"},
        {"error": "x", "delay": {"uniform": [1, 2]}},
        {"respond": {"status": 204}, "match": {}},
    ):
        assert validator.is_valid(good), good


def control_fault_rule_schema() -> dict[str, Any]:
    spec = yaml.safe_load((ROOT / "openapi" / "control.yaml").read_text(encoding="utf-8"))

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(spec["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
            return {key: inline(value) for key, value in node.items()}
        return [inline(value) for value in node] if isinstance(node, list) else node

    return inline(spec["components"]["schemas"]["FaultRule"])


def test_control_spec_fault_rule_mirrors_rule_schema() -> None:
    from openapi_schema_validator import OAS30ReadValidator, OAS30WriteValidator

    write, read, ours = (
        OAS30WriteValidator(control_fault_rule_schema()),
        OAS30ReadValidator(control_fault_rule_schema()),
        Draft7Validator(RULE_SCHEMA),
    )
    checked_by_code_only = (
        "lower bound",
        "unknown error",
        "did you mean",
        "header name",
        "header value",
        "set by the emulator",
    )
    for data, message in INVALID_RULES:
        expected = any(m in message for m in checked_by_code_only)
        assert ours.is_valid(data) is expected, data
        assert write.is_valid(data) is expected, data
    for data in VALID_RULES:
        assert ours.is_valid(data) and write.is_valid(data), data
        listed = FaultRule.parse(data, known_errors=KNOWN)
        engine = Engine()
        engine.activate("s", [listed])
        engine.decide(
            call(
                "commerce",
                "getProfile",
                path_params={"id": "p"},
                headers={"a": "b"},
                body={"a": {"b": [1]}},
            )
        )
        out = engine.rules()[0].to_dict()
        assert {"matched", "fired", "spent", "scenario", "stage"} <= out.keys()
        assert read.is_valid(out) and not write.is_valid(out), out


def test_control_spec_is_valid_openapi() -> None:
    from openapi_spec_validator import validate

    validate(yaml.safe_load((ROOT / "openapi" / "control.yaml").read_text(encoding="utf-8")))


def test_known_errors_may_be_any_container() -> None:
    class Anything:
        def __contains__(self, item: object) -> bool:
            return True

    assert FaultRule.parse({"error": "x.y"}, known_errors=Anything()).error == "x.y"


# --- scenario files ---------------------------------------------------------------------------


FLAKY = """\
name: flaky
description: Commerce drops one call in ten.
rules:
  - match: {api: commerce}
    fault: connection_reset
    probability: 0.1
  - delay: {uniform: [10, 50]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_scenario_file(tmp_path: Path) -> None:
    scenario = load_scenario_file(write(tmp_path, "flaky.yaml", FLAKY), known_errors=KNOWN)
    assert scenario == Scenario(
        name="flaky",
        description="Commerce drops one call in ten.",
        rules=[
            {"match": {"api": "commerce"}, "fault": "connection_reset", "probability": 0.1},
            {"delay": {"uniform": [10, 50]}},
        ],
    )
    parsed = scenario.parse_rules(known_errors=KNOWN)
    assert [r.fault for r in parsed] == ["connection_reset", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FLAKY.replace("probability: 0.1", "probability: 2"), "flaky.yaml: rules[0].probability: "),
        (
            FLAKY.replace("fault: connection_reset", "error: loyalty.NOPE"),
            "flaky.yaml: rules[0].error: unknown error",
        ),
        (
            FLAKY.replace("[10, 50]", "[50, 10]"),
            "flaky.yaml: rules[1].delay.uniform: lower bound 50",
        ),
        (
            FLAKY.replace("description: Commerce drops one call in ten.\n", ""),
            "flaky.yaml: description: required field is missing",
        ),
        (
            FLAKY.replace("name: flaky", "name: other"),
            "flaky.yaml: name: 'other' must equal the file name 'flaky'",
        ),
        (
            FLAKY + "extra: 1\n",
            "flaky.yaml: extra: unknown field; expected one of: description, name, rules",
        ),
        (FLAKY.replace("  - delay: {uniform: [10, 50]}\n", "  - 3\n"), "flaky.yaml: rules[1]: "),
        ("", "flaky.yaml: "),
        ("name: [unclosed\n", "flaky.yaml: not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "flaky.yaml: not valid YAML"),
    ],
)
def test_scenario_file_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "flaky.yaml", text)
    with pytest.raises(RuleError) as caught:
        load_scenario_file(path, known_errors=KNOWN)
    assert str(caught.value).startswith(str(tmp_path))
    names(message, str(caught.value))


def test_scenario_name_must_be_safe(tmp_path: Path) -> None:
    path = write(tmp_path, "bad name.yaml", FLAKY.replace("name: flaky", "name: bad name"))
    with pytest.raises(RuleError) as caught:
        load_scenario_file(path, known_errors=KNOWN)
    names("bad name.yaml: name: ", str(caught.value))  # the reason is jsonschema's (a pattern)


def test_load_scenarios_reads_a_folder(tmp_path: Path) -> None:
    write(tmp_path, "flaky.yaml", FLAKY)
    write(tmp_path, "slow.yml", "name: slow\ndescription: Slow.\nrules:\n  - delayMs: 100\n")
    write(tmp_path, "notes.txt", "not a scenario")
    scenarios = load_scenarios(tmp_path, known_errors=KNOWN)
    assert sorted(scenarios) == ["flaky", "slow"]
    assert scenarios["slow"].rules == [{"delayMs": 100}]
    assert load_scenarios(tmp_path / "missing", known_errors=KNOWN) == {}


def test_load_scenarios_refuses_duplicates_and_reports_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "flaky.yaml", FLAKY)
    write(tmp_path, "flaky.yml", FLAKY)
    with pytest.raises(RuleError, match="defined twice"):
        load_scenarios(tmp_path, known_errors=KNOWN)
    (tmp_path / "flaky.yml").unlink()
    write(tmp_path, "broken.yaml", "name: broken\ndescription: x\nrules: [{}]\n")
    with pytest.raises(RuleError, match=r"broken.yaml: rules\[0\]: a rule needs an action"):
        load_scenarios(tmp_path, known_errors=KNOWN)


# --- module hygiene -----------------------------------------------------------------------------


def test_faults_module_imports_no_web_or_storage_code() -> None:
    source = ROOT / "emulator" / "faults.py"
    imported = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." if node.level else (node.module or "").split(".")[0])
    assert imported.isdisjoint({"connexion", "starlette", "tinydb", "emulator", "."}), imported
