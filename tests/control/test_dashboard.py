"""The dashboard's files over HTTP (the page in a browser: test_dashboard_browser.py): served
from the package, open without the control token like the docs, loading nothing from
anywhere else, and calling only operations of the control spec."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import yaml

from emulator.server import EmulatorServer

ROOT = Path(__file__).resolve().parents[2]
UI = "/_emulator/ui"


def test_the_page_and_its_files(server: EmulatorServer) -> None:
    page = httpx.get(f"{server.url}{UI}/")
    assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8")
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sorted(assets) == ["/_emulator/docs", f"{UI}/assets/app.css", f"{UI}/assets/app.js"]
    script = httpx.get(f"{server.url}{UI}/assets/app.js")
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.content == (ROOT / "emulator/ui/static/app.js").read_bytes()
    style = httpx.get(f"{server.url}{UI}/assets/app.css")
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    # Nothing from elsewhere: no absolute URL in any of the three files.
    for text in (page.text, script.text, style.text):
        assert not re.search(r"(https?:)?//[a-z0-9]", text.replace("// ", "")), text[:200]


def test_ui_without_the_slash_is_a_redirect_and_unknown_files_are_404(
    server: EmulatorServer,
) -> None:
    moved = httpx.get(f"{server.url}{UI}")
    assert (moved.status_code, moved.headers["location"], moved.content) == (308, f"{UI}/", b"")
    missing = httpx.get(f"{server.url}{UI}/assets/secret.txt")
    assert (missing.status_code, missing.json()) == (
        404,
        {
            "error": "not_found",
            "detail": "No dashboard asset 'secret.txt' (known: app.js, app.css)",
        },
    )
    assert httpx.get(f"{server.url}{UI}/assets/..%2Fcontrol.py").status_code == 404


def test_the_files_are_open_but_the_api_the_page_calls_needs_the_token() -> None:
    with EmulatorServer(control_token="s3cret") as guarded:
        for path in (f"{UI}", f"{UI}/", f"{UI}/assets/app.js", f"{UI}/assets/app.css"):
            assert httpx.get(f"{guarded.url}{path}").status_code in (200, 308), path
        assert httpx.get(f"{guarded.url}/_emulator/namespaces").status_code == 401
        assert (
            httpx.get(
                f"{guarded.url}/_emulator/namespaces", headers={"Authorization": "Bearer s3cret"}
            ).status_code
            == 200
        )


def test_the_script_calls_only_operations_of_the_control_spec() -> None:
    spec = yaml.safe_load((ROOT / "openapi/control.yaml").read_bytes())
    routes = [
        (method.upper(), re.sub(r"\{[^}]+\}", "[^/]+", path))
        for path, item in spec["paths"].items()
        for method in item
        if method != "parameters"
    ]
    script = (ROOT / "emulator/ui/static/app.js").read_text()
    calls = re.findall(r'call\("([A-Z]+)", [`"]([^`"?]+)', script)
    calls += [
        (m, p)
        for ms, p in re.findall(r'call\(([^,]+\? "[A-Z]+" : "[A-Z]+"), [`"]([^`"?]+)', script)
        for m in re.findall(r'"([A-Z]+)"', ms)
    ]
    assert len(calls) >= 10
    for method, path in calls:
        path = re.sub(r"\$\{[^}]+\}", "x", path)
        assert any(method == m and re.fullmatch(p, path) for m, p in routes), (method, path)
