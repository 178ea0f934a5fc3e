"""What a namespace's journal says, as text: the failure report of a verification helper and
of a failed test (pytest plugin), and the control CLI's journal lines.

Pure formatting of the control API's JSON (openapi/control.yaml: journal entries, fault
rules, near misses); the HTTP calls are the client's.

    calls in namespace 't-1f2e' (oldest first):
      #1 PUT /client/users/u-1/profile (loyalty updateProfile) -> 400 INVALID_REQUEST: ...
         request body: {"email": "x@y.zz"}
    rules (match order):
      taken: error loyalty.EMAIL_ALREADY_EXISTS; matched 0, fired 0
    near misses of call #1 (updateProfile):
      taken: body email: the rule expects 'a@b.co', the call has 'x@y.zz'
    dashboard: http://127.0.0.1:8080/_emulator/ui/?namespace=t-1f2e
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from emulator.errors import REPORT, echo

UI = "/_emulator/ui/"


def excerpt(value: Any) -> str:
    """A body as JSON text (a text body as it is), cut as a report cuts a value."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return echo(text, REPORT)


def vendor_error(body: Any) -> tuple[str, str] | None:
    """(code, message) of a vendor error body: ES Loyalty's ``errorCode``/``errorMessage``,
    OCC's ``errorCode``/``message``, an OAuth ``error``/``error_description``; else None."""
    if not isinstance(body, dict):
        return None
    code = body.get("errorCode", body.get("error"))
    if not isinstance(code, str | int) or isinstance(code, bool):
        return None
    message = next(
        (
            body[key]
            for key in ("errorMessage", "message", "error_description")
            if isinstance(body.get(key), str)
        ),
        "",
    )
    return str(code), message


def call_line(call: dict[str, Any]) -> str:
    """``#id METHOD path (api operation) -> status [code: message]  [rule id: action]``."""
    if call["status"] is None:
        outcome = f"no response ({call['fault'] or 'the connection dropped'})"
    else:
        outcome = str(call["status"])
        response = call.get("response") or {}
        error = vendor_error(response.get("body")) if call["status"] >= 400 else None
        if error is not None:
            code, message = error
            outcome += f" {code}: {message}" if message else f" {code}"
    query = f"?{call['query']}" if call.get("query") else ""
    name = " ".join(filter(None, [call["api"], call["operation"]]))
    acted = call.get("actedBy")
    by = f"  [rule {acted['id']}: {acted['action']}]" if acted else ""
    return f"#{call['id']} {call['method']} {call['path']}{query} ({name}) -> {outcome}{by}"


def rule_line(rule: dict[str, Any]) -> str:
    """``id: action; matched m, fired f`` (and ``spent``, the scenario it came from)."""
    if "error" in rule:
        action = f"error {rule['error']}"
    elif "respond" in rule:
        action = f"respond {rule['respond'].get('status')}"
    elif "fault" in rule:
        action = f"fault {rule['fault']}"
    else:
        action = "delay"
    match = rule.get("match") or {}
    if match:
        action += " when " + excerpt(match)
    counters = f"matched {rule.get('matched', 0)}, fired {rule.get('fired', 0)}"
    extra = "".join(
        [
            ", spent" if rule.get("spent") else "",
            f", scenario {rule['scenario']}" if rule.get("scenario") else "",
        ]
    )
    return f"{rule['id']}: {action}; {counters}{extra}"


def dashboard(url: str, namespace: str) -> str:
    """The dashboard's URL, opened on ``namespace``."""
    return f"{url.rstrip('/')}{UI}?namespace={quote(namespace, safe='')}"


def namespace_report(
    namespace: str,
    journal: Sequence[dict[str, Any]],
    *,
    more: bool = False,
    rules: Sequence[dict[str, Any]] = (),
    misses: tuple[dict[str, Any], Sequence[dict[str, Any]]] | None = None,
    url: str | None = None,
) -> str:
    """The report of a namespace: its calls (``more``: earlier ones left out), each with its
    request body; its rules with their counters; the near misses of one call (that call,
    its near misses); the dashboard URL on the namespace."""
    if journal:
        head = f"calls in namespace {namespace!r} (oldest first"
        lines = [head + (", the latest ones):" if more else "):")]
    else:
        lines = [f"no calls in namespace {namespace!r}"]
    for call in journal:
        lines.append(f"  {call_line(call)}")
        if call.get("body") is not None:
            lines.append(f"     request body: {excerpt(call['body'])}")
    if rules:
        lines.append("rules (match order):")
        lines += [f"  {rule_line(rule)}" for rule in rules]
    if misses is not None and misses[1]:
        call, found = misses
        lines.append(f"near misses of call #{call['id']} ({call['operation'] or call['path']}):")
        lines += [f"  {miss['rule']['id']}: {miss['detail']}" for miss in found]
    if url is not None:
        lines.append(f"dashboard: {dashboard(url, namespace)}")
    return "\n".join(lines)
