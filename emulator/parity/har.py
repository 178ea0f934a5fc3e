"""A HAR file (a proxy's or a browser's capture) as a recording: its calls to one API become a
case, its answers the vendor's.

One capture is one run, so what a second run would change is guessed: a value an answer
gives and a later request sends (an id, a token) becomes a capture and a label, and so do
timestamps and the ids an answer gives that its request did not send (``id``,
``repositoryId``, ``...Id``). Credentials become environment variables (``OCC_APP_KEY``,
``OCC_USERNAME``, ``OCC_PASSWORD``, ``LOYALTY_AUTHORIZATION``; others ``HAR_<NAME>``), and the
values at ``--redact`` paths of the requests generated ones (``parity-${unique}-1``).
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from emulator import specs
from emulator.parity import cases, redact, runner
from emulator.parity.cases import UNROUTED, Case
from emulator.parity.compare import dotted
from emulator.parity.placeholders import TEXT_FROM, Labels, literals
from emulator.parity.redact import Paths
from emulator.parity.snapshots import Snapshot, public_target
from emulator.vendors import VENDORS

DROPPED_HEADERS = frozenset(
    {"host", "content-length", "connection", "accept-encoding", "user-agent", "cookie",
     "x-emulator-namespace", "transfer-encoding", "keep-alive", "te", "upgrade"}
)  # fmt: skip
# The environment variable each API's credentials become: its Authorization header's
# credential, and the login form's fields.
CREDENTIALS = {
    "commerce": {"header": "OCC_APP_KEY", "username": "OCC_USERNAME", "password": "OCC_PASSWORD"},
    "loyalty": {"header": "LOYALTY_AUTHORIZATION"},
}
_ID_KEY = re.compile(r"^(id|repositoryId|.+Id)$")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_SCHEME = re.compile(r"^(\s*[A-Za-z][\w-]*\s+)(\S.*)$", re.S)


class HarError(ValueError):
    """A file that is not a HAR capture of the API (the message says why)."""


def _operation(api: str, method: str, path: str) -> str:
    vendor = next(vendor for vendor in VENDORS if vendor.name == api)
    server = specs.load(vendor.spec)["servers"][0]["url"].rstrip("/")
    for operation, (declared, template) in specs.operations(vendor.spec).items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(server + template))
        if declared == method and re.fullmatch(pattern, path):
            return operation
    return UNROUTED


def _body(text: str, mime: str) -> tuple[str, Any]:
    if "json" in mime:
        try:
            return "json", orjson.loads(text)
        except orjson.JSONDecodeError:
            return "raw", text
    if "x-www-form-urlencoded" in mime:
        return "form", dict(parse_qsl(text, keep_blank_values=True))
    return "raw", text


def _response(entry: dict[str, Any]) -> dict[str, Any]:
    answer = entry["response"]
    headers = {h["name"].lower(): h["value"] for h in answer.get("headers", [])}
    response: dict[str, Any] = {"status": answer["status"], "headers": {}}
    for name in cases.DEFAULT_HEADERS:
        if name in headers:
            response["headers"][name] = headers[name]
    content = answer.get("content") or {}
    text = content.get("text") or ""
    if content.get("encoding") == "base64":
        text = base64.b64decode(text).decode("utf-8", errors="replace")
    if text:
        try:
            netloc = urlsplit(entry["request"]["url"]).netloc
            origins = (f"https://{netloc}", f"http://{netloc}")
            response["body"] = runner.without_origin(orjson.loads(text), origins)
        except orjson.JSONDecodeError:
            response["text"] = text
    return response


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], Any]]:
    if isinstance(node, dict):
        return [leaf for key, value in node.items() for leaf in _leaves(value, (*path, key))]
    if isinstance(node, list):
        return [leaf for i, value in enumerate(node) for leaf in _leaves(value, (*path, i))]
    return [(path, node)]


def _distinct(value: Any) -> bool:
    """A value long enough to be the same thing when a later request sends it again."""
    if isinstance(value, str):
        return len(value) >= TEXT_FROM
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000


def _swap(node: Any, table: dict[str, str]) -> Any:
    """``node`` with each known value (longest first) replaced by its ``${reference}``."""
    if isinstance(node, dict):
        return {key: _swap(value, table) for key, value in node.items()}
    if isinstance(node, list):
        return [_swap(value, table) for value in node]
    if isinstance(node, str):
        if node in table:
            return table[node]
        for value in sorted(table, key=len, reverse=True):
            node = node.replace(value, table[value])
    return node


class _Capture:
    """What is learnt from the entries, in order."""

    def __init__(self, api: str, paths: Paths) -> None:
        self.api = api
        self.paths = paths
        self.shipped_env = {
            name: spec
            for case in cases.shipped(api)
            for name, spec in case.source.get("env", {}).items()
        }
        self.env: dict[str, Any] = {}  # the case's env declarations
        self.named: dict[str, str] = {}  # env name -> the secret value it replaces
        self.references: dict[str, str] = {}  # a value -> the ${reference} sent instead
        self.vars: dict[str, str] = {}  # generated values that replace redacted ones
        self.values: dict[str, Any] = {}  # var or capture -> the value the capture had
        self.secret_vars: set[str] = set()
        self.steps: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []  # as sent (for the snapshot, then labelled)
        self.responses: list[dict[str, Any]] = []
        self.captured: list[tuple[int, tuple[Any, ...], str]] = []

    def credential(self, name: str, value: str) -> str:
        """``value`` becomes the environment variable ``name`` (``name_2``, ... when the capture
        holds other values of that credential too, a wrong key for instance)."""
        if value in self.references:
            return self.references[value]
        taken, number = name, 1
        while taken in self.named:
            number += 1
            taken = f"{name}_{number}"
        self.env[taken] = dict(self.shipped_env.get(taken, {"secret": True}))
        self.named[taken] = value
        self.references[value] = f"${{env.{taken}}}"
        return self.references[value]

    def capture_relations(self, sent: str) -> None:
        """Values earlier answers gave that this request sends again: captures."""
        for earlier, answer in enumerate(self.responses):
            for leaf, value in _leaves(answer.get("body")):
                if not _distinct(value) or str(value) not in sent or str(value) in self.references:
                    continue
                name = f"v{len(self.captured) + 1}"
                secret = bool(leaf) and redact.secret_key(leaf[-1])
                self.captured.append((earlier, ("body", *leaf), name))
                source = dotted(("body", *leaf))
                self.steps[earlier].setdefault("capture", {})[name] = {
                    "from": source,
                    "secret": secret,
                }
                self.values[name] = value
                if secret:
                    self.secret_vars.add(name)
                self.references[str(value)] = f"${{{name}}}"

    def headers(self, request: dict[str, Any]) -> dict[str, str]:
        kept = {}
        for header in request.get("headers", []):
            name, value = header["name"], header["value"]
            if name.lower() in DROPPED_HEADERS or name.startswith(":"):
                continue
            if redact.secret_header(name) and "${" not in _swap(value, self.references):
                scheme = _SCHEME.match(value)
                if name.lower() != "authorization":
                    value = self.credential(f"HAR_{re.sub(r'[^A-Z0-9]', '_', name.upper())}", value)
                elif self.api == "commerce" and scheme:  # Bearer <application key>
                    value = scheme.group(1) + self.credential("OCC_APP_KEY", scheme.group(2))
                else:  # the whole header value
                    value = self.credential(CREDENTIALS[self.api]["header"], value)
            kept[name] = value
        return kept

    def body(self, kind: str, body: Any) -> Any:
        if kind == "form" and isinstance(body, dict):
            for key, value in body.items():
                if redact.secret_key(key) or key == "username":
                    env = CREDENTIALS.get(self.api, {}).get(key, f"HAR_{key.upper()}")
                    body[key] = self.credential(env, value)
        if kind in ("json", "form"):
            for leaf, value in _leaves(body):
                if not isinstance(value, str) or "${" in value or value in self.references:
                    continue
                if self.paths.match(leaf) or (leaf and redact.secret_key(leaf[-1])):
                    name = f"redacted{len(self.vars) + 1}"
                    email = "@example.com" if "@" in value else ""
                    self.vars[name] = f"parity-${{unique}}-{len(self.vars) + 1}{email}"
                    self.values[name] = value
                    self.secret_vars.add(name)
                    self.references[value] = f"${{{name}}}"
        return body

    def entry(self, entry: dict[str, Any], base: str) -> None:
        request = entry["request"]
        url = urlsplit(request["url"])
        path = url.path[len(base) :] + (f"?{url.query}" if url.query else "")
        method = request["method"].upper()
        post = request.get("postData") or {}
        self.capture_relations(
            orjson.dumps([path, request.get("headers"), post.get("text")]).decode()
        )
        step: dict[str, Any] = {
            "name": f"call-{len(self.steps) + 1:02d}",
            "operation": _operation(self.api, method, url.path[len(base) :]),
            "method": method,
        }
        sent: dict[str, Any] = {"method": method, "path": path, "headers": request_headers(request)}
        parts: dict[str, Any] = {"path": path}
        headers = self.headers(request)
        if headers:
            parts["headers"] = headers
        if post.get("text"):
            kind, body = _body(post["text"], post.get("mimeType", ""))
            sent[kind] = copy.deepcopy(body)  # as sent, before credentials go
            parts[kind] = self.body(kind, body)
        step.update(_swap(parts, self.references))
        self.steps.append(step)
        self.requests.append(sent)
        self.responses.append(_response(entry))


def request_headers(request: dict[str, Any]) -> dict[str, str]:
    return {
        h["name"]: h["value"]
        for h in request.get("headers", [])
        if h["name"].lower() not in DROPPED_HEADERS and not h["name"].startswith(":")
    }


def convert(path: Path, api: str, redact_paths: list[str]) -> tuple[Snapshot, Labels]:
    """The snapshot of a HAR file's calls to ``api``, and the labels that cleaned it."""
    vendor = next(vendor for vendor in VENDORS if vendor.name == api)
    try:
        entries = orjson.loads(path.read_bytes())["log"]["entries"]
        entries = [e for e in entries if vendor.prefix in urlsplit(e["request"]["url"]).path]
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise HarError(f"{path}: not a HAR file: {exc!r}") from None
    if not entries:
        raise HarError(f"{path}: no call under {vendor.prefix} in it")
    first = urlsplit(entries[0]["request"]["url"])
    base = first.path[: first.path.index(vendor.prefix)]
    capture = _Capture(api, Paths(redact_paths))
    for entry in entries:
        capture.entry(entry, base)
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")[:40] or "capture"
    definition: dict[str, Any] = {
        "name": f"har-{stem}",
        "api": api,
        "summary": f"Captured in {path.name}.",
    }
    if capture.env:
        definition["env"] = capture.env
    if capture.vars:
        definition["vars"] = capture.vars
    definition["steps"] = capture.steps
    case = cases.from_doc(definition, f"{path} (as a case)")
    labels = _labels(case, capture)
    doc = {
        "vars": capture.values,
        "steps": [
            {"request": q, "response": r}
            for q, r in zip(capture.requests, capture.responses, strict=True)
        ],
    }
    written = labels.substitute(doc)
    snapshot = Snapshot(
        case=case,
        target=public_target(f"{first.scheme}://{first.netloc}{base}"),
        recorded_at=entries[0].get("startedDateTime")
        or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        source="har",
        vars=written["vars"],
        steps=[
            {
                "name": step.name,
                "operation": step.operation,
                "request": written["steps"][i]["request"],
                "response": written["steps"][i]["response"],
                "unstable": [],
            }
            for i, step in enumerate(case.steps)
        ],
        redact=list(redact_paths),
    )
    return snapshot, labels


def _labels(case: Case, capture: _Capture) -> Labels:
    """The labels a second capture would have called for, and the secrets."""
    labels = Labels(capture.paths, literals(case.source))
    for name, value in capture.named.items():
        labels.name(value, name)
    for index, leaf, name in capture.captured:
        kind = "secret" if name in capture.secret_vars else None
        labels.pair(
            ("steps", index, "response", *leaf), capture.values[name], capture.values[name], kind
        )
    for index, response in enumerate(capture.responses):
        sent = orjson.dumps(capture.requests[index]).decode()
        for leaf, value in _leaves(response.get("body"), ("steps", index, "response", "body")):
            if not isinstance(value, str) or leaf in labels.at:
                continue
            if _STAMP.match(value) or (_ID_KEY.match(str(leaf[-1])) and value not in sent):
                labels.pair(leaf, value, value)
    doc = {
        "vars": capture.values,
        "steps": [
            {"request": q, "response": r}
            for q, r in zip(capture.requests, capture.responses, strict=True)
        ],
    }
    labels.learn(doc, doc, capture.secret_vars)
    return labels
