"""The engine's record of how it weighed one call (Weighing) and the near misses read from it,
without HTTP: the same reasons the control API gives, from the two stages."""

from __future__ import annotations

from typing import Any

from emulator.engine import Engine
from emulator.matching import Call, mismatches
from emulator.near_misses import near_misses
from emulator.rules import FaultRule

KNOWN = {"loyalty.EMAIL_ALREADY_EXISTS"}


def rule(**data: Any) -> FaultRule:
    return FaultRule.parse(data, known_errors=KNOWN)


def call(**fields: Any) -> Call:
    return Call(**{"api": "loyalty", "operation": "updateProfile", **fields})


def weigh(engine: Engine, c: Call, *, checks_pass: bool = True) -> list[tuple[str, str, int]]:
    weighing = engine.weighing()
    decided = engine.arrive(c, weighing)
    if checks_pass and (decided is None or decided.passes_through):
        engine.checked(c, weighing)
    return [(m["rule"]["id"], m["reason"], m["distance"]) for m in near_misses(weighing, c)]


def test_each_stage_records_what_its_matching_rules_drew() -> None:
    engine = Engine(seed=1)
    engine.add(rule(id="slow", delayMs=5))  # arrival: acts, so it is no near miss
    engine.add(rule(id="never", respond={"status": 503}, probability=0))
    engine.add(rule(id="later", respond={"status": 502}, after=3))
    engine.add(rule(id="shadowed", respond={"status": 501}))
    assert weigh(engine, call()) == [
        ("never", "probability", 0),
        ("later", "after", 0),
        ("shadowed", "shadowed", 0),
    ]


def test_the_checked_stage_is_a_reason_when_the_call_failed_its_checks() -> None:
    engine = Engine()
    engine.add(rule(id="error", error="loyalty.EMAIL_ALREADY_EXISTS"))
    assert weigh(engine, call(), checks_pass=False) == [("error", "stage", 0)]


def test_a_spent_rule_stays_listed_and_is_named_spent() -> None:
    engine = Engine()
    engine.add(rule(id="once", respond={"status": 503}, times=1))
    assert weigh(engine, call()) == []  # it acted
    assert engine.active is False and engine.listed is True
    assert weigh(engine, call()) == [("once", "spent", 0)]
    assert [r.id for r in engine.rules()] == ["once"]


def test_mismatches_come_in_the_order_of_the_match_and_count_every_field() -> None:
    r = rule(
        match={
            "api": "commerce",
            "operation": "getProfile",
            "headers": {"X-A": "1"},
            "body": {"a": {"b": 1}, "c": 2},
        },
        respond={"status": 503},
    )
    found = mismatches(r.match, call(headers={"x-a": "2"}, body={"a": {"b": True}}))
    assert [(m["reason"], m.get("path")) for m in found] == [
        ("api", None),
        ("operation", None),
        ("headerDiffers", "X-A"),
        ("body", "a.b"),
        ("body", "c"),
    ]
    assert found[3]["detail"] == "body a.b: the rule expects 1, the call has True"  # true is not 1


def test_no_weighing_no_near_misses() -> None:
    assert near_misses(None, call()) == []
