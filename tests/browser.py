"""Helpers for the tests that drive Debian's Chromium through Playwright (the `browser`
fixture is in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from emulator.server import EmulatorServer

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found: run 'bash tools/setup-browser.sh' (as root) or apt-get install chromium"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is not installed: pip install -e '.[test]'"
    return None


class Visit:
    """A page of the browser that records every request it makes and every script error;
    a request for anywhere but the emulator is recorded and never sent."""

    def __init__(self, context: Any, server: EmulatorServer) -> None:
        self.origin = urlsplit(server.url).netloc
        self.local: list[str] = []
        self.outside: list[str] = []
        self.failed: list[str] = []
        self.errors: list[str] = []
        self.page = context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on(
            "response", lambda r: r.status >= 400 and self.failed.append(f"{r.status} {r.url}")
        )

    def _route(self, route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("http", "https") and parts.netloc == self.origin:
            self.local.append(url)
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def check_clean(self) -> None:
        assert self.outside == []
        assert self.failed == []
        assert self.errors == []
        assert self.local and all(urlsplit(url).hostname == "127.0.0.1" for url in self.local)
