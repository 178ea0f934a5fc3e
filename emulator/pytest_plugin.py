"""pytest plugin (entry point ``pytest11``): one emulator per test session, a namespace per test.

    def test_retries_on_email_taken(emulator):
        emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", times=1)
        client = MyLoyaltyClient(emulator.url, headers=emulator.headers)
        client.update_profile("c-1", {...})
        emulator.assert_called(operation="updateProfile", times=2)

``Emulator.assert_called`` / ``assert_not_called`` / ``last`` read the namespace's journal;
a failing assertion, and any failed test, shows what was called there (each call's status,
a vendor error's code and message), the rules and their near misses, and the dashboard's
URL on the namespace. A failed test's namespaces are kept for that (the last
``--emulator-keep-failed`` tests', 5 by default, per session or xdist worker; older ones are
reset), every other test's are reset later, 50 tests' in one call (and the rest at the
session's end): a namespace the plugin names is that test's alone.

Fixtures: ``emulator`` (a :class:`~emulator.client.Emulator` on a fresh namespace),
``make_emulator`` (more namespaces in one test), ``emulator_url`` (the session's server).
By default a real server starts on a free loopback port, once per session (once per
worker under pytest-xdist); ``--emulator-url`` / ``EMULATOR_URL`` uses a running one
instead. Namespaces are random, so tests and workers never see each other's state.
The Emulators of a session share one connection pool; each sends its own namespace.
"""

from __future__ import annotations

import os
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import Emulator, EmulatorError

KEEP_FAILED = 5  # failed tests whose namespaces a session keeps (--emulator-keep-failed)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("profile-emulator")
    group.addoption(
        "--emulator-url",
        default=os.environ.get("EMULATOR_URL"),
        help="use the emulator running at this URL instead of starting one "
        "(default: $EMULATOR_URL)",
    )
    group.addoption(
        "--emulator-token",
        default=os.environ.get("EMULATOR_CONTROL_TOKEN"),
        help="its control token, if it has one (default: $EMULATOR_CONTROL_TOKEN)",
    )
    group.addoption(
        "--emulator-keep-failed",
        type=int,
        default=int(os.environ.get("EMULATOR_KEEP_FAILED", KEEP_FAILED)),
        metavar="N",
        help="keep the namespaces of the last N failed tests for the dashboard, older ones "
        f"are reset (default: $EMULATOR_KEEP_FAILED, else {KEEP_FAILED}; 0: reset them all)",
    )
    group.addoption(
        "--emulator-fixtures",
        default=os.environ.get("EMULATOR_FIXTURES"),
        help="fixtures folder of the server the plugin starts "
        "(default: $EMULATOR_FIXTURES, else the emulator's own)",
    )


@pytest.fixture(scope="session")
def emulator_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The base URL of the session's emulator (started here unless --emulator-url)."""
    url = request.config.getoption("emulator_url")
    if url:
        _check_access(url.rstrip("/"), request.config.getoption("emulator_token"))
        yield url.rstrip("/")
        return
    from emulator.server import EmulatorServer  # the server side only when one is started

    fixtures = request.config.getoption("emulator_fixtures")
    options: dict[str, Any] = {"fixtures": Path(fixtures)} if fixtures else {}
    with EmulatorServer(**options) as server:
        yield server.url


def _check_access(url: str, token: str | None) -> None:
    """Fail once, clearly, when a running server cannot be reached or wants a token."""
    with Emulator(url, token=token) as emulator:
        try:
            emulator.rules()
        except EmulatorError as exc:
            hint = (
                " (pass --emulator-token or set EMULATOR_CONTROL_TOKEN)"
                if exc.status == 401
                else ""
            )
            raise RuntimeError(
                f"the emulator at {url} refused its control API: {exc}{hint}"
            ) from None
        except httpx.HTTPError as exc:
            raise RuntimeError(f"no emulator at {url}: {exc}") from None


@pytest.fixture(scope="session")
def _emulator_client(emulator_url: str, request: pytest.FixtureRequest) -> Iterator[Emulator]:
    """The session's one connection pool to its emulator; tests get views of it."""
    with Emulator(emulator_url, token=request.config.getoption("emulator_token")) as root:
        yield root


_MADE = pytest.StashKey[list[Emulator]]()  # the Emulators a test made, for its failure report
_FAILED = pytest.StashKey[bool]()  # the test failed: its namespaces are kept


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report gets a section per namespace it used (``Emulator.report``:
    its calls, rules, near misses and dashboard URL), and its namespaces are kept."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    made = item.stash.get(_MADE, None)
    if not made or report.when == "teardown" or not report.failed:
        return
    item.stash[_FAILED] = True
    for emulator in made:
        try:
            text = emulator.report()
        except Exception as exc:  # a report never breaks the partner's session
            text = f"(the journal could not be read: {exc!r})"
        report.sections.append((f"emulator namespace {emulator.namespace}", text))


RESET_BATCH = 50  # passed tests whose namespaces are reset in one call


@pytest.fixture(scope="session")
def _passed(_emulator_client: Emulator) -> Iterator[list[str]]:
    """The namespaces the plugin made for passed tests, not reset yet: each is a test's own
    (no later test uses it), so they are reset together, ``RESET_BATCH`` tests' at a time,
    and the rest at the end of the session: one round trip for many tests."""
    pending: list[str] = []
    yield pending
    if pending:
        _emulator_client.reset_namespaces(pending)


@pytest.fixture(scope="session")
def _kept() -> deque[list[str]]:
    """The namespaces of the session's last failed tests (one list per test), oldest first:
    kept as the tests left them, for the dashboard; one more than ``--emulator-keep-failed``
    tests' resets the oldest test's."""
    return deque()


@pytest.fixture
def make_emulator(
    _emulator_client: Emulator,
    _kept: deque[list[str]],
    _passed: list[str],
    request: pytest.FixtureRequest,
) -> Iterator[Callable[..., Emulator]]:
    """``make_emulator(namespace=None)``: an Emulator on a new (or the named) namespace;
    each is reset at the end of the test, unless the test failed (see ``--emulator-keep-failed``)."""
    made: list[Emulator] = []
    own: set[str] = set()  # the namespaces made for this test alone (no name given)
    request.node.stash[_MADE] = made

    def make(namespace: str | None = None) -> Emulator:
        emulator = _emulator_client.view(namespace or f"t-{uuid.uuid4().hex[:16]}")
        if namespace is None:
            own.add(emulator.namespace)
        made.append(emulator)
        return emulator

    yield make
    names = [emulator.namespace for emulator in made]
    for emulator in made:
        emulator.close()
    if request.node.stash.get(_FAILED, False):
        _kept.append(names)
        keep = request.config.getoption("emulator_keep_failed")
        names = []
        while len(_kept) > max(keep, 0):
            names += _kept.popleft()
    for name in names:  # frees the namespace on a long-lived shared server
        if name in own:  # no other test will use it: reset with others, later
            _passed.append(name)
        else:  # a named one: the next test to use it finds it reset
            _emulator_client.view(name).reset()
    if len(_passed) >= RESET_BATCH:
        _emulator_client.reset_namespaces(_passed)
        _passed.clear()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """The control API of this test's own namespace, on the session's emulator."""
    return make_emulator()
