"""Where to start: an index page at /_emulator/ (and at / and /_emulator, where no vendor
owns them) linking the docs, the dashboard, every spec, health and a usage guide, open like
the docs; the trailing-slash forms of the control pages answer too (openapi/control.yaml)."""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser

import httpx
import pytest

from emulator.server import EmulatorServer

TOKEN = "index-token"
APIS = ("commerce", "control", "loyalty")


class Links(HTMLParser):
    """Every href of a page, and the ids of its elements."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href"):
            self.hrefs.append(str(found["href"]))
        if found.get("id"):
            self.ids.add(str(found["id"]))


def links(page: str) -> Links:
    parsed = Links()
    parsed.feed(page)
    return parsed


@pytest.fixture(scope="module")
def guarded() -> Iterator[EmulatorServer]:
    with EmulatorServer(control_token=TOKEN) as running:
        yield running


@pytest.mark.parametrize("path", ["/_emulator/", "/", "/_emulator"])
def test_the_index_page_links_everything_a_newcomer_needs(
    guarded: EmulatorServer, path: str
) -> None:
    with httpx.Client(base_url=guarded.url) as http:  # no token: the page is open
        answer = http.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        found = links(answer.text)
        wanted = {"/_emulator/docs", "/_emulator/ui/", "/_emulator/health", "#usage"}
        wanted |= {f"/_emulator/openapi/{api}.yaml" for api in APIS}
        wanted |= {f"/_emulator/openapi/{api}.json" for api in APIS}
        assert wanted <= set(found.hrefs)
        assert "usage" in found.ids
        assert "X-Emulator-Namespace" in answer.text
        # Every link on the page answers (health and the pages without the token).
        for href in sorted({h for h in found.hrefs if h.startswith("/")}):
            assert http.get(href).status_code == 200, href


def test_the_trailing_slash_forms_of_the_control_pages_answer(guarded: EmulatorServer) -> None:
    with httpx.Client(base_url=guarded.url) as http:
        assert http.get("/_emulator/docs/").text == http.get("/_emulator/docs").text
        assert http.get("/_emulator/docs/").status_code == 200
        assert http.get("/_emulator/ui").status_code == 308
        assert http.get("/_emulator/ui/").status_code == 200


def test_the_index_does_not_open_the_rest_of_the_control_api(guarded: EmulatorServer) -> None:
    with httpx.Client(base_url=guarded.url) as http:
        assert http.get("/_emulator/faults").status_code == 401
        assert http.post("/").status_code == 405  # only GET (and HEAD) show the page


def test_vendor_paths_stay_the_vendors(guarded: EmulatorServer) -> None:
    """The aliases only serve paths no vendor owns: a vendor's root is its own 404."""
    answer = httpx.get(guarded.url + "/client/")
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "NOT_FOUND"
