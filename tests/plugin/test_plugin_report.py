"""The plugin's verification helpers in a partner's own session: a failing assert_called
names what was called instead and the near misses, and any failed test's report carries a
section with its namespace's calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.partner import partner_session
from tests.plugin.test_pytest_plugin import QUIET

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

FAILING = """
import httpx

PROFILE = "/client/users/seed-session-1/profile"


def test_helpers_read_like_sentences(emulator):
    with httpx.Client(base_url=emulator.url, headers=emulator.headers) as vendor:
        vendor.put(PROFILE, json={"email": "a@b.co"})
    emulator.assert_called(operation="updateProfile", times=1, body={"email": "a@b.co"})
    emulator.assert_not_called(operation="getProfile")
    assert emulator.last(operation="updateProfile")["response"]["status"] == 400


def test_a_client_that_sent_the_wrong_email(emulator):
    emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile",
                    body={"email": "a@b.co"}, rule_id="taken")
    with httpx.Client(base_url=emulator.url, headers=emulator.headers) as vendor:
        vendor.put(PROFILE, json={"email": "x@y.zz"})
    emulator.assert_called(operation="updateProfile", body={"email": "a@b.co"})


def test_a_plain_failure(emulator):
    httpx.get(emulator.url + PROFILE, headers=emulator.headers)
    assert 1 == 2
"""


def test_a_failing_assertion_and_a_failed_test_show_the_namespace(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_session(pytester, tmp_path, monkeypatch, test_failing=FAILING)
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            '*AssertionError: expected updateProfile (body containing {"email": "a@b.co"}) to be '
            "called at least once; it was called 0 times",
            '*#1 loyalty updateProfile -> 400  body: {"email": "x@y.zz"}',
            "*near misses of call #1 (updateProfile):",
            "*taken: body email: the rule expects 'a@b.co', the call has 'x@y.zz'",
        ]
    )
    # Every failed test gets its namespace's calls as a report section.
    result.stdout.fnmatch_lines(
        ["*- emulator namespace t-* -*", "*#1 loyalty getProfile -> 200  body: null"]
    )
