"""Unit tests of matching (emulator/matching.py): which calls a rule applies to, through the
engine's decision; no HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from emulator.engine import Decision, Engine
from emulator.matching import Call, mismatches
from emulator.rules import RuleError
from tests.fault_rules import call, engine_with, fires, rule

# --- matching -----------------------------------------------------------------------------


def test_empty_engine_decides_nothing() -> None:
    assert Engine().decide(call()) is None


def test_empty_match_matches_every_call() -> None:
    engine = engine_with(rule(fault="timeout"))
    assert engine.decide(call("commerce", "login")) == Decision(rule_id="f-1", fault="timeout")
    assert engine.decide(call("loyalty", "getProfile")) is not None


def test_an_error_matches_only_calls_of_its_own_api() -> None:
    """docs/decisions.md#12: loyalty.* errors go on loyalty calls only, commerce.* on commerce."""
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


@pytest.mark.parametrize(
    ("match", "c"),
    [
        ({}, call()),
        ({"api": "loyalty", "operation": "login"}, call()),
        ({"pathParams": {"id": "None"}}, call()),  # a parameter the call lacks differs
        ({"pathParams": {"id": "1"}}, call(path_params={"id": 1})),
        ({"headers": {"X-A": "1"}}, call(headers={"x-a": "1"})),
        ({"headers": {"X-A": "1"}}, call(headers={"x-a": "2"})),
        ({"body": {"a": {"b": [1]}}}, call(body={"a": {"b": [1]}, "c": 2})),
        ({"body": {"a": {"b": [1]}}}, call(body={"a": {"b": [True]}})),
        ({"body": {"a": 1}}, call(body=None)),
        ({}, call(operation=None)),  # rules act on vendor operations only
    ],
)
def test_the_engine_and_the_explanation_read_one_match_result(
    match: dict[str, Any], c: Call
) -> None:
    """A rule acts on a call exactly when its match names no difference with it."""
    parsed = rule(match=match, fault="timeout")
    assert fires(match, c) is (mismatches(parsed.match, c) == [])
