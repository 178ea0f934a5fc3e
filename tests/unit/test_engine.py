"""Unit tests of the fault engine (emulator/engine.py): order, counters, draws, stages, ttl,
delays, ids and scenarios' rules; no HTTP."""

from __future__ import annotations

import threading

import pytest

from emulator.engine import Decision, Engine
from emulator.rules import RuleError
from tests.fault_rules import FakeClock, call, engine_with, rule

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
    """docs/decisions.md#13: a probabilistic scenario in front never hides a test's own rule."""
    engine = engine_with(rule(fault="connection_reset", probability=0.2), seed=3)
    engine.add(rule(fault="empty_response", times=1))
    decisions = [engine.decide(call()) for _ in range(20)]
    assert [d and d.fault for d in decisions].count("empty_response") == 1
    first_no = next(i for i, d in enumerate(decisions) if d.fault == "empty_response")
    assert all(d.fault == "connection_reset" for d in decisions[:first_no])
    assert all(d is None or d.fault == "connection_reset" for d in decisions[first_no + 1 :])
    assert engine.rules()[1].to_dict()["fired"] == 1


# --- stages (docs/decisions.md#11) ----------------------------------------------------------------


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
