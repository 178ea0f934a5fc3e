"""Cyclic garbage per call: under load, objects left in reference cycles mean collector pauses
in the middle of requests (the p99 tail). This drives vendor calls of every kind (valid,
refused by the spec or by the vendor's rules, unrouted) and the control calls a test suite
makes, straight through the ASGI app, and reports what they leave in cycles: nothing, today.
(Adding a fault rule still leaves jsonschema's linked errors to the collector: the rule checks
run once per rule, not per call.)

It is a figure of the benchmark, not a test: a dependency upgrade that leaves a cycle behind
slows the tail without being wrong.

    .venv/bin/python bench/garbage.py      # prints the report; exit status 1 if any garbage

``cyclic_garbage()`` returns the report for the benchmark's own summary.
"""

from __future__ import annotations

import asyncio
import gc
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emulator.app import create_app


class ServerCycle:
    """Like uvicorn's per-request object: it keeps the scope, and `send` is its bound method."""

    def __init__(self, scope: dict[str, Any], body: bytes) -> None:
        self.scope = scope
        self.messages = [{"type": "http.request", "body": body, "more_body": False}]
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return self.messages.pop() if self.messages else {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def call(
    app: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str = "application/json",
    **headers: str,
) -> tuple[int, Any]:
    raw = body if isinstance(body, bytes) else b"" if body is None else orjson.dumps(body)
    header_list = [
        (b"host", b"127.0.0.1"),
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(raw)).encode()),
    ]
    header_list += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": header_list,
        "server": ("127.0.0.1", 8080),
        "client": ("127.0.0.1", 50000),
        "state": {},
    }
    cycle = ServerCycle(scope, raw)
    asyncio.run(app(scope, cycle.receive, cycle.send))
    status, payload = cycle.sent[0]["status"], cycle.sent[1]["body"]
    return status, orjson.loads(payload) if payload else None


ADA = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
    "email": "ada-gc@example.com",
}
# (status the call must get, method, path, body, headers): each kind of call once.
EXPECTED = [200, 400, 400, 400, 400, 400, 400, 404, 200, 405, 404, 401, 400, 400, 400]
EXPECTED += [200, 200, 200, 204]


def _calls(app: Any, token: str) -> list[tuple[int, Any]]:
    no_postal = {k: v for k, v in ADA.items() if k != "postalZipCode"}
    profile = "/client/users/gc-session/profile"
    return [
        call(app, "PUT", profile, {**ADA, "city": "Montreal"}),
        call(app, "PUT", profile, {**ADA, "postalZipCode": "nope"}),
        call(app, "PUT", profile, {**ADA, "dateOfBirth": "1985-13-45"}),
        call(app, "PUT", profile, {**no_postal, "gender": None}),
        call(app, "PUT", profile, {**ADA, "firstName": 7}),
        call(
            app, "PUT", profile, {**ADA, "extendedData": {"x": 1}, "extendedDataSource": "INTERNAL"}
        ),
        call(app, "PUT", profile, b'{"firstName": "Ada",'),  # JSON that does not parse
        call(app, "PUT", "/client/users/unknown-session/profile", ADA),
        call(app, "GET", profile),
        call(app, "DELETE", "/client/users"),
        call(app, "GET", "/nowhere"),
        call(app, "PUT", "/ccadmin/v1/profiles/x", {"firstName": "A"}),
        call(app, "PUT", "/ccadmin/v1/profiles/x", {"roles": "x"}, authorization=token),
        call(app, "PUT", "/ccadmin/v1/profiles/x", {"firstName": 7}, authorization=token),
        call(
            app,
            "POST",
            "/ccadmin/v1/login",
            b"grant_type=nope",  # a form the spec refuses
            content_type="application/x-www-form-urlencoded",
            authorization="Bearer emulator-app-key",
        ),
        call(app, "GET", "/_emulator/health"),
        call(app, "GET", "/_emulator/state"),
        call(app, "PATCH", "/_emulator/config", {"seed": 3}),
        call(app, "POST", "/_emulator/reset"),
    ]


def cyclic_garbage(app: Any = None) -> dict[str, Any]:
    """{"calls": n, "garbage": {type name: count}} left in cycles by one call of each kind."""
    app = app or create_app()
    status, enrolled = call(app, "POST", "/client/users", ADA)
    assert status == 201, status
    status, _ = call(
        app,
        "POST",
        f"/client/users/{enrolled['accountId']}/sessions",
        {"correlationId": "gc-session", "channel": "WEBSITE"},
        x_identifier_type="ACCOUNT_ID",
    )
    assert status == 201, status
    status, login = call(
        app,
        "POST",
        "/ccadmin/v1/login",
        b"grant_type=client_credentials",
        content_type="application/x-www-form-urlencoded",
        authorization="Bearer emulator-app-key",
    )
    assert status == 200, status
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.garbage.clear()  # asyncio.run's own loop set-up is not what is measured here
        answers = _calls(app, f"Bearer {login['access_token']}")
        gc.collect()
        found = Counter(type(obj).__qualname__ for obj in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    statuses = [status for status, _ in answers]
    if statuses != EXPECTED:  # the calls did not take the paths this measures
        raise RuntimeError(f"statuses {statuses}, expected {EXPECTED}")
    return {"calls": len(answers), "garbage": dict(found)}


def main() -> int:
    report = cyclic_garbage()
    garbage = report["garbage"]
    print(
        f"cyclic garbage after {report['calls']} calls of every kind: "
        f"{sum(garbage.values())} objects" + (f" {garbage}" if garbage else "")
    )
    return 1 if garbage else 0


if __name__ == "__main__":
    sys.exit(main())
