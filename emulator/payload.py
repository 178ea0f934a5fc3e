"""A request's body: read whole under its cap before anything else (over the cap, refused
before any of it is parsed; one the client never finished, dropped: never executed, never
journaled), JSON parsed once (a large body in a worker thread), its nesting bounded."""

from __future__ import annotations

import asyncio
import enum
from typing import Any

from starlette.types import Message, Receive

from emulator.errors import RequestInvalid
from emulator.jsonyaml import json_path, nested_too_deep
from emulator.validation import parse_json

MAX_BODY_BYTES = 1024 * 1024  # a call's body cap, unless its operation sets its own
# A JSON body larger than this (only an operation with a larger cap of its own takes one: a
# state snapshot) is parsed in a worker thread, and so is the walk that bounds its nesting
# (~20 ms a MB, in Python: other clients are answered in between). orjson's parse (~15 ms a
# MB) keeps the GIL wherever it runs: the operation's cap bounds that pause.
PARSED_ON_LOOP_BYTES = MAX_BODY_BYTES


class Unread(enum.Enum):
    """Why a body was not read."""

    TOO_LARGE = "over its cap"
    GONE = "the client hung up before it was whole"


async def read(receive: Receive, cap: int) -> bytes | Unread:
    """The whole body, or why not. What the server's receive gives after it is what follows
    the body (a disconnect), which is what the fault rules' delays watch for."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        raw: bytes = message.get("body", b"")  # the usual case: the whole body in one message
        return raw if len(raw) <= cap else Unread.TOO_LARGE
    return await _rest(message, receive, cap)


async def _rest(message: Message, receive: Receive, cap: int) -> bytes | Unread:
    chunks: list[bytes] = []
    size = 0
    while True:
        if message["type"] == "http.disconnect":
            return Unread.GONE
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > cap:
            return Unread.TOO_LARGE
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


async def parse(raw: bytes, nesting: int | None) -> tuple[Any, bool, RequestInvalid | None]:
    """A JSON body: (the document, whether it parsed, its refusal when nested deeper than
    ``nesting``; None: no bound, a path of no API, refused anyway). One that does not parse
    is left to the spec's checks, which report it in the vendor's words."""
    if len(raw) > PARSED_ON_LOOP_BYTES:
        return await asyncio.to_thread(_parsed, raw, nesting)
    return _parsed(raw, nesting)


def _parsed(raw: bytes, nesting: int | None) -> tuple[Any, bool, RequestInvalid | None]:
    try:
        body = parse_json(raw)
    except RequestInvalid:
        return None, False, None
    return body, True, None if nesting is None else _too_deep(nesting, raw, body)


def _too_deep(limit: int, raw: bytes, body: Any) -> RequestInvalid | None:
    """A body nested deeper than any call needs (MAX_NESTING, or the path's own bound): what
    is stored is written back out as JSON, and orjson writes 255 levels at most, so deeper
    would be stored with a 2xx and answer 500 from then on. Counting brackets first keeps
    this free for the usual small body."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return None
    deep = nested_too_deep(body, limit)
    if deep is None:
        return None
    return RequestInvalid(f"{json_path(deep[:2])}: nested deeper than {limit} levels")
