"""Each touch of uvicorn's internals (emulator/uvicorn_seam.py), against the installed uvicorn
with both of its HTTP protocols: an upgrade that moves one fails here, naming uvicorn and its
version."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from emulator import uvicorn_seam
from emulator.server import free_port

UVICORN = f"uvicorn {uvicorn.__version__}"


class Probe:
    """An ASGI app that, inside a call, reads what the seam sees, then answers."""

    def __init__(self) -> None:
        self.server: uvicorn.Server | None = None
        self.seen: dict[str, Any] = {}

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        assert self.server is not None
        self.seen = {
            "transport": uvicorn_seam.transport_of(send),
            "open": uvicorn_seam.open_transports(self.server),
            "tasks": uvicorn_seam.running_tasks(self.server),
            "current": asyncio.current_task(),
        }
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})


@contextlib.contextmanager
def served(app: Any, http: str) -> Iterator[tuple[uvicorn.Server, int]]:
    """uvicorn serving `app` with the `http` protocol in a thread, until the block ends."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            http=http,
            loop="asyncio",
            lifespan="off",
            log_level="warning",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield server, port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("http", ["h11", "httptools"])
def test_the_seam_finds_the_connection_and_the_call_under_way(http: str) -> None:
    probe = Probe()
    with served(probe, http) as (server, port):
        probe.server = server
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert sock.recv(1024).startswith(b"HTTP/1.1 204")
    transport = probe.seen["transport"]
    assert isinstance(transport, asyncio.Transport), (
        f"{UVICORN} ({http}): no transport behind send (send.__self__.transport)"
    )
    assert transport.get_extra_info("socket") is not None, f"{UVICORN} ({http}): no socket"
    assert probe.seen["open"] == [transport], (
        f"{UVICORN} ({http}): Server.server_state.connections moved"
    )
    assert probe.seen["current"] in probe.seen["tasks"], (
        f"{UVICORN} ({http}): Server.server_state.tasks moved"
    )


def test_under_another_server_there_is_no_transport() -> None:
    async def send(message: dict) -> None: ...

    assert uvicorn_seam.transport_of(send) is None


def test_the_server_lifecycle_emulator_server_overrides_is_still_there() -> None:
    """emulator/server.py's Server overrides uvicorn.Server's startup and shutdown (to run a
    callback once bound, and to drop the calls faults still hold): both must still exist and
    take the sockets."""
    import inspect

    for name in ("startup", "shutdown"):
        method = getattr(uvicorn.Server, name, None)
        assert method is not None and inspect.iscoroutinefunction(method), (
            f"{UVICORN}: Server.{name} is gone or no longer a coroutine"
        )
        assert "sockets" in inspect.signature(method).parameters, (
            f"{UVICORN}: Server.{name} no longer takes sockets"
        )


class Recording:
    """A connection's transport that records each write before it goes out."""

    def __init__(self, transport: Any) -> None:
        self.transport, self.writes, self.closed_after = transport, [], None

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))
        self.transport.write(data)

    def close(self) -> None:
        self.closed_after = len(self.writes)
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


class WholeProbe:
    """Answers with send_whole, its transport recorded."""

    def __init__(self) -> None:
        self.recording: Recording | None = None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self.recording = send.__self__.transport = Recording(send.__self__.transport)
        await uvicorn_seam.send_whole(
            send,
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"12")],
            },
            {"type": "http.response.body", "body": b'{"ok": true}'},
        )


@pytest.mark.parametrize("http", ["h11", "httptools"])
@pytest.mark.parametrize("close", [False, True])
def test_a_whole_response_goes_out_in_one_write(http: str, close: bool) -> None:
    probe = WholeProbe()
    with served(probe, http) as (_, port):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\n"
                + (b"Connection: close\r\n" if close else b"")
                + b"\r\n"
            )
            received = b""
            while not received.endswith(b'{"ok": true}'):
                chunk = sock.recv(4096)
                assert chunk, f"{UVICORN} ({http}): the connection closed after {received!r}"
                received += chunk
            if close:
                assert sock.recv(4096) == b"", (
                    f"{UVICORN} ({http}): Connection: close was not honoured"
                )
    recording = probe.recording
    assert recording is not None
    assert len(recording.writes) == 1, (
        f"{UVICORN} ({http}): the response took {len(recording.writes)} writes (cycle.transport moved?)"
    )
    assert recording.writes[0].startswith(b"HTTP/1.1 200") and recording.writes[0].endswith(
        b'{"ok": true}'
    )
    assert b"content-length: 12\r\n" in recording.writes[0].lower()
    assert recording.closed_after == (1 if close else None), (
        f"{UVICORN} ({http}): the connection was closed before the response was written"
    )
    assert received == recording.writes[0]


def test_under_another_server_a_whole_response_is_two_sends() -> None:
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    start = {"type": "http.response.start", "status": 204, "headers": []}
    body = {"type": "http.response.body", "body": b""}
    asyncio.run(uvicorn_seam.send_whole(send, start, body))
    assert sent == [start, body]
