"""How a fault rule's decision reaches the wire: delays, replies and broken connections.

``connection_reset`` and ``empty_response`` act on the TCP connection itself. ASGI gives
an app no handle on it, so ``uvicorn_seam.transport_of`` takes uvicorn's transport from
its ASGI ``send``, which the emulator leaves in the call's scope (``SERVER_SEND``; the call's
request and outcome carry no server objects). Under another server those two faults answer
with the vendor's internal error and a log line.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import orjson
from starlette.types import Receive, Send

from emulator.context import Outcome
from emulator.engine import Decision
from emulator.errors import EmulatedError
from emulator.rules import BODILESS
from emulator.uvicorn_seam import transport_of

if TYPE_CHECKING:
    from emulator.runtime import Runtime

log = logging.getLogger("emulator")
MALFORMED_JSON = b'{"status": "ok", "data": [1, 2, '  # a 200 whose JSON stops half-way
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST, not FIN
_DISCONNECT_WAIT = 1.0
SERVER_SEND = "emulator.server_send"  # the ASGI scope key of the server's own send
# The tasks of the calls a fault holds right now (a delay, a `timeout`): a shutdown drops
# these at once and lets the other calls under way finish (emulator/server.py).
HELD: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()


@contextmanager
def _held() -> Iterator[None]:
    task = asyncio.current_task()
    if task is not None:
        HELD.add(task)
    try:
        yield
    finally:
        if task is not None:
            HELD.discard(task)


async def carry_out(
    decision: Decision,
    outcome: Outcome,
    runtime: Runtime,
    receive: Receive,
    send: Send,
    server_send: Send,
) -> bool:
    """Wait the decision's delay, then act (what acted goes to the call's ``outcome``); False
    lets the call go on to its handler. ``server_send``: the server's own send, behind which
    the connection is."""
    # Set first: journaled even if the client leaves mid-delay. A pure delay acted too
    # (actedBy), but is no injected answer (rule).
    if not decision.passes_through or outcome.acted is None:
        outcome.acted = decision.acted
    if not decision.passes_through:
        outcome.rule = decision.rule_id
    if decision.delay_ms and await wait(runtime, receive, decision.delay_ms / 1000):
        return True  # the client left during the delay: nothing is sent, nothing is written
    if decision.passes_through:
        return False
    if decision.error is not None:
        raise EmulatedError(runtime.catalogue[decision.error].filled_example())
    if decision.respond is not None:
        await respond(send, decision.respond)
        return True
    outcome.fault = decision.fault
    if decision.fault == "malformed_body":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(MALFORMED_JSON)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": MALFORMED_JSON})
        return True
    if decision.fault == "timeout":
        await hold(runtime, receive, server_send)
        return True
    transport = transport_of(server_send)
    if transport is None:
        raise RuntimeError(f"the {decision.fault} fault needs uvicorn's transport")
    if decision.fault == "connection_reset":
        reset(transport)
    else:  # empty_response: FIN before a single byte of response
        transport.close()
    await _until_disconnected(receive, _DISCONNECT_WAIT)
    return True


async def respond(send: Send, spec: dict[str, Any]) -> None:
    """Exactly what a `respond` rule says: its status, its headers, its body as JSON."""
    headers = {k.lower(): v for k, v in spec.get("headers", {}).items()}
    payload = orjson.dumps(spec["body"]) if "body" in spec else b""
    if "body" in spec:
        headers.setdefault("content-type", "application/json")
    if spec["status"] not in BODILESS:  # RFC 9110: no Content-Length on a 204 or 304
        headers["content-length"] = str(len(payload))
    await send(
        {
            "type": "http.response.start",
            "status": spec["status"],
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def reset(transport: asyncio.Transport) -> None:
    """Drop the connection with a TCP RST: the client reads ECONNRESET."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        except (OSError, ValueError):  # closed by the peer already (uvloop: ValueError)
            pass
    transport.abort()


async def hold(runtime: Runtime, receive: Receive, server_send: Send) -> None:
    """Answer nothing until the client gives up (or the server's cap, then close)."""
    with _held():
        if await runtime.clock.wait(runtime.hold_seconds, _disconnected(receive)):
            return
    transport = transport_of(server_send)
    if transport is not None:
        transport.close()
        await _until_disconnected(receive, _DISCONNECT_WAIT)


async def wait(runtime: Runtime, receive: Receive, seconds: float) -> bool:
    """A delay (other requests are served meanwhile) that ends early when the client hangs up;
    True when it did. The call's receive is watched: the body was read whole before any rule
    acts, so what it says next (after the body replayed to the app) is the client leaving."""
    with _held():
        return await runtime.clock.wait(seconds, _disconnected(receive))


async def _disconnected(receive: Receive) -> None:
    """Drain the request until the server reports the client gone."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _until_disconnected(receive: Receive, seconds: float) -> bool:
    """Drain the request until the server reports the client gone; False after `seconds`.

    Returning only once the server knows the connection is gone also keeps uvicorn from
    answering a 500 for an app that 'returned without starting a response'.
    """
    try:
        async with asyncio.timeout(seconds):
            await _disconnected(receive)
    except TimeoutError:
        return False
    return True
