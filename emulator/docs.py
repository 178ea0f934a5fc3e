"""The docs the emulator serves itself (openapi/control.yaml, tag Docs): the index page
where to start (`/_emulator/`: the docs, the dashboard, the specs, health and a usage
guide; `/` and `/_emulator` show it too where no vendor owns them), each API's spec as
a file (`/_emulator/openapi/<api>.yaml`, `.json`) and as a Swagger UI page
(`/_emulator/docs/<api>`), with Swagger UI's files from the pinned `swagger-ui-bundle`
package (`/_emulator/docs/assets/<file>`): a page loads nothing from anywhere else.

Swagger UI shows vendor extensions of operations and parameters only, so the page gets a
copy of the spec in which every `x-fidelity` label is folded into the description
(:func:`fold`); the spec files are served unchanged. Everything is built on first use and
kept: start-up does not pay for the docs.
"""

from __future__ import annotations

import copy
import functools
import html
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from emulator import __version__, specs
from emulator.context import RequestContext
from emulator.errors import echo, not_found
from emulator.reply import Reply, packaged_file

BASE = "/_emulator"
INDEX = f"{BASE}/"
# Paths of no API that show the index page (EmulatorApp: only where no vendor owns them).
ALIASES = {"/": INDEX, BASE: INDEX}
# Paths the control token does not guard (see the Docs tag in openapi/control.yaml).
OPEN_PATHS = frozenset({INDEX, f"{BASE}/docs"})
OPEN_PREFIXES = (f"{BASE}/docs/", f"{BASE}/openapi/")

HTML = "text/html; charset=utf-8"
YAML = "application/yaml"
JSON = "application/json"
# The Swagger UI files a page uses, with their media types (RFC 9239: text/javascript).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-bundle.js.map": JSON,
    "swagger-ui.css": "text/css; charset=utf-8",
    "swagger-ui.css.map": JSON,
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
ASSET_HEADERS = {"Cache-Control": "public, max-age=3600"}
FIDELITY, REASON = "x-fidelity", "x-fidelity-reason"
# Keys whose values are data (examples, defaults), not OpenAPI objects: never folded.
_DATA_KEYS = frozenset({"value", "example", "default", "enum", "const"})


def label(node: Mapping[str, Any]) -> str:
    """`**Fidelity: inferred** — reason` (the reason only where the spec gives one)."""
    reason = node.get(REASON)
    text = f"**Fidelity: {node[FIDELITY]}**"
    return f"{text} — {reason}" if reason else text


def fold(spec: Any) -> Any:
    """A copy of ``spec`` with each `x-fidelity` label (and its reason) folded into the
    description of the object that carries it: operations, responses, examples, schemas.
    An inferred operation's or example's summary also ends with `[inferred]`, so the label
    shows in the collapsed operation list and in the examples menu."""
    folded = copy.deepcopy(spec)
    stack = [folded]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        if isinstance(node.get(FIDELITY), str):
            text = label(node)
            description = node.get("description")
            node["description"] = f"{text}\n\n{description}" if description else text
            if node[FIDELITY] == "inferred" and isinstance(node.get("summary"), str):
                node["summary"] = f"{node['summary']} [inferred]"
            node.pop(FIDELITY)
            node.pop(REASON, None)
        stack.extend(value for key, value in node.items() if key not in _DATA_KEYS)
    return folded


def _script_json(value: Any) -> str:
    """JSON safe inside an HTML <script> element (no `<` to end it or open a comment)."""
    return orjson.dumps(value).decode("utf-8").replace("<", "\\u003c")


@functools.cache
def _asset(name: str) -> bytes:
    import swagger_ui_bundle  # a file path lookup, but only once someone opens the docs

    return (Path(swagger_ui_bundle.swagger_ui_path) / name).read_bytes()


_STYLE = """
body { margin: 0; font-family: sans-serif; color: #3b4151; }
.emulator-nav { padding: 10px 20px; background: #1b1b1b; color: #fff; font-size: 14px; }
.emulator-nav a { color: #89bf04; margin-right: 14px; text-decoration: none; }
.emulator-nav a[aria-current] { color: #fff; font-weight: bold; }
.emulator-nav .files { float: right; }
.emulator-index { max-width: 900px; margin: 30px auto; padding: 0 20px; }
.emulator-index li { margin: 14px 0; }
.emulator-index .links a { margin-right: 12px; }
.emulator-index pre { background: #f4f4f4; padding: 10px; overflow-x: auto; }
"""

