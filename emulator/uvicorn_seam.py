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
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn


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
    cycle = getattr(server_send, "__self__", None)
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
