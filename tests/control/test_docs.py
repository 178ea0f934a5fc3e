"""The docs the emulator serves itself: spec files as written and as JSON, Swagger UI pages
(with the fidelity labels folded in) whose every asset is the emulator's own."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator.docs import fold
from emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
APIS = {"loyalty": "loyalty.yaml", "commerce": "commerce.yaml", "control": "control.yaml"}
TOKEN = "docs-token"


def spec_file(api: str) -> bytes:
    return (ROOT / "openapi" / APIS[api]).read_bytes()


class References(HTMLParser):
    """Every URL a page refers to (src, href), and the text of its <script id="spec">."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (tag, url)
        self.spec_text: str | None = None
        self._in_spec = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [(tag, found[name]) for name in ("src", "href") if found.get(name)]
        self._in_spec = tag == "script" and found.get("id") == "spec"

    def handle_endtag(self, tag: str) -> None:
        self._in_spec = False

    def handle_data(self, data: str) -> None:
        if self._in_spec:
            self.spec_text = (self.spec_text or "") + data


def keys(node: Any) -> set[str]:
    """Every key of every object in a JSON document."""
    if isinstance(node, dict):
        return set(node).union(*(keys(value) for value in node.values()))
    if isinstance(node, list):
        return set().union(*(keys(value) for value in node))
    return set()


def references(page: str) -> References:
    parser = References()
    parser.feed(page)
    return parser


@pytest.fixture(scope="module")
def guarded() -> Iterator[EmulatorServer]:
    with EmulatorServer(control_token=TOKEN) as running:
        yield running


@pytest.mark.parametrize("api", APIS)
def test_the_yaml_is_the_file_as_written(http: httpx.Client, api: str) -> None:
    r = http.get(f"/_emulator/openapi/{api}.yaml")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/yaml"
    assert r.content == spec_file(api)


@pytest.mark.parametrize("api", APIS)
def test_the_json_is_the_yaml_parsed(http: httpx.Client, api: str) -> None:
    r = http.get(f"/_emulator/openapi/{api}.json")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == yaml.safe_load(spec_file(api))


@pytest.mark.parametrize(
    "path",
    [
        "/_emulator/openapi/billing.yaml",
        "/_emulator/openapi/billing.json",
        "/_emulator/docs/billing",
    ],
)
def test_an_unknown_api_is_the_control_apis_404(http: httpx.Client, path: str) -> None:
    r = http.get(path)
    assert r.status_code == 404
    assert r.json() == {
        "error": "not_found",
        "detail": "No API 'billing' (known: commerce, control, loyalty)",
    }


def test_only_the_files_a_page_uses_are_served(http: httpx.Client) -> None:
    # Files of the package the pages do not use are unknown names, like any other.
    for name in ("index.html", "swagger-initializer.js", "oauth2-redirect.html", "nope.js"):
        r = http.get(f"/_emulator/docs/assets/{name}")
        assert r.status_code == 404, name
        assert r.json()["error"] == "not_found"
        assert r.json()["detail"].startswith(
            f"No docs asset {name!r} (known: swagger-ui-bundle.js,"
        )


def test_the_index_links_every_api_page_and_file(http: httpx.Client) -> None:
    r = http.get("/_emulator/docs")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    links = {url for tag, url in references(r.text).urls if tag == "a"}
    for api in APIS:
        assert {
            f"/_emulator/docs/{api}",
            f"/_emulator/openapi/{api}.yaml",
            f"/_emulator/openapi/{api}.json",
        } <= links
        assert http.get(f"/_emulator/docs/{api}").status_code == 200


