"""The dashboard (/_emulator/ui/) in a real browser: Debian's Chromium driven by Playwright,
as the docs browser test does (tools/setup-browser.sh). Vendor calls made beside the page
appear in its journal without a reload; a scenario switched on, an error injected from the
catalogue, a rule removed and a reset each show in the page and in the control API.

Every wait is the page's own condition (a selector or a text), never a fixed sleep. Skips
when Chromium or Playwright is missing, except under CI (env CI set), where that fails.
Screenshots go to $DASHBOARD_SCREENSHOTS when set, else to test-results/screenshots/dashboard/
(the folder the README names; CI keeps it as an artifact). Not build/: where the build
package is not installed, `python3 -m build` run in the checkout's root imports a build/ folder
there instead and fails with "'build' is a package and cannot be directly executed".
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.browser import Visit
from tests.control.conftest import LOYALTY_PROFILE, VALID_UPDATE

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
UI = "/_emulator/ui/"
WAIT_MS = 5000  # the most any page condition is waited for (it polls twice a second)
SCREENSHOTS = "test-results/screenshots/dashboard"  # in the checkout, unless $DASHBOARD_SCREENSHOTS


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("DASHBOARD_SCREENSHOTS") or ROOT / SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def emu(server: EmulatorServer) -> Iterator[Emulator]:
    with Emulator(server.url, f"ui-{uuid.uuid4().hex[:8]}") as emulator:
        yield emulator
        emulator.reset()


@pytest.fixture
def page(browser: Any, server: EmulatorServer, emu: Emulator) -> Iterator[Any]:
    visit = Visit(browser, server)
    visit.page.add_init_script(
        f"sessionStorage.setItem('profile-emulator-namespace', '{emu.namespace}')"
    )
    visit.page.set_default_timeout(WAIT_MS)
    try:
        yield visit.page
        visit.check_clean()
    finally:
        visit.page.close()


def open_dashboard(page: Any, server: EmulatorServer) -> None:
    page.goto(f"{server.url}{UI}")
    page.wait_for_selector("body[data-ready]")


def tab(page: Any, name: str) -> None:
    page.click(f'#tabs button[data-tab="{name}"]')
    page.wait_for_selector(f"#tab-{name}:not([hidden])")


def row(page: Any, entry_id: int) -> Any:
    return page.wait_for_selector(f'#journal tr[data-id="{entry_id}"]')


def test_calls_appear_live_and_open_to_request_response_and_near_misses(
    page: Any, server: EmulatorServer, emu: Emulator, shots: Path
) -> None:
    open_dashboard(page, server)
    assert page.locator("#journal tbody tr").count() == 0
    option = page.locator(f'#namespace option[value="{emu.namespace}"]')
    assert option.get_attribute("selected") is not None
    emu.inject(
        respond={"status": 503}, operation="getProfile", body={"never": True}, rule_id="near"
    )
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        http.get(LOYALTY_PROFILE)
        http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
    first, second = row(page, 1), row(page, 2)  # no reload: the page polls the journal
    assert "getProfile" in first.inner_text() and "200" in first.inner_text()
    assert "updateProfile" in second.inner_text()
    page.wait_for_selector(
        f'#namespace option[value="{emu.namespace}"]:text("2 calls")', state="attached"
    )
    first.click()
    page.wait_for_selector("#entry:not([hidden])")
    page.wait_for_selector("#near-misses .miss")
    entry = page.locator("#entry").inner_text()
    assert f"GET {LOYALTY_PROFILE}" in entry
    assert "Response 200" in entry
    assert "no rule acted on this call" in entry
    assert page.locator("#near-misses").inner_text() == (
        "near body: body (top level): the rule expects an object, the call has no JSON body"
    )
    page.screenshot(path=str(shots / "journal-entry.png"))


def test_a_scenario_switched_on_acts_on_the_next_call(
    page: Any, server: EmulatorServer, emu: Emulator, shots: Path
) -> None:
    open_dashboard(page, server)
    tab(page, "scenarios")
    box = page.locator('li[data-scenario="loyalty-email-taken"] input[type=checkbox]')
    box.wait_for()
    assert not box.is_checked()
    box.check()
    page.wait_for_selector("#status:text('scenario loyalty-email-taken on')")
    assert {s["name"]: s["active"] for s in emu.scenarios()}["loyalty-email-taken"] is True
    page.screenshot(path=str(shots / "scenarios.png"))
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 400
    tab(page, "journal")
    failed = row(page, 1)
    assert "400" in failed.inner_text() and "s-loyalty-email-taken-1 (error)" in failed.inner_text()
    tab(page, "scenarios")
    page.locator('li[data-scenario="loyalty-email-taken"] input').uncheck()
    page.wait_for_selector("#status:text('scenario loyalty-email-taken off')")
    assert emu.rules() == []


def test_inject_once_from_the_catalogue_then_remove_the_spent_rule(
    page: Any, server: EmulatorServer, emu: Emulator, shots: Path
) -> None:
    open_dashboard(page, server)
    tab(page, "errors")
    page.fill("#errors-filter", "EMAIL_ALREADY_EXISTS")
    page.click('tr[data-error="loyalty.EMAIL_ALREADY_EXISTS"] button.inject')
    page.wait_for_selector("#status:text('loyalty.EMAIL_ALREADY_EXISTS injected once')")
    page.screenshot(path=str(shots / "errors.png"))
    [rule] = emu.rules()
    assert (rule["error"], rule["times"]) == ("loyalty.EMAIL_ALREADY_EXISTS", 1)
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        refused = http.put(LOYALTY_PROFILE, json=VALID_UPDATE)
        assert (refused.status_code, refused.json()["errorCode"]) == (400, "EMAIL_ALREADY_EXISTS")
        assert http.put(LOYALTY_PROFILE, json=VALID_UPDATE).status_code == 200
    tab(page, "rules")
    spent = page.wait_for_selector(f'#rules tr[data-rule="{rule["id"]}"] td.state:text("spent")')
    line = page.locator(f'#rules tr[data-rule="{rule["id"]}"]')
    assert line.locator("td.fired").inner_text() == "1"
    assert line.locator("td.matched").inner_text() == "1"
    assert spent is not None
    page.screenshot(path=str(shots / "rules.png"))
    line.locator("button.remove").click()
    page.wait_for_selector(f'#rules tr[data-rule="{rule["id"]}"]', state="detached")
    assert emu.rules() == []
    tab(page, "journal")
    row(page, 2)
    assert "f-1 (error)" in row(page, 1).inner_text()


def test_the_state_tree_and_reset(
    page: Any, server: EmulatorServer, emu: Emulator, shots: Path
) -> None:
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "firstName": "Grace"})
    emu.inject(respond={"status": 503}, operation="getProfile", rule_id="gone-after-reset")
    open_dashboard(page, server)
    row(page, 1)
    tab(page, "state")
    accounts = page.wait_for_selector("#state > details summary:has-text('loyalty.accounts')")
    accounts.click()  # open the collection: its documents show one level at a time
    document = page.wait_for_selector("#state details details summary:has-text('1000000001')")
    document.click()
    page.wait_for_selector("#state details details details summary:has-text('profile')").click()
    page.wait_for_selector("#state .leaf:has-text('\"Grace\"')")
    page.screenshot(path=str(shots / "state.png"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset")
    page.wait_for_selector(f"#status:text('namespace {emu.namespace} reset')")
    tab(page, "journal")
    page.wait_for_selector("#journal-empty:not([hidden])")
    assert emu.requests() == [] and emu.rules() == []
    page.screenshot(path=str(shots / "after-reset.png"))


def test_a_journal_of_a_thousand_calls(
    page: Any, server: EmulatorServer, emu: Emulator, shots: Path
) -> None:
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        for n in range(1000):
            http.get(LOYALTY_PROFILE, params={"n": n})
    open_dashboard(page, server)
    row(page, 1000)
    assert page.locator("#journal tbody tr").count() == 1000
    took = page.evaluate("window.emulatorDashboard.lastRender")
    size = sum(
        len(httpx.get(f"{server.url}{UI}{path}").content)
        for path in ("", "assets/app.js", "assets/app.css")
    )
    print(f"dashboard: 1,000 journal entries rendered in {took:.1f} ms; page weight {size} bytes")
    page.screenshot(path=str(shots / "journal-1000.png"))


def test_the_control_token_is_asked_for_and_never_put_in_the_url(browser: Any, shots: Path) -> None:
    with EmulatorServer(control_token="s3cret-token") as guarded:
        visit = Visit(browser, guarded)
        page = visit.page
        page.set_default_timeout(WAIT_MS)
        try:
            with httpx.Client(base_url=guarded.url) as http:
                http.get(LOYALTY_PROFILE)
            page.goto(f"{guarded.url}{UI}")
            page.wait_for_selector("#token-dialog[open]")
            page.screenshot(path=str(shots / "token-prompt.png"))
            page.fill("#token", "wrong")
            page.click("#token-form button[type=submit]")
            page.wait_for_selector("#token-error:text('That token was refused.')")
            page.fill("#token", "s3cret-token")
            page.click("#token-form button[type=submit]")
            row(page, 1)
            assert "s3cret-token" not in page.url
            assert all("s3cret-token" not in url for url in visit.local)
            assert (
                page.evaluate("sessionStorage.getItem('profile-emulator-token')") == "s3cret-token"
            )
            assert visit.outside == [] and visit.errors == []
            assert {f.split(" ")[0] for f in visit.failed} == {"401"}  # the calls before the token
        finally:
            page.close()
