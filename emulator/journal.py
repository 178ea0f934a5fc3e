"""A namespace's journal: the vendor calls it received, each with the response that went
out, kept oldest first within a count and a byte budget; bodies kept up to a bound and
decoded only when listed."""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import orjson

from emulator.engine import Acted, Weighing
from emulator.jsonyaml import MAX_NESTING, nested_too_deep
from emulator.matching import Call

JOURNAL_SIZE = 1000  # vendor calls kept per namespace, oldest dropped first
JOURNAL_BYTES = 2 * 1024 * 1024  # what a namespace's journal may hold in all, oldest dropped first
JOURNAL_BODY_BYTES = (
    64 * 1024
)  # of a request or response body, the journal keeps this much (and its size)


def body_kept(raw: bytes, limit: int = JOURNAL_BODY_BYTES) -> bytes:
    """What the journal keeps of a request body: the whole of it up to ``limit`` bytes, else
    its first ``limit`` bytes (the entry says the whole body's size beside it)."""
    return raw if len(raw) <= limit else raw[:limit]


# What an entry costs beyond the bytes it holds (the objects around them), roughly.
_ENTRY_COST = 512
_HEADER_COST = 112


def _headers_weight(headers: Collection[tuple[str, str]] | Collection[tuple[bytes, bytes]]) -> int:
    """(name, value) pairs, of str or of bytes."""
    return len(headers) * _HEADER_COST + sum(map(len, chain.from_iterable(headers)))


class Response:
    """What the client received: status, headers and the body's first bytes (the whole body
    up to ``JOURNAL_BODY_BYTES``, as a request's; ``size`` is always the whole body's length).
    Built from what went out on the wire: the headers are decoded only when read."""

    __slots__ = ("_headers", "_raw_headers", "raw_body", "size", "status")

    def __init__(
        self,
        status: int,
        raw_headers: Collection[tuple[bytes, bytes]] = (),
        body: list[bytes] | None = None,
        limit: int = JOURNAL_BODY_BYTES,
    ) -> None:
        self.status = status
        self._raw_headers = raw_headers  # the ASGI (name, value) byte pairs
        self._headers: dict[str, str] | None = None
        chunks = body or []
        self.size = sum(map(len, chunks))
        raw = b"".join(chunks)  # one chunk: that very bytes object, not a copy
        self.raw_body = raw if len(raw) <= limit else raw[:limit]

    @property
    def headers(self) -> dict[str, str]:
        """Names lower-cased, a repeated header's values joined with ', '."""
        if self._headers is None:
            out: dict[str, str] = {}
            for name, value in self._raw_headers:
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                out[key] = f"{out[key]}, {text}" if key in out else text
            self._headers = out
        return self._headers

    @property
    def truncated(self) -> bool:
        return self.size > len(self.raw_body)

    def weight(self) -> int:
        """Bytes kept, roughly (the journal's byte budget counts them)."""
        return len(self.raw_body) + _headers_weight(self._raw_headers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers,
            "body": decoded(self.raw_body, self.headers, self.truncated),
            "size": self.size,
            "truncated": self.truncated,
        }


def decoded(raw: bytes, headers: Mapping[str, str], truncated: bool = False) -> Any:
    """A body as the journal shows it: JSON as JSON, when whole and nested no deeper than a
    call may be (it is written back out as JSON: orjson writes 255 levels at most); anything
    else (a form, broken, cut or too deeply nested JSON) as text; None when empty."""
    if not raw:
        return None
    if not truncated and "json" in headers.get("content-type", "application/json").lower():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING or nested_too_deep(value) is None:
                return value
    return raw.decode("utf-8", errors="replace")


