"""The one place uvicorn's internals are touched; tests/unit/test_uvicorn_seam.py runs each
touch against the installed uvicorn (both its HTTP protocols), so an upgrade that moves one
fails there, loudly, not as a fault that quietly stops working.

1. ``transport_of``: the ``connection_reset`` and ``empty_response`` faults act on the TCP
   connection, and ASGI gives an app no handle on it. uvicorn's ASGI ``send`` is a bound
   method of its per-request cycle object (``RequestResponseCycle`` in both the h11 and
   the httptools protocol), whose ``transport`` attribute is the connection's asyncio
   transport.
2. ``send_whole``: uvicorn writes a response's status line and headers to the transport
   when it is given ``http.response.start`` and its body when given the body: two writes,
   two TCP segments and two wake-ups of the client for every small response. For the length
   of the two sends, the cycle's ``transport`` attribute is a stand-in that keeps what
   uvicorn writes, which then goes to the connection in one write (and a ``close()``
   uvicorn asks for in between is done after it).
3. ``open_transports`` / ``running_tasks``: a graceful shutdown waits for every call under
   way, and a `timeout` fault holds one for minutes. ``Server.server_state`` holds the open
   connections (protocol objects, each with its ``transport``) and the calls' tasks, so the
   shutdown can close the one and cancel the other.
4. ``protocol``: what a connection may take before the app sees a request (``Limits``), for
   both HTTP protocols. httptools keeps a header it has not seen the end of in memory with no
   bound (an endless header grew the process by hundreds of MB and slowed every other client),
   h11 refuses past 16 KiB with a plain-text 400, and neither closes a connection that never
   finishes its head. A subclass of uvicorn's protocol (``H11Protocol``, ``HttpToolsProtocol``)
   counts the bytes it hands the parser while a request head is awaited (whether one is:
   httptools' parser callbacks ``on_headers_complete`` / ``on_message_complete``, h11's
   ``their_state``), keeps the head's first bytes for its request line, and answers a head
   over ``head_bytes`` with a 431 in the API's shape, then closes; a head not whole
   ``head_seconds`` after the connection (or its last response) is closed; a connection over
   ``max_connections`` (``server_state.connections``) is handed to a small protocol of its own
   that reads its request line, answers 503 in the API's shape and closes. A head that came
   in the same read as the end of the request before it (pipelined) is counted from the next
   read on: it may pass the bound by one read (256 KiB), no more. It relies on
   uvicorn's ``transport``, ``loop``, ``flow``, ``cycle``, ``server_state``, ``pipeline``
   (httptools), ``conn`` (h11) and ``on_response_complete``, the callback a cycle calls once
   its response is sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import uvicorn
from uvicorn.config import HTTP_PROTOCOLS
from uvicorn.importer import import_from_string
from uvicorn.protocols.http import h11_impl


def transport_of(server_send: Any) -> asyncio.Transport | None:
    """uvicorn's transport behind its ASGI send, or None under another server."""
    transport = getattr(getattr(server_send, "__self__", None), "transport", None)
    return (
        transport if hasattr(transport, "abort") and hasattr(transport, "get_extra_info") else None
    )


class _Gathered:
    """Stands in for a connection's transport while uvicorn writes one response."""

    __slots__ = ("chunks", "closing", "transport")

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.chunks: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.chunks.append(data)

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing or self.transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)

    def done(self) -> None:
        if self.chunks:
            self.transport.write(b"".join(self.chunks))  # one chunk: that very bytes object
        if self.closing:
            self.transport.close()


