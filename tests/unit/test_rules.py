"""Unit tests of fault rules (emulator/rules.py): parsing, the rule schema, the contract of
what the specs let a rule name; no HTTP."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

from emulator.engine import Engine
from emulator.rules import RULE_SCHEMA, Contract, FaultRule, RuleError
from tests.fault_rules import KNOWN, call, engine_with, names

ROOT = Path(__file__).resolve().parents[2]


# --- the contract (docs/decisions.md#12) ----------------------------------------------------

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


# --- module hygiene -----------------------------------------------------------------------------


FAULT_MODULES = ("rules", "matching", "engine", "near_misses", "scenarios")


@pytest.mark.parametrize("module", FAULT_MODULES)
def test_the_fault_modules_import_no_web_or_storage_code(module: str) -> None:
    """Of the emulator, only each other, errors (how messages quote) and jsonyaml."""
    source = ROOT / "emulator" / f"{module}.py"
    imported, ours = set(), set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." if node.level else (node.module or "").split(".")[0])
            if (node.module or "").startswith("emulator."):
                ours.add(node.module.removeprefix("emulator."))
    assert imported.isdisjoint({"connexion", "starlette", "tinydb", "."}), imported
    assert ours <= {*FAULT_MODULES, "errors", "jsonyaml"}, ours
