"""The docs pages in a real browser: Debian's Chromium (tools/setup-browser.sh) driven by
Playwright. Each page renders every operation of its spec, shows the fidelity labels, and
loads nothing from anywhere but the emulator.

Skips when Chromium or Playwright is missing, except under CI (env CI set), where that
fails. Screenshots go to $DOCS_SCREENSHOTS when set, else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from emulator.server import EmulatorServer
from tests.browser import Visit

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
APIS = ("loyalty", "commerce", "control")


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("DOCS_SCREENSHOTS") or tmp_path_factory.mktemp("docs-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def visit(browser: Any, server: EmulatorServer) -> Iterator[Visit]:
    visiting = Visit(browser, server)
    try:
        yield visiting
    finally:
        visiting.page.close()


def exactly(text: str) -> re.Pattern[str]:
    return re.compile(f"^{re.escape(text)}$")


def operations(api: str) -> list[dict[str, Any]]:
    spec = yaml.safe_load((ROOT / "openapi" / f"{api}.yaml").read_bytes())
    return [
        op
        for item in spec["paths"].values()
        for method, op in item.items()
        if isinstance(op, dict) and "operationId" in op
    ]


@pytest.mark.parametrize("api", APIS)
def test_a_page_renders_every_operation_of_its_spec(
    visit: Visit, server: EmulatorServer, shots: Path, api: str
) -> None:
    page = visit.page
    page.goto(f"{server.url}/_emulator/docs/{api}")
    page.wait_for_selector(".opblock-summary-operation-id")
    ops = operations(api)
    shown_ids = page.locator(".opblock-summary-operation-id").all_inner_texts()
    assert sorted(shown_ids) == sorted(op["operationId"] for op in ops)
    for op in ops:
        block = page.locator(
            ".opblock",
            has=page.locator(".opblock-summary-operation-id", has_text=exactly(op["operationId"])),
        ).first
        assert block.is_visible()
        if "summary" in op:
            assert op["summary"] in block.locator(".opblock-summary-description").inner_text()
    title = yaml.safe_load((ROOT / "openapi" / f"{api}.yaml").read_bytes())["info"]["title"]
    assert page.locator(".info .title").inner_text().startswith(title)
    page.screenshot(path=str(shots / f"{api}.png"))
    print(f"screenshot: {shots / f'{api}.png'}")
    visit.check_clean()


@pytest.mark.parametrize("api", ["loyalty", "commerce"])
def test_an_inferred_operation_shows_its_label_and_reason(
    visit: Visit, server: EmulatorServer, shots: Path, api: str
) -> None:
    op = next(op for op in operations(api) if op.get("x-fidelity") == "inferred")
    page = visit.page
    page.goto(f"{server.url}/_emulator/docs/{api}")
    summary = page.locator(
        ".opblock-summary",
        has=page.locator(".opblock-summary-operation-id", has_text=exactly(op["operationId"])),
    ).first
    assert "[inferred]" in summary.inner_text()  # visible while collapsed
    summary.click()
    # The operation's own description: the first block of the opened operation.
    description = page.locator(".opblock.is-open .opblock-description-wrapper").first
    label = description.locator("strong", has_text="Fidelity: inferred")
    label.wait_for()
    assert label.is_visible()
    reason = op.get("x-fidelity-reason")
    if reason:
        assert f"Fidelity: inferred — {reason}" in description.inner_text()
    page.screenshot(path=str(shots / f"{api}-{op['operationId']}-open.png"))
    visit.check_clean()


def test_an_inferred_response_shows_its_label(visit: Visit, server: EmulatorServer) -> None:
    page = visit.page
    page.goto(f"{server.url}/_emulator/docs/commerce")
    page.locator(
        ".opblock-summary",
        has=page.locator(".opblock-summary-operation-id", has_text=exactly("updateProfile")),
    ).first.click()
    row = page.locator(
        ".opblock.is-open tr.response",
        has=page.locator("td.response-col_status", has_text=exactly("413")),
    ).first
    row.wait_for()
    text = row.locator(".response-col_description").inner_text()
    assert "Fidelity: inferred" in text and "Not in the seed" in text
    description = page.locator(".opblock.is-open .opblock-description-wrapper").first
    assert description.locator("strong", has_text="Fidelity: documented").is_visible()
    visit.check_clean()


def test_the_index_leads_to_every_page(visit: Visit, server: EmulatorServer, shots: Path) -> None:
    page = visit.page
    page.goto(f"{server.url}/_emulator/docs")
    for api in APIS:
        assert page.locator(f'main a[href="/_emulator/docs/{api}"]').first.is_visible()
    page.screenshot(path=str(shots / "index.png"))
    page.locator('main a[href="/_emulator/docs/control"]').first.click()
    page.wait_for_selector(".opblock-summary-operation-id")
    assert page.url == f"{server.url}/_emulator/docs/control"
    visit.check_clean()
