"""The index page in a real browser (Debian's Chromium through Playwright): it renders its
links, loads nothing from elsewhere, and its screenshot is kept under test-results/.

Skips when Chromium or Playwright is missing, except under CI (env CI set), where that
fails. Screenshots go to $INDEX_SCREENSHOTS when set, else test-results/screenshots/index/.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from emulator.server import EmulatorServer
from tests.browser import Visit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = "test-results/screenshots/index"


def test_the_index_page_renders_and_leads_to_the_docs_and_the_dashboard(
    browser: Any, server: EmulatorServer
) -> None:
    shots = Path(os.environ.get("INDEX_SCREENSHOTS") or ROOT / SCREENSHOTS)
    shots.mkdir(parents=True, exist_ok=True)
    visit = Visit(browser, server)
    page = visit.page
    try:
        page.goto(server.url + "/")
        assert page.locator("h1").inner_text().startswith("profile-emulator")
        for name in ("API docs", "Dashboard", "Health", "Usage guide"):
            assert page.get_by_role("link", name=name, exact=True).first.is_visible(), name
        page.screenshot(path=str(shots / "index.png"), full_page=True)
        print(f"screenshot: {shots / 'index.png'}")
        page.get_by_role("link", name="API docs", exact=True).click()
        page.wait_for_url("**/_emulator/docs")
        page.go_back()
        page.get_by_role("link", name="Dashboard", exact=True).first.click()
        page.wait_for_url("**/_emulator/ui/")
        visit.check_clean()
    finally:
        page.close()
    assert (shots / "index.png").stat().st_size > 0
