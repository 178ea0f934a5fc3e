"""OCC webhook deliveries on the dashboard (/_emulator/ui/), in a real browser as
test_dashboard_browser.py drives it: an OCC updateProfile call made beside the page, a
partner's endpoint on loopback that answers the first attempt 503 and the resend 200, and
what a user sees in the journal: the vendor call's row, and one row per attempt marked as
a webhook the emulator sent (the subscriber's URL, the attempt, the subscriber's status,
when it was sent and how long it took), with the subscriber's answer when the row is opened.

Every wait is the page's own condition, or a hang guard of the client or the subscriber.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.browser import Visit
from tests.control.conftest import COMMERCE_PROFILE, commerce_token
from tests.subscriber import Subscriber

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
UI = "/_emulator/ui/"
WAIT_MS = 5000  # the most any page condition is waited for (it polls twice a second)
SCREENSHOTS = "test-results/screenshots/dashboard"  # in the checkout, unless $DASHBOARD_SCREENSHOTS
UPDATE = "production-updateProfile"  # the vendor's webhook id ("Shopper Profile Update")
ATTEMPTS = 5  # "Manage failed webhook calls": 5 attempts unless configured
HOUR = 1  # ... an hour apart
PROFILE = COMMERCE_PROFILE.rsplit("/", 1)[1]
COLUMNS = ["#", "at", "api", "operation", "request", "status", "ms", "rule"]


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
def partner() -> Iterator[Subscriber]:
    with Subscriber() as subscriber:
        yield subscriber


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


def cells(page: Any, entry: dict[str, Any]) -> dict[str, str]:
    """The journal row of an entry, once the page shows it, by column heading. Its time is
    the journal's (UTC, to the millisecond) and its duration the journal's to a tenth of a
    millisecond (checked here, then left out: the browser's rounding of a tie is its own)."""
    page.wait_for_selector(f'#journal tr[data-id="{entry["id"]}"]')
    headings = page.locator("#journal thead th").all_inner_texts()
    assert headings == COLUMNS
    texts = page.locator(f'#journal tr[data-id="{entry["id"]}"] td').all_inner_texts()
    row = dict(zip(headings, texts, strict=True))
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{3}", row["at"])
    assert re.fullmatch(r"\d+\.\d", row.pop("ms"))
    assert abs(float(texts[COLUMNS.index("ms")]) - entry["durationMs"]) <= 0.051
    return row


def test_deliveries_show_beside_the_vendor_call_with_the_subscriber_s_answer(
    page: Any, server: EmulatorServer, emu: Emulator, partner: Subscriber, shots: Path
) -> None:
    partner.answers.append((503, 0.0))  # the first attempt fails, the resend gets a 200
    emu.subscribe(UPDATE, url=partner.url, secret="partner-s3cret")
    page.goto(f"{server.url}{UI}")
    page.wait_for_selector("body[data-ready]")
    with httpx.Client(base_url=server.url, headers=emu.headers) as http:
        token = commerce_token(http)
        update = http.put(
            COMMERCE_PROFILE,
            json={"firstName": "Ada"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert update.status_code == 200, update.text
    partner.wait_for(1)
    [failed] = emu.wait_for_webhook(UPDATE, outcome="status 503")
    [call] = emu.requests(operation="updateProfile")

    # no reload: the page polls the journal
    assert cells(page, failed) == {
        "#": str(failed["id"]),
        "at": failed["at"][11:23],
        "api": "commerce webhook",
        "operation": f"{UPDATE} (attempt 1/{ATTEMPTS})",
        "request": f"→ POST {partner.url}",
        "status": "503",
        "rule": "",
    }
    assert cells(page, call) == {
        "#": str(call["id"]),
        "at": call["at"][11:23],
        "api": "commerce",
        "operation": "updateProfile",
        "request": f"PUT {COMMERCE_PROFILE}",
        "status": "200",
        "rule": "",
    }
    assert page.get_attribute(f'#journal tr[data-id="{failed["id"]}"]', "data-direction") == (
        "outbound"
    )
    assert page.get_attribute(f'#journal tr[data-id="{call["id"]}"]', "data-direction") == (
        "inbound"
    )

    emu.advance(hours=HOUR)  # the resend that was due
    partner.wait_for(2)
    [delivered] = emu.wait_for_webhook(UPDATE)
    assert cells(page, delivered) == {
        "#": str(delivered["id"]),
        "at": delivered["at"][11:23],
        "api": "commerce webhook",
        "operation": f"{UPDATE} (attempt 2/{ATTEMPTS})",
        "request": f"→ POST {partner.url}",
        "status": "200",
        "rule": "",
    }
    newest_first = page.locator("#journal tbody tr").evaluate_all(
        "rows => rows.map(row => Number(row.dataset.id))"
    )
    assert newest_first[:2] == [delivered["id"], failed["id"]]
    assert call["id"] in newest_first

    page.click(f'#journal tr[data-id="{failed["id"]}"]')
    page.wait_for_selector("#entry:not([hidden])")
    page.wait_for_selector("#near-misses:text('(a webhook delivery: delivery rules only)')")
    entry = page.locator("#entry").inner_text()
    assert f"#{failed['id']} commerce {UPDATE}" in entry
    assert f"POST {partner.url}" in entry
    assert "Response 503 (" in entry
    assert '"outcome": "status 503"' in entry
    assert f'"key": "{PROFILE}"' in entry
    page.screenshot(path=str(shots / "webhook-deliveries.png"))
