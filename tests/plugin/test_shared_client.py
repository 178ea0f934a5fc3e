"""The Emulators of a session share one connection pool: views (`Emulator.view`, the plugin's
fixtures) send their own namespace on every call, nothing crosses from one to another, and
closing a view leaves the pool to its owner."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from emulator.client import NAMESPACE_HEADER, Emulator, EmulatorError, new_http_client
from emulator.server import EmulatorServer
from tests.plugin.partner import partner_session, recorded
from tests.plugin.test_pytest_plugin import QUIET

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

PROFILE = "/client/users/seed-session-1/profile"

SHARED_TESTS = """
import json, os
from pathlib import Path

import httpx
import pytest

PROFILE = "/client/users/seed-session-1/profile"
EARLIER = []  # namespaces of the tests this process ran before


@pytest.mark.parametrize("n", range(4))
def test_each_test_has_its_own_namespace_rules_and_journal(emulator, make_emulator, n):
    assert emulator.rules() == [] and emulator.requests() == []
    # (the earlier tests' namespaces are reset in batches: test_plugin_report.py)
    mine = emulator.headers
    mine["X-Emulator-Namespace"] = "someone-else"  # the caller's copy, not the emulator's
    mine["Authorization"] = "Bearer nope"
    assert emulator.headers == {"X-Emulator-Namespace": emulator.namespace}
    emulator.inject(respond={"status": 590 + n}, operation="getProfile")
    assert [r["respond"]["status"] for r in emulator.rules()] == [590 + n]
    assert make_emulator("someone-else").rules() == []
    assert httpx.get(emulator.url + PROFILE, headers=emulator.headers).status_code == 590 + n
    assert [e["headers"]["x-emulator-namespace"] for e in emulator.requests()] == [emulator.namespace]
    out = Path(os.environ["PLUGIN_OUT"]) / f"{n}-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}.json"
    out.write_text(json.dumps({"namespace": emulator.namespace, "checked_earlier": len(EARLIER)}))
    EARLIER.append(emulator.namespace)


def test_an_emulator_is_closed_after_its_test_and_the_pool_is_not(make_emulator):
    first, second = make_emulator(), make_emulator()
    first.close()
    with pytest.raises(RuntimeError, match="closed"):
        first.rules()
    assert second.rules() == []
"""


@pytest.fixture
def shared(pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return partner_session(pytester, tmp_path, monkeypatch, test_shared=SHARED_TESTS)


def records(out: Path) -> list[dict]:
    return list(recorded(out).values())


def test_tests_of_one_session_share_the_pool_and_nothing_else(
    pytester: pytest.Pytester, shared: Path
) -> None:
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=5)
    seen = records(shared)
    assert len({r["namespace"] for r in seen}) == 4
    assert sorted(r["checked_earlier"] for r in seen) == [0, 1, 2, 3]


def test_the_shared_pool_under_xdist(pytester: pytest.Pytester, shared: Path) -> None:
    result = pytester.runpytest_subprocess("-p", "xdist", "-n", "2", *QUIET)
    result.assert_outcomes(passed=5)
    assert len({r["namespace"] for r in records(shared)}) == 4


def test_views_share_the_client_and_send_their_own_namespace(server: EmulatorServer) -> None:
    with Emulator(server.url, "view-root", timeout=5) as root:
        a, b = root.view("view-a"), root.view("view-b")
        assert a._http is root._http is b._http
        assert (a.url, a.namespace, a.headers) == (
            server.url,
            "view-a",
            {NAMESPACE_HEADER: "view-a"},
        )
        a.inject(respond={"status": 591}, rule_id="only-a")
        assert [r["id"] for r in a.rules()] == ["only-a"] and b.rules() == [] == root.rules()
        assert NAMESPACE_HEADER not in root._http.headers
        a.close()
        with pytest.raises(RuntimeError, match="closed"):
            a.rules()
        assert not root._http.is_closed and b.health()
        b.reset()
    assert root._http.is_closed
    with pytest.raises(RuntimeError):
        b.rules()  # its owner closed the pool


def test_a_given_client_is_left_to_its_owner(server: EmulatorServer) -> None:
    with httpx.Client(base_url="http://elsewhere.invalid") as mine:
        with Emulator(server.url, "given", client=mine) as emulator:
            assert emulator.health()  # absolute URLs: the client's base_url does not matter
        assert not mine.is_closed


def test_views_pass_the_token_on() -> None:
    with EmulatorServer(control_token="tok") as guarded, Emulator(guarded.url, token="tok") as root:
        assert root.view("tok-view").rules() == []
        with Emulator(guarded.url) as bare, pytest.raises(EmulatorError, match="401"):
            bare.view("tok-view").rules()


def test_the_shared_client_keeps_no_cookies(server: EmulatorServer) -> None:
    with Emulator(server.url, "cookie-a") as a, new_http_client() as http:
        a.inject(
            respond={"status": 200, "headers": {"Set-Cookie": "sid=a-only; Path=/"}, "body": {}}
        )
        assert (
            http.get(server.url + PROFILE, headers=a.headers).headers["set-cookie"]
            == "sid=a-only; Path=/"
        )
        assert not http.cookies
        http.get(server.url + PROFILE, headers={NAMESPACE_HEADER: "cookie-b"})
        with Emulator(server.url, "cookie-b") as b:
            assert "cookie" not in b.requests()[0]["headers"]
            b.reset()
        a.reset()