async def send_whole(server_send: Any, start: Any, body: Any) -> None:
    """``start`` then ``body`` (the last) through uvicorn's send, written in one go."""
    cycle: Any = getattr(server_send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None or not hasattr(transport, "write"):
        await server_send(start)
        await server_send(body)
        return
    gathered = _Gathered(transport)
    cycle.transport = gathered
    try:
        await server_send(start)
        await server_send(body)
    finally:
        cycle.transport = transport
        gathered.done()


def open_transports(server: uvicorn.Server) -> list[asyncio.BaseTransport]:
    """The transports of the server's open connections."""
    found = (
        getattr(connection, "transport", None)
        for connection in list(server.server_state.connections)
    )
    return [transport for transport in found if transport is not None]


def running_tasks(server: uvicorn.Server) -> list[asyncio.Task[Any]]:
    """The tasks of the calls the server is running."""
    return list(server.server_state.tasks)


HEAD_BYTES = 64 * 1024  # a request head: its request line, header fields and empty line
HEAD_SECONDS = 10.0  # for a whole head, from the connection (or its last response) on
MAX_CONNECTIONS = 1000  # open connections, idle keep-alive ones included
REFUSAL_WAIT = 1.0  # seconds a connection over the cap is given to send its request line
KEPT = 2048  # bytes of a head kept for its request line (the path picks the error's shape)
READ_SLACK = 256 * 1024  # the most one read of the event loop brings (asyncio's and uvloop's)
# (status, path) -> the headers and body of the refusal, in the path's API's shape
Refusal = Callable[[int, str], tuple[Sequence[tuple[bytes, bytes]], bytes]]


@dataclass(frozen=True)
class Limits:
    """What a connection may take before the app sees a request. ``max_connections`` 0: no
    cap. ``refusal`` words the 431 (a head over ``head_bytes``) and the 503 (over the cap)."""

    refusal: Refusal
    head_bytes: int = HEAD_BYTES
    head_seconds: float = HEAD_SECONDS
    max_connections: int = MAX_CONNECTIONS


def protocol(limits: Limits, http: str = "auto") -> dict[str, Any]:
    """uvicorn.Config's options for its ``http`` protocol (``auto``: httptools when installed,
    else h11) with ``limits``."""
    base = import_from_string(HTTP_PROTOCOLS.get(http, http))
    if issubclass(base, h11_impl.H11Protocol):
        bounded: type = _BoundedH11
    else:
        from uvicorn.protocols.http import httptools_impl

        if not issubclass(base, httptools_impl.HttpToolsProtocol):
            raise ValueError(f"uvicorn {uvicorn.__version__}: no limits for the {http} protocol")
        bounded = _bounded_httptools()
    return {
        "http": type(bounded.__name__, (bounded,), {"limits": limits}),
        # h11 keeps its own bound on an unparsed head (16 KiB by default, a plain-text 400):
        # above ours, so ours answers first, and still a bound.
        "h11_max_incomplete_event_size": limits.head_bytes + READ_SLACK,
    }


def request_line(head: bytes) -> tuple[str, str]:
    """The method and path of a head's request line, as far as it came ('' for what did not)."""
    line = head.lstrip(b"\r\n").split(b"\r\n", 1)[0].split(b"\n", 1)[0]
    method, _, rest = line.partition(b" ")
    target = rest.split(b" ", 1)[0].split(b"?", 1)[0].split(b"#", 1)[0]
    if b"://" in target:  # absolute-form: the path after scheme://host
        target = b"/" + target.split(b"://", 1)[1].partition(b"/")[2]
    return method.decode("latin-1"), target.decode("latin-1")


def refusal_bytes(limits: Limits, status: int, head: bytes, defaults: Sequence[Any]) -> bytes:
    """The whole response refusing a request (its head's first bytes), closing the connection;
    no body for a HEAD."""
    method, path = request_line(head)
    headers, body = limits.refusal(status, path)
    out = [b"HTTP/1.1 %d %s\r\n" % (status, HTTPStatus(status).phrase.encode("ascii"))]
    out.extend(b"%s: %s\r\n" % pair for pair in (*defaults, *headers, (b"connection", b"close")))
    out.append(b"\r\n")
    if method != "HEAD":
        out.append(body)
    return b"".join(out)


class _Bounded(asyncio.Protocol):
    """Both protocols' bounds. Whether a head is awaited (``_awaiting``) is said by the
    parser: httptools calls back (``_BoundedHttpTools``), h11 is asked after each read
    (``_polls``, ``_sync``). Every read and call goes through here: the usual ones take a
    few attribute tests, no timer of their own."""

    limits: ClassVar[Limits]
    _polls: ClassVar[bool] = False
    # uvicorn's, in both protocols (h11 has no pipeline: a request at a time)
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    server_state: Any
    cycle: Any
    flow: Any
    pipeline: Any = ()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cap = self.limits.max_connections
        if cap and len(self.server_state.connections) >= cap:
            over = _OverCap(self.limits, self.server_state.default_headers, self.loop)
            transport.set_protocol(over)  # this object is dropped: uvicorn never saw it
            over.connection_made(transport)
            return
        self._awaiting = True  # a request head is awaited (none of it has come: _count 0)
        self._count = 0
        self._kept = b""
        self._over = False  # a head over the bound, answered once the call under way is
        self._since: float | None = None
        self._late: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if not self._awaiting:  # a body, or a request the protocol holds: its business
            super().data_received(data)
            if self._polls:
                self._sync()
        elif len(data) < self.limits.head_bytes - self._count:  # a head, with room to spare
            if len(self._kept) < KEPT:
                self._kept += data[: KEPT - len(self._kept)]
            self._count += len(data)
            super().data_received(data)
            if self._polls:
                self._sync()
        else:
            self._up_to_the_bound(data)

    def _up_to_the_bound(self, data: bytes) -> None:
        """A read that may take a head to its bound: the parser is given no byte past it."""
        limit = self.limits.head_bytes
        while data and not self._over and not self.transport.is_closing():
            if not self._awaiting:
                super().data_received(data)
                if self._polls:
                    self._sync()
                return
            room = limit - self._count
            piece, data = data[:room], data[room:]
            if len(self._kept) < KEPT:
                self._kept += piece[: KEPT - len(self._kept)]
            self._count += len(piece)
            super().data_received(piece)
            if self._polls:
                self._sync()
            if self._awaiting and self._count >= limit:
                self._too_large()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._late is not None:
            self._late.cancel()
            self._late = None
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        if self._polls:
            self._sync()
        if self.transport.is_closing():
            return
        if self._over:
            self._refuse()
        elif self._awaiting and not self._busy():
            self._arm()
            if self._count >= self.limits.head_bytes:  # it came while the call ran
                self._refuse()

    def _sync(self) -> None:
        """Bring ``_awaiting`` up to date with the parser (when it ``_polls``)."""

    def _begin(self, already: bytes = b"") -> None:
        """The next head starts: ``already`` of it has come (and the parser holds it). Its
        time starts now when the call before it is answered (its answer came before its
        body was whole), else with that answer."""
        self._awaiting, self._count, self._kept = True, len(already), already[:KEPT]
        if not self._busy():
            self._arm()

    def _busy(self) -> bool:
        """A call is under way on this connection (its response not all sent), or waits."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _too_large(self) -> None:
        if self._busy():  # pipelined behind a call under way: that call is answered first
            self._over = True
            self.flow.pause_reading()
        else:
            self._refuse()

    def _refuse(self) -> None:
        self._since = None
        defaults = self.server_state.default_headers
        self.transport.write(refusal_bytes(self.limits, 431, self._kept, defaults))
        self.transport.close()

    # The head's time: ``_since`` is when it started (None: not running). One timer a
    # connection, armed when none is pending and looked at when it fires (then re-armed for
    # what is left), so a call costs no timer of its own.

    def _arm(self) -> None:
        self._since = self.loop.time()
        if self._late is None:
            self._late = self.loop.call_at(self._since + self.limits.head_seconds, self._due)

    def _due(self) -> None:
        self._late = None
        if self._since is None or self.transport.is_closing():
            return
        due = self._since + self.limits.head_seconds
        if self.loop.time() < due:
            self._late = self.loop.call_at(due, self._due)
        elif self._awaiting and not self._busy():
            self.transport.close()


class _BoundedH11(_Bounded, h11_impl.H11Protocol):
    _polls = True

    def _sync(self) -> None:
        # h11 parses a head once its previous request is answered (IDLE): a head it holds
        # while IDLE is one it has not seen the end of, all of it in its buffer.
        # h11 as uvicorn imports it (h11 is uvicorn's dependency, not a declared one of ours)
        idle = self.conn.their_state is h11_impl.h11.IDLE  # type: ignore[attr-defined]
        if idle and not self._awaiting:
            self._begin(self.conn.trailing_data[0])
        elif not idle and self._awaiting:
            self._awaiting, self._since = False, None


def _bounded_httptools() -> type:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class _BoundedHttpTools(_Bounded, HttpToolsProtocol):
        def on_headers_complete(self) -> None:
            self._awaiting, self._since = False, None  # the head is whole
            HttpToolsProtocol.on_headers_complete(self)

        def on_message_complete(self) -> None:
            HttpToolsProtocol.on_message_complete(self)
            self._awaiting, self._count, self._kept = True, 0, b""  # the next head starts
            if self.cycle.response_complete and not self.pipeline:  # (an early answer)
                self._arm()

    return _BoundedHttpTools


class _OverCap(asyncio.Protocol):
    """A connection over the cap: its request line is read (its path picks the API whose 503
    it gets; waiting at most REFUSAL_WAIT), then it is answered and closed. It never reaches
    uvicorn's protocol, nor counts as one of its connections."""

    def __init__(
        self, limits: Limits, defaults: Sequence[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.limits, self.defaults, self.loop = limits, defaults, loop
        self.head = b""
        self.transport: asyncio.Transport | None = None
        self.late: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.late = self.loop.call_later(REFUSAL_WAIT, self.answer)

    def data_received(self, data: bytes) -> None:
        self.head += data[: KEPT - len(self.head)]
        if b"\n" in self.head.lstrip(b"\r\n") or len(self.head) >= KEPT:
            self.answer()

    def eof_received(self) -> None:
        self.answer()

    def answer(self) -> None:
        self.connection_lost(None)
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(refusal_bytes(self.limits, 503, self.head, self.defaults))
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.late is not None:
            self.late.cancel()
            self.late = None
