"""Verification helpers of the client (and so of the plugin's `emulator` fixture):
assert_called, assert_not_called, last; a failing assertion says what was called instead
and the near misses."""

from __future__ import annotations

import re

import httpx
import pytest

from emulator.client import Emulator
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE


def test_assert_called_counts_matching_calls_and_returns_them(
    emu: Emulator, http: httpx.Client
) -> None:
    http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "email": "a@b.co"})
    http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "email": "a@b.co"})
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    found = emu.assert_called(operation="updateProfile", times=2, body={"email": "a@b.co"})
    assert [call["id"] for call in found] == [1, 2]
    assert len(emu.assert_called(operation="updateProfile")) == 3  # at least once
    emu.assert_called(operation="updateProfile", times=3, status=200, path="seed-session-1")
    emu.assert_not_called(operation="getProfile")
    emu.assert_not_called(operation="updateProfile", body={"email": "other@b.co"})
    emu.assert_not_called(operation="updateProfile", body={"email": "a@b.co", "gender": True})


def test_last_is_the_latest_matching_call_or_none(emu: Emulator, http: httpx.Client) -> None:
    assert emu.last(operation="updateProfile") is None
    http.put(LOYALTY_PROFILE, json={"firstName": "Ada"})
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    http.get(LOYALTY_PROFILE)
    latest = emu.last(operation="updateProfile")
    assert (latest["id"], latest["response"]["status"], latest["body"]) == (2, 200, VALID_UPDATE)
    assert emu.last()["operation"] == "getProfile"
    assert emu.last(operation="updateProfile", status=400)["id"] == 1
    assert emu.last(api="commerce") is None


def test_a_failing_assert_called_says_what_was_called_instead_and_the_near_misses(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(
        error="loyalty.EMAIL_ALREADY_EXISTS",
        operation="updateProfile",
        body={"email": "a@b.co"},
        rule_id="taken",
    )
    http.get(LOYALTY_PROFILE)
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    with pytest.raises(AssertionError) as failed:
        emu.assert_called(operation="updateProfile", times=2, body={"email": "a@b.co"})
    text = str(failed.value)
    assert text.splitlines()[0] == (
        'expected updateProfile (body containing {"email": "a@b.co"}) '
        "to be called twice; it was called 0 times"
    )
    assert f"calls in namespace '{emu.namespace}' (oldest first):" in text
    lines = text.splitlines()
    assert f"  #1 GET {LOYALTY_PROFILE} (loyalty getProfile) -> 200" in lines
    at = lines.index(f"  #2 PUT {LOYALTY_PROFILE} (loyalty updateProfile) -> 200")
    assert re.match(
        r'     request body: \{"firstName": "Ada", .*"email": "ada@example.com"', lines[at + 1]
    )
    assert "rules (match order):" in lines
    assert "near misses of call #2 (updateProfile):" in text
    assert "  taken: body email: the rule expects 'a@b.co', the call has 'ada@example.com'" in text


def test_a_failing_assert_not_called_and_the_rule_that_acted(
    emu: Emulator, http: httpx.Client
) -> None:
    emu.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", rule_id="taken")
    http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    with pytest.raises(AssertionError) as failed:
        emu.assert_not_called(operation="updateProfile", status=400)
    lines = str(failed.value).splitlines()
    assert lines[0] == "expected updateProfile (status 400) not to be called; it was called once"
    assert lines[2].endswith("  [rule taken: error]") and " -> 400 " in lines[2]


def test_a_long_body_is_cut_short_and_an_empty_namespace_says_so(
    emu: Emulator, http: httpx.Client
) -> None:
    with pytest.raises(AssertionError) as failed:
        emu.assert_called(api="loyalty")
    assert str(failed.value) == (
        f"expected loyalty to be called at least once; it was called "
        f"0 times\nno calls in namespace '{emu.namespace}'\n"
        f"dashboard: {emu.url}/_emulator/ui/?namespace={emu.namespace}"
    )
    http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "firstName": "A" * 500})
    shown = emu.report().splitlines()[2]
    assert shown.startswith("     request body: ")
    assert len(shown) < 200 and shown.endswith("...")
