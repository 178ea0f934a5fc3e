"""The one place uvicorn's internals are touched; tests/unit/test_uvicorn_seam.py runs each
touch against the installed uvicorn (both its HTTP protocols), so an upgrade that moves one
fails there, loudly, not as a fault that quietly stops working.

1. ``transport_of``: the ``connection_reset`` and ``empty_response`` faults act on the TCP
   connection, and ASGI gives an app no handle on it. uvicorn's ASGI ``send`` is a bound
   method of its per-request cycle object (``RequestResponseCycle`` in both the h11 and
   the httptools protocol), whose ``transport`` attribute is the connection's asyncio
   transport.
2. ``open_transports`` / ``running_tasks``: a graceful shutdown waits for every call under
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
    return transport if hasattr(transport, "abort") and hasattr(transport, "get_extra_info") else None


def open_transports(server: uvicorn.Server) -> list[asyncio.BaseTransport]:
    """The transports of the server's open connections."""
    found = (getattr(connection, "transport", None) for connection in list(server.server_state.connections))
    return [transport for transport in found if transport is not None]


def running_tasks(server: uvicorn.Server) -> list[asyncio.Task[Any]]:
    """The tasks of the calls the server is running."""
    return list(server.server_state.tasks)
