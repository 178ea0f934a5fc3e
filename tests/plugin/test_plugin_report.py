"""The plugin's verification helpers in a partner's own session: a failing assert_called
names what was called instead and the near misses, and any failed test's report carries a
section with its namespace's calls."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
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
    # Each call with its status and the vendor's error code and message (seed 000: a body
    # without the mandatory fields is INVALID_REQUEST, "The following missing fields are
    # mandatory: ..."), its request body, the rules, the near misses, the dashboard's URL.
    result.stdout.fnmatch_lines(
        [
            '*AssertionError: expected updateProfile (body containing {"email": "a@b.co"}) to be '
            "called at least once; it was called 0 times",
            "*#1 PUT /client/users/seed-session-1/profile (loyalty updateProfile) -> 400 "
            "INVALID_REQUEST: The following missing fields are mandatory: *",
            '*request body: {"email": "x@y.zz"}',
            "*taken: error loyalty.EMAIL_ALREADY_EXISTS when *; matched 0, fired 0",
            "*near misses of call #1 (updateProfile):",
            "*taken: body email: the rule expects 'a@b.co', the call has 'x@y.zz'",
            "*dashboard: http://127.0.0.1:*/_emulator/ui/?namespace=t-*",
        ]
    )
    # Every failed test gets its namespace's calls as a report section.
    result.stdout.fnmatch_lines(
        [
            "*- emulator namespace t-* -*",
            "*#1 GET /client/users/seed-session-1/profile (loyalty getProfile) -> 200",
            "dashboard: http://127.0.0.1:*/_emulator/ui/?namespace=t-*",
        ]
    )


INJECTED = """
import httpx

PROFILE = "/client/users/seed-session-1/profile"
UPDATE = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10", "gender": "F",
          "email": "ada@example.com", "postalZipCode": "H0H 0H0"}


def test_an_injected_error_the_client_did_not_expect(emulator):
    emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", rule_id="dup")
    with httpx.Client(base_url=emulator.url, headers=emulator.headers) as vendor:
        assert vendor.put(PROFILE, json=UPDATE).status_code == 200
"""


def test_a_failed_test_shows_the_vendor_error_a_rule_gave(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_session(pytester, tmp_path, monkeypatch, test_injected=INJECTED)
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(failed=1)
    # Seed 000: EMAIL_ALREADY_EXISTS, "Sorry, that email address is already in use".
    result.stdout.fnmatch_lines(
        [
            "*- emulator namespace t-* -*",
            "*#1 PUT /client/users/seed-session-1/profile (loyalty updateProfile) -> 400 "
            "EMAIL_ALREADY_EXISTS: Sorry, that email address is already in use"
            "  [[]rule dup: error[]]",
            "*dup: error loyalty.EMAIL_ALREADY_EXISTS when *; matched 1, fired 1",
        ]
    )


RECORDING = """
import json, os
from pathlib import Path

import httpx

PROFILE = "/client/users/seed-session-1/profile"


def used(emulator, name):
    httpx.get(emulator.url + PROFILE, headers=emulator.headers)
    (Path(os.environ["PLUGIN_OUT"]) / f"{name}.json").write_text(json.dumps(emulator.namespace))


def test_1_fails(emulator):
    used(emulator, "1-failed")
    assert False


def test_2_passes(emulator):
    used(emulator, "2-passed")


def test_3_fails(emulator):
    used(emulator, "3-failed")
    assert False


def test_4_fails(emulator, make_emulator):
    used(emulator, "4-failed")
    used(make_emulator(), "4-failed-other")
    assert False
"""


def test_a_failed_tests_namespaces_are_kept_for_the_dashboard_the_latest_few(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = partner_session(pytester, tmp_path, monkeypatch, test_recording=RECORDING)
    with EmulatorServer() as shared:
        result = pytester.runpytest_subprocess(
            "--emulator-url", shared.url, "--emulator-keep-failed", "2", *QUIET
        )
        result.assert_outcomes(passed=1, failed=3)
        seen = {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}
        with Emulator(shared.url) as root:
            calls = {name: len(root.view(ns).requests()) for name, ns in seen.items()}
    # The last two failed tests' namespaces as they left them; the rest reset.
    assert calls == {
        "1-failed": 0,
        "2-passed": 0,
        "3-failed": 1,
        "4-failed": 1,
        "4-failed-other": 1,
    }


COUNTING = """
import json, os
from pathlib import Path

