"""A request leaves no cyclic garbage behind: under load, garbage in cycles means collector
pauses in the middle of requests (the p99 tail), so every path is checked for it."""
from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

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


@pytest.fixture(scope="module")
def app() -> Any:
    return create_app()


@pytest.fixture
def saved_garbage() -> Iterator[list[Any]]:
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield gc.garbage
    finally:
        gc.set_debug(0)
        gc.garbage.clear()


def call(app: Any, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    raw = b"" if body is None else orjson.dumps(body)
    header_list = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                   (b"content-length", str(len(raw)).encode())]
    header_list += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": header_list,
             "server": ("127.0.0.1", 8080), "client": ("127.0.0.1", 50000), "state": {}}
    cycle = ServerCycle(scope, raw)
    asyncio.run(app(scope, cycle.receive, cycle.send))
    status, payload = cycle.sent[0]["status"], cycle.sent[1]["body"]
    return status, orjson.loads(payload) if payload else None


def test_calls_of_every_kind_leave_no_cycles(app: Any, saved_garbage: list[Any]) -> None:
    ada = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1990-01-01",
           "gender": "F", "postalZipCode": "H0H 0H0", "email": "ada-gc@example.com"}
    status, enrolled = call(app, "POST", "/client/users", ada)
    assert status == 201
    status, _ = call(app, "POST", f"/client/users/{enrolled['accountId']}/sessions",
                     {"correlationId": "gc-session", "channel": "WEBSITE"},
                     x_identifier_type="ACCOUNT_ID")
    assert status == 201
    gc.collect()
    saved_garbage.clear()  # asyncio.run's own loop set-up is not what is measured here

    answers = [
        call(app, "PUT", "/client/users/gc-session/profile", {**ada, "city": "Montreal"}),
        call(app, "PUT", "/client/users/gc-session/profile", {**ada, "postalZipCode": "nope"}),
        call(app, "PUT", "/client/users/unknown-session/profile", ada),
        call(app, "GET", "/client/users/gc-session/profile"),
        call(app, "DELETE", "/client/users"),
        call(app, "GET", "/nowhere"),
        call(app, "GET", "/_emulator/health"),
    ]
    assert [status for status, _ in answers] == [200, 400, 404, 200, 405, 404, 200]
    gc.collect()
    assert sorted({type(obj).__qualname__ for obj in saved_garbage}) == []