@pytest.mark.parametrize("api", APIS)
def test_a_page_refers_only_to_the_emulators_own_files(http: httpx.Client, api: str) -> None:
    r = http.get(f"/_emulator/docs/{api}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    found = references(r.text)
    assert found.urls
    for tag, url in found.urls:
        assert url.startswith("/_emulator/"), (tag, url)
        if tag != "a":  # what the browser loads by itself: scripts, styles, icons
            asset = http.get(url)
            assert asset.status_code == 200, url
    media = {
        url.rsplit(".", 1)[-1]: http.get(url).headers["content-type"]
        for tag, url in found.urls
        if tag != "a"
    }
    assert media == {
        "js": "text/javascript; charset=utf-8",
        "css": "text/css; charset=utf-8",
        "png": "image/png",
    }
    # Nothing on the page names another host (no CDN, no online validator).
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", r.text)


@pytest.mark.parametrize("api", APIS)
def test_a_page_shows_the_spec_with_its_labels_folded_in(http: httpx.Client, api: str) -> None:
    found = references(http.get(f"/_emulator/docs/{api}").text)
    assert found.spec_text is not None
    shown = json.loads(found.spec_text)
    original = yaml.safe_load(spec_file(api))
    assert shown == fold(original)
    assert not {"x-fidelity", "x-fidelity-reason"} & keys(shown)  # folded, not left beside
    assert shown["paths"].keys() == original["paths"].keys()


def test_labels_land_in_descriptions_and_inferred_summaries(http: httpx.Client) -> None:
    shown = json.loads(references(http.get("/_emulator/docs/commerce").text).spec_text or "")
    original = yaml.safe_load(spec_file("commerce"))
    login, shown_login = original["paths"]["/login"]["post"], shown["paths"]["/login"]["post"]
    assert shown_login["description"] == (
        f"**Fidelity: inferred** — {login['x-fidelity-reason']}\n\n{login['description']}"
    )
    assert shown_login["summary"] == f"{login['summary']} [inferred]"
    update = shown["paths"]["/profiles/{profile_id}"]["put"]
    assert update["description"].startswith("**Fidelity: documented**\n\n")
    assert not update["summary"].endswith("[inferred]")
    too_large = shown["components"]["responses"]["PayloadTooLarge"]
    assert too_large["description"].startswith("**Fidelity: inferred** — Not in the seed")
    example = shown["components"]["examples"]["Error22000ProfileIdBlank"]
    assert example["summary"].endswith(" [inferred]")
    assert example["description"].startswith("**Fidelity: inferred** — ")
    assert (
        example["value"] == original["components"]["examples"]["Error22000ProfileIdBlank"]["value"]
    )


def test_fold_leaves_data_alone_and_copies() -> None:
    spec = {
        "paths": {
            "/a": {
                "get": {
                    "summary": "A.",
                    "x-fidelity": "inferred",
                    "responses": {
                        "200": {
                            "description": "ok",
                            "content": {
                                "application/json": {"example": {"x-fidelity": "inferred"}}
                            },
                        }
                    },
                }
            }
        }
    }
    folded = fold(spec)
    get = folded["paths"]["/a"]["get"]
    assert get["description"] == "**Fidelity: inferred**" and get["summary"] == "A. [inferred]"
    assert get["responses"]["200"]["content"]["application/json"]["example"] == {
        "x-fidelity": "inferred"
    }
    assert spec["paths"]["/a"]["get"]["x-fidelity"] == "inferred"  # the original is untouched


def test_assets_come_from_the_swagger_ui_bundle_package(http: httpx.Client) -> None:
    import swagger_ui_bundle

    folder = Path(swagger_ui_bundle.swagger_ui_path)
    for name, media in (
        ("swagger-ui-bundle.js", "text/javascript; charset=utf-8"),
        ("swagger-ui.css", "text/css; charset=utf-8"),
        ("swagger-ui.css.map", "application/json"),
        ("favicon-32x32.png", "image/png"),
    ):
        r = http.get(f"/_emulator/docs/assets/{name}")
        assert r.status_code == 200
        assert r.headers["content-type"] == media
        assert r.headers["cache-control"] == "public, max-age=3600"
        assert r.content == (folder / name).read_bytes()


def test_docs_need_no_control_token(guarded: EmulatorServer) -> None:
    for path in (
        "/_emulator/docs",
        "/_emulator/docs/control",
        "/_emulator/docs/assets/swagger-ui.css",
        "/_emulator/openapi/loyalty.yaml",
        "/_emulator/openapi/control.json",
    ):
        assert httpx.get(guarded.url + path).status_code == 200, path
    assert httpx.get(f"{guarded.url}/_emulator/docs/billing").status_code == 404
    # The rest of the control API still needs it, paths that merely start alike included.
    for path in ("/_emulator/faults", "/_emulator/docsx", "/_emulator/openapi"):
        assert httpx.get(guarded.url + path).status_code == 401, path


def test_other_methods_are_405_with_allow(http: httpx.Client) -> None:
    r = http.post("/_emulator/openapi/loyalty.yaml")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, HEAD"
    assert r.json()["error"] == "method_not_allowed"