_INIT = """
window.ui = SwaggerUIBundle({
  spec: JSON.parse(document.getElementById("spec").textContent),
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  displayOperationId: true,
  showExtensions: true,
  showCommonExtensions: true,
  docExpansion: "list",
  defaultModelsExpandDepth: 0,
  validatorUrl: null
});
"""


class Docs:
    """The Docs handlers (operationId -> snake_case method, as ControlAPI's), for the APIs
    of one server: api name -> its spec file in openapi/."""

    def __init__(self, apis: Mapping[str, str]) -> None:
        self.apis = dict(sorted(apis.items()))
        self._pages: dict[str, bytes] = {}
        self._json: dict[str, bytes] = {}
        self._index: bytes | None = None
        self._start: bytes | None = None

    def _spec(self, ctx: RequestContext) -> tuple[str, str]:
        api = ctx.path_params["api"]
        name = self.apis.get(api)
        if name is None:
            raise not_found(f"No API {echo(api)} (known: {', '.join(self.apis)})")
        return api, name

    def _nav(self, current: str | None) -> str:
        """The bar atop every page; ``current``: an API's name, None (the docs index), ""
        (the index page)."""
        links = [
            f'<a href="{INDEX}"{" aria-current=page" if current == "" else ""}>Home</a>'
            f'<a href="{BASE}/ui/">Dashboard</a>',
            f'<a href="{BASE}/docs"{" aria-current=page" if current is None else ""}>All APIs</a>',
        ]
        links += [
            f'<a href="{BASE}/docs/{api}"{" aria-current=page" if api == current else ""}>'
            f"{html.escape(api)}</a>"
            for api in self.apis
        ]
        files = ""
        if current:
            files = (
                f'<span class="files">spec: <a href="{BASE}/openapi/{current}.yaml">YAML</a>'
                f'<a href="{BASE}/openapi/{current}.json">JSON</a></span>'
            )
        return f'<nav class="emulator-nav">{files}{"".join(links)}</nav>'

    def _head(self, title: str, *, swagger: bool) -> str:
        css = f'<link rel="stylesheet" href="{BASE}/docs/assets/swagger-ui.css">' if swagger else ""
        return (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title>"
            f'<link rel="icon" type="image/png" sizes="32x32" href="{BASE}/docs/assets/favicon-32x32.png">'
            f'<link rel="icon" type="image/png" sizes="16x16" href="{BASE}/docs/assets/favicon-16x16.png">'
            f"{css}<style>{_STYLE}</style></head>"
        )

    def _start_page(self) -> bytes:
        """The index page: every link from where a newcomer starts, and how to use the server."""
        specs_links = "".join(
            f'<li><code>{api}</code>: <a href="{BASE}/docs/{api}">docs page</a>'
            f' <a href="{BASE}/openapi/{api}.yaml">{api}.yaml</a>'
            f' <a href="{BASE}/openapi/{api}.json">{api}.json</a></li>'
            for api in self.apis
        )
        return (
            f"{self._head('profile-emulator', swagger=False)}<body>{self._nav('')}"
            f'<main class="emulator-index"><h1>profile-emulator {html.escape(__version__)}</h1>'
            "<p>An emulator of vendor customer-profile APIs for integration tests: point your "
            "client at this server instead of the vendor.</p>"
            "<h2>Start here</h2><ul>"
            f'<li><a href="{BASE}/docs"><strong>API docs</strong></a>: every API this server '
            "answers, its operations and documented errors</li>"
            f'<li><a href="{BASE}/ui/"><strong>Dashboard</strong></a>: a namespace\'s calls, '
            "fault rules, scenarios and state, live</li>"
            f'<li><a href="{BASE}/health"><strong>Health</strong></a>: '
            "<code>{&quot;status&quot;: &quot;ok&quot;}</code> once the server answers</li>"
            '<li><a href="#usage"><strong>Usage guide</strong></a>: below</li></ul>'
            f'<h2>Specs</h2><ul class="links">{specs_links}</ul>'
            '<h2 id="usage">Usage guide</h2>'
            "<ol><li>Send your client's vendor calls here, with "
            "<code>X-Emulator-Namespace: NAME</code> to keep a test's state, rules and "
            "journal apart from every other test's (no header: the <code>default</code> "
            "namespace).</li>"
            "<li>Make the vendor misbehave with the control API, "
            f'<a href="{BASE}/docs/control">documented here</a>:'
            "<pre>curl -X POST http://HOST:PORT/_emulator/faults \\\n"
            "  -H 'X-Emulator-Namespace: NAME' -H 'Content-Type: application/json' \\\n"
            "  -d '{&quot;error&quot;: &quot;loyalty.EMAIL_ALREADY_EXISTS&quot;, "
            "&quot;times&quot;: 1}'</pre></li>"
            "<li>Or from a shell script or CI job in any language, with the command: "
            "<pre>profile-emulator scenario on loyalty-flaky --namespace NAME\n"
            "profile-emulator journal --operation updateProfile --status 400\n"
            "profile-emulator reset</pre>"
            "(<code>--url</code> or <code>EMULATOR_URL</code>; <code>--json</code> for "
            "machine-readable output).</li>"
            "<li>In Python tests, the pytest plugin's <code>emulator</code> fixture gives "
            "each test its own namespace: "
            "<code>emulator.inject(...)</code>, <code>emulator.assert_called(...)</code>.</li>"
            "<li>See what was called: <code>GET /_emulator/requests</code>, or the "
            f'<a href="{BASE}/ui/">dashboard</a>; <code>POST /_emulator/reset</code> goes '
            "back to the fixtures.</li></ol>"
            "<p>When the server has a control token, every control call but health and these "
            "pages needs it: <code>Authorization: Bearer TOKEN</code>.</p>"
            "</main></body></html>\n"
        ).encode()

    # --- handlers ---------------------------------------------------------------------

    async def emulator_index(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/ (and / and /_emulator where no vendor owns them: ALIASES)"""
        if self._start is None:
            self._start = self._start_page()
        return Reply(200, self._start, media_type=HTML)

    async def docs_index_slash(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/docs/: the docs index (its links are absolute)."""
        return await self.docs_index(ctx)

    async def docs_index(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/docs"""
        if self._index is None:
            items = []
            for api, name in self.apis.items():
                info = specs.shared(name).get("info", {})
                items.append(
                    f'<li><a href="{BASE}/docs/{api}"><strong>{html.escape(info.get("title", api))}'
                    f"</strong></a> <small>{html.escape(str(info.get('version', '')))}</small>"
                    f'<div class="links"><code>{api}</code>: '
                    f'<a href="{BASE}/docs/{api}">docs page</a>'
                    f'<a href="{BASE}/openapi/{api}.yaml">{api}.yaml</a>'
                    f'<a href="{BASE}/openapi/{api}.json">{api}.json</a></div></li>'
                )
            self._index = (
                f"{self._head('profile-emulator docs', swagger=False)}<body>{self._nav(None)}"
                '<main class="emulator-index"><h1>profile-emulator: API docs</h1>'
                "<p>The contract of every API this server answers. Labels on operations, "
                "responses and examples say whether the vendor documents the behaviour "
                "(<strong>documented</strong>) or the emulator infers it "
                "(<strong>inferred</strong>, with the reason).</p>"
                f"<ul>{''.join(items)}</ul></main></body></html>\n"
            ).encode()
        return Reply(200, self._index, media_type=HTML)

    async def docs_page(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/docs/{api}: Swagger UI over the spec with its labels folded in."""
        api, name = self._spec(ctx)
        page = self._pages.get(api)
        if page is None:
            title = specs.shared(name).get("info", {}).get("title", api)
            page = self._pages[api] = (
                f"{self._head(f'{title} - profile-emulator docs', swagger=True)}<body>"
                f'{self._nav(api)}<div id="swagger-ui"></div>'
                f'<script id="spec" type="application/json">{_script_json(fold(specs.shared(name)))}'
                f'</script><script src="{BASE}/docs/assets/swagger-ui-bundle.js"></script>'
                f"<script>{_INIT}</script></body></html>\n"
            ).encode()
        return Reply(200, page, media_type=HTML)

    async def docs_asset(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/docs/assets/{asset}"""
        return packaged_file(ctx.path_params["asset"], ASSETS, _asset, ASSET_HEADERS, "docs asset")

    async def spec_yaml(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/openapi/{api}.yaml: the file's bytes as written."""
        _, name = self._spec(ctx)
        return Reply(200, specs.source(name), media_type=YAML)

    async def spec_json(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/openapi/{api}.json: the same document as JSON."""
        api, name = self._spec(ctx)
        body = self._json.get(api)
        if body is None:
            body = self._json[api] = orjson.dumps(
                specs.shared(name), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
            )
        return Reply(200, body, media_type=JSON)