from emulator.client import Emulator

CALLS = []
_call = Emulator._call


def counted(self, method, path, **kwargs):
    CALLS.append([method, path])
    return _call(self, method, path, **kwargs)


Emulator._call = counted


def pytest_runtest_logstart(nodeid, location):
    CALLS.clear()


def pytest_runtest_logfinish(nodeid, location):
    out = Path(os.environ["PLUGIN_OUT"]) / (nodeid.rsplit("::", 1)[1] + ".json")
    out.write_text(json.dumps(CALLS))
    CALLS.clear()
"""

PASSING_AND_FAILING = """
def test_passes(emulator):
    assert emulator.namespace


def test_fails(emulator):
    assert not emulator.namespace
"""


def test_a_passed_test_costs_no_call_of_its_own_and_only_a_failed_one_reads_the_journal(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture's cost per test (bench/fixture_cost.py: at most 1 ms): a passed test's
    namespace is reset with others' later (RESET_BATCH tests' in one call, the rest at the
    session's end); the failure report's reads happen only for failed ones."""
    out = partner_session(pytester, tmp_path, monkeypatch, test_counted=PASSING_AND_FAILING)
    pytester.makeconftest(COUNTING)
    result = pytester.runpytest_subprocess("-p", "no:randomly", *QUIET)
    result.assert_outcomes(passed=1, failed=1)
    passed = json.loads((out / "test_passes.json").read_text())
    failed = json.loads((out / "test_fails.json").read_text())
    assert passed == []
    assert ["POST", "/reset"] not in failed  # kept for the dashboard
    assert ["GET", "/faults"] in failed and ["GET", "/requests"] in failed


BATCH_OF_TWO = (
    """
import emulator.pytest_plugin

emulator.pytest_plugin.RESET_BATCH = 2
"""
    + COUNTING
)

THREE_PASSING = """
import json, os
from pathlib import Path

import httpx

PROFILE = "/client/users/seed-session-1/profile"
UPDATE = {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com",
          "dateOfBirth": "1985-12-10", "gender": "F", "postalZipCode": "H0H 0H0"}


def used(emulator, name):
    assert httpx.put(emulator.url + PROFILE, json=UPDATE, headers=emulator.headers).status_code == 200
    (Path(os.environ["PLUGIN_OUT"]) / f"{name}.ns").write_text(emulator.namespace)


def test_a(emulator):
    used(emulator, "a")


def test_b(emulator):
    used(emulator, "b")


def test_c(emulator):
    used(emulator, "c")
"""


def test_passed_tests_namespaces_are_reset_in_batches_and_at_the_end(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a shared server: with batches of two, the second test's teardown resets the
    first two tests' namespaces in one call, and the session's end the third's; afterwards
    none of them is in use, nor holds what its test wrote."""
    out = partner_session(pytester, tmp_path, monkeypatch, test_batched=THREE_PASSING)
    pytester.makeconftest(BATCH_OF_TWO)
    with EmulatorServer() as shared:
        result = pytester.runpytest_subprocess(
            "--emulator-url", shared.url, "-p", "no:randomly", *QUIET
        )
        result.assert_outcomes(passed=3)
        calls = {t: json.loads((out / f"test_{t}.json").read_text()) for t in "abc"}
        namespaces = {t: (out / f"{t}.ns").read_text() for t in "abc"}
        in_use = httpx.get(f"{shared.url}/_emulator/namespaces").json()
        with Emulator(shared.url) as root:  # (reading a journal makes its namespace again)
            journals = {t: len(root.view(ns).requests()) for t, ns in namespaces.items()}
    batch = ["POST", "/namespaces/reset"]
    # (a: the session's check that the server takes its token; c: the session's end falls in
    # the last test's teardown)
    assert calls == {"a": [["GET", "/faults"]], "b": [batch], "c": [batch]}
    assert not {summary["name"] for summary in in_use} & set(namespaces.values())
    assert journals == {"a": 0, "b": 0, "c": 0}
