"""One run of a case against a base URL: each request as sent, each answer as received."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from emulator.parity.cases import Case, CaseError, Missing, Step, expand

NAMESPACE_HEADER = "X-Emulator-Namespace"  # an emulator's; a real vendor ignores it
REQUEST_BODY_KEPT = 64 * 1024  # bytes of a request body a snapshot keeps (a summary beyond)
TIMEOUT = 30.0
_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class TargetError(Exception):
    """The target could not be reached or answered outside HTTP (the message says which call)."""


@dataclass
class Exchange:
    step: str
    operation: str
    request: dict[str, Any]
    response: dict[str, Any]


@dataclass
class Run:
    """What one run of a case sent and got; ``values``: its variables (``unique``, vars and
    captures, in the order they were set); ``stopped``: the step it could not run, and why."""

    case: Case
    env: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    exchanges: list[Exchange] = field(default_factory=list)
    secret_vars: set[str] = field(default_factory=set)
    stopped: dict[str, str] | None = None


def environment(case: Case, environ: Mapping[str, str], *, emulator: bool) -> dict[str, str]:
    """The case's environment variables from ``environ``; against an emulator, those unset take
    the value the shipped fixtures accept. A CaseError names the required ones still unset."""
    env, unset = {}, []
    for name, spec in case.env.items():
        value = environ.get(name)
        if value is None and emulator:
            value = spec.emulator
        if value is not None:
            env[name] = value
        elif not spec.optional:
            unset.append(name)
    if unset:
        raise CaseError(f"{case.name}: set {', '.join(unset)} in the environment")
    return env


def run(
    case: Case,
    client: httpx.Client,
    env: Mapping[str, str],
    *,
    namespace: str | None = None,
    until: int | None = None,
) -> Run:
    """Every step in order (the first ``until`` steps, when given), until one cannot be sent
    (a value it needs is missing: a capture failed)."""
    result = Run(case, dict(env))
    scope: dict[str, Any] = {f"env.{name}": value for name, value in env.items()}
    result.values["unique"] = scope["unique"] = secrets.token_hex(6)
    try:
        for name, template in case.vars.items():
            result.values[name] = scope[name] = expand(template, scope)
    except Missing as missing:
        result.stopped = {"step": case.steps[0].name, "reason": f"${{{missing.name}}} is not set"}
        return result
    for step in case.steps[:until]:
        try:
            request, content = _request(case, step, scope)
        except Missing as missing:
            result.stopped = {"step": step.name, "reason": f"${{{missing.name}}} is not set"}
            break
        headers = dict(request["headers"])
        if namespace is not None:
            headers[NAMESPACE_HEADER] = namespace
        try:
            answer = client.request(
                step.method, _url(client, request["path"]), headers=headers, content=content
            )
        except httpx.HTTPError as exc:
            where = f"{case.name}/{step.name}: {step.method} {request['path']}"
            raise TargetError(f"{where}: {exc}") from None
        full = _response(answer, _origins(client))
        result.exchanges.append(
            Exchange(step.name, step.operation, request, _kept(full, step.compare_headers))
        )
        for name, capture in step.capture.items():
            try:
                value = lookup(full, capture.source)
            except Missing:
                result.stopped = {
                    "step": step.name,
                    "reason": f"capture {name}: no {capture.source} in the answer "
                    f"(status {full['status']})",
                }
                return result
            result.values[name] = scope[name] = value
            if capture.secret:
                result.secret_vars.add(name)
    return result


def _url(client: httpx.Client, path: str) -> httpx.URL:
    """The target's URL with ``path`` (and query) after its own path, kept as written (a
    ``%20`` stays one, so a blank path segment reaches the vendor)."""
    base = client.base_url
    raw_path, _, query = path.partition("?")
    return base.copy_with(
        raw_path=(base.raw_path.decode("ascii").rstrip("/") + raw_path).encode("ascii")
        + (b"?" + query.encode("ascii") if query else b"")
    )


def _request(case: Case, step: Step, scope: Mapping[str, Any]) -> tuple[dict[str, Any], bytes]:
    headers: dict[str, str] = {}
    for name, template in {**case.headers, **step.headers}.items():
        if template is None:
            continue
        try:
            headers[name] = str(expand(template, scope))
        except Missing as missing:
            env = missing.name.removeprefix("env.")
            if missing.name.startswith("env.") and case.env[env].optional:
                continue  # an optional credential that is not set: the header is not sent
            raise
    request: dict[str, Any] = {"method": step.method, "path": expand(step.path, scope)}
    content = b""
    kind = None
    if step.has_json:
        value = expand(step.json, scope)
        content, kind = orjson.dumps(value), "application/json"
        request["json"] = (
            value if len(content) <= REQUEST_BODY_KEPT else {"$omitted": {"bytes": len(content)}}
        )
    elif step.form is not None:
        form = {name: str(expand(value, scope)) for name, value in step.form.items()}
        content, kind = urlencode(form).encode(), "application/x-www-form-urlencoded"
        request["form"] = form
    elif step.raw is not None:
        raw = str(expand(step.raw, scope))
        content = raw.encode()
        request["raw"] = raw if len(content) <= REQUEST_BODY_KEPT else raw[:REQUEST_BODY_KEPT]
    if kind is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = kind
    request["headers"] = headers
    return request, content


# What a target's own URL becomes in an answer (OCC's `links` hold the host they were sent
# to): the vendor's and the emulator's then read the same.
TARGET = "<target>"


def _origins(client: httpx.Client) -> tuple[str, ...]:
    """The target's origin as an answer may write it: http or https, its host and port."""
    netloc = client.base_url.netloc.decode("ascii")
    return (f"https://{netloc}", f"http://{netloc}")


