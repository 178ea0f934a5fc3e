"""The pytest plugin (pytest11 entry point `profile_emulator`), run by pytester as a partner
team would use it: installed, nothing to configure."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.plugin.partner import partner_session, recorded

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow
# Inner runs skip the schemathesis and hypothesis plugins: they cost 2 s per process start.
QUIET = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")

PARTNER_TESTS = """
import json, os
from pathlib import Path

import httpx

PROFILE = "/client/users/seed-session-1/profile"
UPDATE = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10", "gender": "F",
          "email": "ada@example.com", "postalZipCode": "H0H 0H0"}


def record(emulator, name):
    out = Path(os.environ["PLUGIN_OUT"]) / f"{name}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
    out.write_text(json.dumps({"namespace": emulator.namespace, "url": emulator.url}))


def test_inject_an_error_once(emulator):
    record(emulator, "inject")
    emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    with httpx.Client(base_url=emulator.url, headers=emulator.headers) as vendor:
        first = vendor.put(PROFILE, json=UPDATE)
        second = vendor.put(PROFILE, json=UPDATE)
    assert first.json()["errorCode"] == "EMAIL_ALREADY_EXISTS"
    assert second.json() == {"debugMessage": "Profile Updated"}
    assert [r["status"] for r in emulator.requests(operation="updateProfile")] == [400, 200]


def test_a_connection_reset(emulator):
    record(emulator, "reset")
    emulator.inject(fault="connection_reset", operation="getProfile")
    try:
        httpx.get(emulator.url + PROFILE, headers=emulator.headers)
    except httpx.ReadError:
        pass
    else:
        raise AssertionError("no reset")


def test_a_scenario_and_config(emulator):
    record(emulator, "scenario")
    emulator.activate("loyalty-flaky")
    emulator.config(loyalty={"mandatoryFields": ["email"]})
    with httpx.Client(base_url=emulator.url, headers=emulator.headers) as vendor:
        assert [vendor.put(PROFILE, json={"email": "x@y.zz"}).status_code for _ in range(3)] == [503, 503, 200]


def test_each_test_starts_from_the_fixtures(emulator):
    record(emulator, "fresh")
    assert emulator.requests() == [] and emulator.rules() == []
    assert emulator.config()["loyalty"]["mandatoryFields"][0] == "firstName"
    assert not any(s["active"] for s in emulator.scenarios())


def test_make_emulator_gives_more_namespaces(emulator, make_emulator):
    other = make_emulator()
    assert other.namespace != emulator.namespace
    other.inject(respond={"status": 599})
    assert httpx.get(emulator.url + PROFILE, headers=emulator.headers).status_code == 200
    assert httpx.get(other.url + PROFILE, headers=other.headers).status_code == 599
"""


@pytest.fixture
def partner(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return partner_session(pytester, tmp_path, monkeypatch, test_partner=PARTNER_TESTS)


def test_the_plugin_starts_a_server_and_gives_each_test_its_own_namespace(
    pytester: pytest.Pytester, partner: Path
) -> None:
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=5)
    seen = recorded(partner)
    assert len({r["namespace"] for r in seen.values()}) == 4
    urls = {r["url"] for r in seen.values()}
    assert len(urls) == 1 and next(iter(urls)).startswith("http://127.0.0.1:")


def test_the_plugin_under_xdist(pytester: pytest.Pytester, partner: Path) -> None:
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", *QUIET)
    result.assert_outcomes(passed=5)
    seen = recorded(partner)
    assert len({r["namespace"] for r in seen.values()}) == 4
    assert {name.rsplit("-", 1)[1] for name in seen} <= {"gw0", "gw1"}


def test_the_plugin_uses_a_running_server_and_resets_what_it_used(
    pytester: pytest.Pytester, partner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with EmulatorServer() as shared:
        monkeypatch.setenv("EMULATOR_URL", shared.url)
        result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", *QUIET)
        result.assert_outcomes(passed=5)
        seen = recorded(partner)
        assert {r["url"] for r in seen.values()} == {shared.url}
        for entry in seen.values():  # every namespace was reset at teardown
            with Emulator(shared.url, entry["namespace"]) as used:
                assert used.rules() == [] and used.requests() == []
        result = pytester.runpytest_subprocess(
            "--emulator-url", shared.url, "-k", "starts_from", *QUIET
        )
        result.assert_outcomes(passed=1, deselected=4)


def test_the_plugin_takes_a_token_and_a_fixtures_folder(
    pytester: pytest.Pytester, partner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixtures = pytester.path / "my-fixtures"
    (fixtures / "scenarios").mkdir(parents=True)
    (fixtures / "scenarios" / "mine.yaml").write_text(
        "name: mine\ndescription: only here\nrules: [{respond: {status: 598}}]\n"
    )
    pytester.makepyfile(
        test_mine="""
def test_my_scenario(emulator):
    assert [s["name"] for s in emulator.scenarios()] == ["mine"]
"""
    )
    result = pytester.runpytest_subprocess(
        "--emulator-fixtures", str(fixtures), "-k", "my_scenario", *QUIET
    )
    result.assert_outcomes(passed=1, deselected=5)
    with EmulatorServer(control_token="tok") as guarded:
        monkeypatch.setenv("EMULATOR_URL", guarded.url)
        result = pytester.runpytest_subprocess("-k", "starts_from", *QUIET)
        result.assert_outcomes(errors=1, deselected=5)
        result.stdout.fnmatch_lines(["*refused its control API*401*pass --emulator-token*"])
        result = pytester.runpytest_subprocess(
            "-k", "starts_from", "--emulator-token", "tok", *QUIET
        )
        result.assert_outcomes(passed=1, deselected=5)


def test_a_missing_server_is_reported_once_clearly(
    pytester: pytest.Pytester, partner: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EMULATOR_URL", "http://127.0.0.1:9")
    result = pytester.runpytest_subprocess("-k", "starts_from", *QUIET)
    result.assert_outcomes(errors=1, deselected=4)
    result.stdout.fnmatch_lines(["*no emulator at http://127.0.0.1:9*"])


def test_the_plugin_documents_its_options(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--help", *QUIET)
    result.stdout.fnmatch_lines(
        ["*profile-emulator*", "*--emulator-url*", "*--emulator-token*", "*--emulator-fixtures*"]
    )