@dataclass(slots=True)
class JournalEntry:
    """One vendor call as the journal keeps it; bodies are decoded only when listed.

    ``raw_body`` is what :func:`body_kept` keeps of the request body and ``body_size`` the whole
    body's length. :meth:`weight` is what the entry counts against its journal's byte budget:
    every field that keeps bytes (the request, the response) adds them there."""

    at: float
    api: str
    operation: str | None
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    raw_body: bytes
    status: int | None  # None: a transport fault, no HTTP status reached the client
    rule: str | None  # the id of the fault rule that answered or broke the call
    fault: str | None  # the transport fault injected, if any
    response: Response | None = None  # None: no response ever started
    duration_ms: float = 0.0
    acted: Acted | None = None  # the rule that acted (a pure delay included)
    path_params: dict[str, str] = field(default_factory=dict)
    weighing: Weighing | None = None  # how the rules were weighed (near misses)
    id: int = 0  # given by the journal: 1, 2, ... in the namespace
    body_size: int = -1  # the whole request body's length (-1: len(raw_body), nothing cut)
    cost: int = 0  # its weight when recorded (what its journal counts for it)
    # A webhook delivery the emulator made (``outbound``): its attempt, and what went wrong
    # ({"attempt": n, "of": max, "outcome": "delivered" | "refused" | ..., "fault": rule action}).
    delivery: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.body_size < 0:
            self.body_size = len(self.raw_body)

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.raw_body)

    def weight(self) -> int:
        """Bytes this entry holds, roughly: its bodies, headers, path and query, plus the
        objects around them."""
        weight = (
            _ENTRY_COST
            + len(self.raw_body)
            + len(self.path)
            + len(self.query)
            + _headers_weight(self.headers.items())
        )
        if self.response is not None:
            weight += self.response.weight()
        return weight

    def to_dict(self) -> dict[str, Any]:
        at = _utc(self.at)
        return {
            "id": self.id,
            "api": self.api,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": dict(self.headers),
            "body": self.body(),
            "bodySize": self.body_size,
            "bodyTruncated": self.body_truncated,
            "status": self.status,
            "rule": self.rule,
            "fault": self.fault,
            "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "durationMs": self.duration_ms,
            "response": None if self.response is None else self.response.to_dict(),
            "actedBy": None if self.acted is None else self.acted.to_dict(),
            **(
                {}
                if self.delivery is None
                else {"direction": "outbound", "delivery": self.delivery}
            ),
        }

    def body(self) -> Any:
        """JSON as JSON; anything else (a form, broken, cut or too deep JSON) as text; None
        when empty."""
        return decoded(self.raw_body, self.headers, self.body_truncated)

    def call(self) -> Call:
        """The call as the fault engine saw it (its JSON body, None when it had none)."""
        body = None
        if self.raw_body and "json" in self.headers.get("content-type", "application/json").lower():
            try:
                body = orjson.loads(self.raw_body)
            except orjson.JSONDecodeError:
                pass
        return Call(self.api, self.operation, self.path_params, dict(self.headers), body)

    def mentions(self, text: bytes) -> bool:
        """Whether the request or the response body holds these bytes."""
        return text in self.raw_body or (
            self.response is not None and text in self.response.raw_body
        )


def _utc(at: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at, datetime.UTC)


def at_ms(at: float) -> int:
    """An arrival time in whole milliseconds since the epoch, as the journal shows it (`at`)."""
    when = _utc(at)
    return int(when.replace(microsecond=0).timestamp()) * 1000 + when.microsecond // 1000


class Journal:
    """The vendor calls of one namespace, oldest first, bounded by count and by bytes: the
    oldest fall off when there are ``size`` entries, or when their weights add up to more than
    ``budget`` (the newest entry is always kept). Each entry gets the next id (1, 2, ...);
    ids are not reused when the journal is cleared."""

    def __init__(self, size: int = JOURNAL_SIZE, budget: int = JOURNAL_BYTES) -> None:
        self._entries: deque[JournalEntry] = deque()
        self.size = size
        self.budget = budget
        self.weight = 0  # of the entries kept
        self.last_id = 0

    def record(self, entry: JournalEntry) -> None:
        self.last_id += 1
        entry.id = self.last_id
        self._entries.append(entry)
        entry.cost = entry.weight()
        self.weight += entry.cost
        while len(self._entries) > self.size or (
            self.weight > self.budget and len(self._entries) > 1
        ):
            self.weight -= self._entries.popleft().cost

    def entries(
        self,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        *,
        path: str | None = None,
        body: str | None = None,
        rule: str | None = None,
        since: int | None = None,
        until: int | None = None,
        after: int | None = None,
    ) -> list[JournalEntry]:
        """The entries that pass every filter given: ``path`` and ``body`` are substrings (of
        the path; of the request or response body), ``rule`` the id of the rule that acted,
        ``since``/``until`` a window of arrival times (epoch milliseconds, inclusive, as
        ``at`` shows them), ``after``
        an entry id (only newer entries); ``limit`` keeps the most recent ones."""
        needle = None if body is None else body.encode("utf-8")
        found = [
            e
            for e in list(self._entries)
            if (api is None or e.api == api)
            and (operation is None or e.operation == operation)
            and (status is None or e.status == status)
            and (after is None or e.id > after)
            and (path is None or path in e.path)
            and (rule is None or (e.acted is not None and e.acted.id == rule))
            and (since is None or at_ms(e.at) >= since)
            and (until is None or at_ms(e.at) <= until)
            and (needle is None or e.mentions(needle))
        ]
        return found[-limit:] if limit else found

    def get(self, entry_id: int) -> JournalEntry | None:
        for entry in reversed(self._entries):
            if entry.id == entry_id:
                return entry
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.weight = 0