def without_origin(value: Any, origins: tuple[str, ...]) -> Any:
    """``value`` with each string that starts with one of ``origins`` starting with TARGET."""
    if isinstance(value, str):
        for origin in origins:
            if value.startswith(origin):
                return TARGET + value[len(origin) :]
        return value
    if isinstance(value, list):
        return [without_origin(item, origins) for item in value]
    if isinstance(value, dict):
        return {key: without_origin(item, origins) for key, item in value.items()}
    return value


def _response(answer: httpx.Response, origins: tuple[str, ...] = ()) -> dict[str, Any]:
    response: dict[str, Any] = {
        "status": answer.status_code,
        "headers": {name.lower(): value for name, value in answer.headers.items()},
    }
    if answer.content:
        try:
            response["body"] = without_origin(orjson.loads(answer.content), origins)
        except orjson.JSONDecodeError:
            response["text"] = answer.content.decode("utf-8", errors="replace")
    return response


def _kept(response: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    kept = dict(response)
    kept["headers"] = {
        name: response["headers"][name] for name in names if name in response["headers"]
    }
    return kept


def lookup(document: Any, path: str) -> Any:
    """The value at ``path`` (``body.items[0].id``, ``headers.location``), or Missing."""
    node = document
    for key, index in _PART.findall(path):
        if key and isinstance(node, dict) and key in node:
            node = node[key]
        elif index and isinstance(node, list) and int(index) < len(node):
            node = node[int(index)]
        else:
            raise Missing(path)
    return node


def document(run: Run, steps: int) -> dict[str, Any]:
    """A run as the labels read it: its variables, then its first ``steps`` calls."""
    return {
        "vars": dict(run.values),
        "steps": [
            {"request": exchange.request, "response": exchange.response}
            for exchange in run.exchanges[:steps]
        ],
    }


def named_secrets(case: Case, env: Mapping[str, str]) -> dict[str, str]:
    """The case's secret environment variables that are set: name -> value."""
    return {name: env[name] for name, spec in case.env.items() if spec.secret and name in env}
