"""The dashboard (`/_emulator/ui/`, openapi/control.yaml, tag UI): one page and its script
and style, shipped in this package (``static/``, package data in the wheel). The page holds
no data: its script reads and changes the namespace through the control API alone (every
view is also an API call), with the control token, when the server has one, asked for and
kept in the tab's sessionStorage, never in a URL.
"""

from __future__ import annotations

import functools
from importlib.resources import files

from emulator.context import RequestContext
from emulator.reply import Reply, packaged_file

BASE = "/_emulator/ui"
# Paths the control token does not guard: the files hold no namespace data, and a browser
# cannot put a token on a page load or on the page's script and style requests.
OPEN_PATHS = frozenset({BASE, f"{BASE}/"})
OPEN_PREFIXES = (f"{BASE}/assets/",)
ASSETS = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
HTML = "text/html; charset=utf-8"
# The page's files change only with the package; a short cache keeps an upgrade visible.
HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}
PAGE_HEADERS = {
    **HEADERS,
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
}


@functools.cache
def read(name: str) -> bytes:
    """A file of ``static/``, read once."""
    return (files(__package__) / "static" / name).read_bytes()


class Dashboard:
    """The UI handlers (operationId -> snake_case method, as ControlAPI's)."""

    async def ui_redirect(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/ui: the page lives at /_emulator/ui/ (its relative links)."""
        return Reply(308, None, {"Location": f"{BASE}/"})

    async def ui_page(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/ui/"""
        return Reply(200, read("index.html"), PAGE_HEADERS, media_type=HTML)

    async def ui_asset(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/ui/assets/{asset}"""
        return packaged_file(ctx.path_params["asset"], ASSETS, read, HEADERS, "dashboard asset")
