"""Each touch of uvicorn's internals (emulator/uvicorn_seam.py), against the installed uvicorn
with both of its HTTP protocols: an upgrade that moves one fails here, naming uvicorn and its
version."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from emulator import uvicorn_seam
from emulator.server import free_port
from tests.wire import Wire, close_all

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
def served(
    app: Any, http: str, loop: str = "asyncio", limits: uvicorn_seam.Limits | None = None
) -> Iterator[tuple[uvicorn.Server, int]]:
    """uvicorn serving `app` with the `http` protocol in a thread, until the block ends (with
    `limits`: through the seam's protocol)."""
    port = free_port()
    protocol = {"http": http} if limits is None else uvicorn_seam.protocol(limits, http)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            loop=loop,
            lifespan="off",
            log_level="warning",
            **protocol,
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


# --- Limits: request heads bounded in size and time, a connection cap (uvicorn_seam.protocol)

PROTOCOLS = [
    pytest.param(http, loop, id=f"{http}-{loop}")
    for http in ("h11", "httptools")
    for loop in ("asyncio", "uvloop")
]
HANG_GUARD = 10  # seconds: a socket read that waits this long means the server hung


def refusal(status: int, path: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """The refusal the seam is given: it names the status and the path it was asked for."""
    body = f"{status} {path}".encode()
    return [(b"content-length", str(len(body)).encode()), (b"content-type", b"text/plain")], body


def limits(**given: Any) -> uvicorn_seam.Limits:
    return uvicorn_seam.Limits(refusal, **given)


class Echo:
    """Answers 200 with the request's path as its body. `/slow` answers once `release` is
    set (`started` says it has begun)."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        while scope["path"] != "/early" and (await receive()).get("more_body"):
            pass  # (/early answers before its body has come)
        if scope["path"] == "/slow":
            self.started.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        body = scope["path"].encode()
        headers = [(b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def head_of(size: int, path: str = "/", end: bool = True) -> bytes:
    """A GET head of exactly `size` bytes (request line, header fields, the empty line);
    without its `end`, the same bytes but the empty line never comes."""
    start = f"GET {path} HTTP/1.1\r\nHost: x\r\nX-Pad: ".encode()
    tail = b"\r\n\r\n" if end else b"\r\nX-More: "
    return start + b"a" * (size - len(start) - len(tail)) + tail


@pytest.fixture(autouse=True)
def wires_closed() -> Iterator[None]:
    yield
    close_all()


@pytest.mark.parametrize(("http", "loop"), PROTOCOLS)
def test_a_head_up_to_the_bound_is_served_one_byte_more_is_refused_431_and_closed(
    http: str, loop: str
) -> None:
    # 20000 bytes: past h11's own bound on a head (16 KiB), which the seam lifts.
    with served(Echo(), http, loop, limits(head_bytes=20_000)) as (_, port):
        wire = Wire(port)
        assert wire.send(head_of(20_000, "/a")).response()[::2] == (200, b"/a"), UVICORN
        # Each head of a keep-alive connection has the whole bound.
        assert wire.send(head_of(20_000, "/b")).response()[::2] == (200, b"/b"), UVICORN
        status, headers, body = wire.send(head_of(20_001, "/c/d?q=1")).response()
        assert (status, body) == (431, b"431 /c/d"), f"{UVICORN} ({http}): {status} {body!r}"
        assert headers["connection"] == "close"
        assert wire.closed(), f"{UVICORN} ({http}): the connection stayed open after the 431"


@pytest.mark.parametrize(("http", "loop"), PROTOCOLS)
def test_an_endless_head_is_refused_once_over_the_bound(http: str, loop: str) -> None:
    with served(Echo(), http, loop, limits(head_bytes=4096)) as (_, port):
        wire = Wire(port).send(b"GET /endless HTTP/1.1\r\nHost: x\r\nX-Long: ")
        for _ in range(5):  # 5 KiB of one header's value, sent in pieces, never ended
            wire.send(b"b" * 1024)
        status, _, body = wire.response()
        assert (status, body) == (431, b"431 /endless"), f"{UVICORN} ({http})"
        assert wire.closed()


@pytest.mark.parametrize(("http", "loop"), PROTOCOLS)
def test_a_head_not_whole_in_time_closes_the_connection(http: str, loop: str) -> None:
    """The bound is on the whole head, from the connection (or its last response) on: a
    client that sends nothing, one that sends a byte now and then, an idle keep-alive one,
    one idle after a call answered before its body had come."""
    with served(Echo(), http, loop, limits(head_seconds=0.2)) as (_, port):
        silent = Wire(port)
        assert silent.closed(), f"{UVICORN} ({http}): a silent connection stayed open"
        dribbling = Wire(port).send(b"GET / HTTP/1.1\r\nHost: x\r\n")
        dribbling.sock.settimeout(0.05)
        deadline = time.monotonic() + HANG_GUARD
        closed = False
        while not closed and time.monotonic() < deadline:
            try:
                dribbling.send(b"X: y\r\n")
                closed = dribbling.sock.recv(1) == b""
            except TimeoutError:
                pass
            except OSError:  # sent into a connection the server closed
                closed = True
        assert closed, f"{UVICORN} ({http}): a head sent a byte at a time was never cut off"
        idle = Wire(port)
        assert idle.send(head_of(100, "/k")).response()[::2] == (200, b"/k")
        assert idle.closed(), f"{UVICORN} ({http}): an idle keep-alive connection stayed open"
        early = Wire(port).send(b"PUT /early HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
        assert early.response()[::2] == (200, b"/early")
        early.send(b"body")  # the body, after its answer; then nothing
        assert early.closed(), f"{UVICORN} ({http}): idle after an early answer, kept open"


@pytest.mark.parametrize(("http", "loop"), PROTOCOLS)
def test_connections_over_the_cap_are_answered_503_in_their_paths_shape_and_closed(
    http: str, loop: str
) -> None:
    with served(Echo(), http, loop, limits(max_connections=2)) as (_, port):
        held = [Wire(port), Wire(port)]
        for wire in held:  # both open and answered: idle keep-alive connections count
            assert wire.send(head_of(100, "/held")).response()[0] == 200
        over = Wire(port).send(b"GET /x/y?q=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, body = over.response()
        assert (status, body, headers["connection"]) == (503, b"503 /x/y", "close"), UVICORN
        assert over.closed()
        head = Wire(port).send(b"HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n")
        status, headers, _ = head.response(to_head=True)
        assert (status, headers["content-length"]) == (503, "6")
        assert head.closed(), "a HEAD's 503 came with a body"
        status, _, body = Wire(port).response()  # sends nothing: answered all the same
        assert (status, body) == (503, b"503 "), UVICORN
        for wire in held:  # those under the cap are still served
            assert wire.send(head_of(100, "/still")).response()[::2] == (200, b"/still")
        held[0].close()
        deadline = time.monotonic() + HANG_GUARD
        while (answer := Wire(port).send(head_of(100, "/in")).response())[0] == 503:
            assert time.monotonic() < deadline, f"{UVICORN} ({http}): a freed place never came"
        assert answer[::2] == (200, b"/in")


@pytest.mark.parametrize(("http", "loop"), PROTOCOLS)
def test_a_head_over_the_bound_behind_a_call_under_way_is_refused_after_its_answer(
    http: str, loop: str
) -> None:
    app = Echo()
    with served(app, http, loop, limits(head_bytes=4096)) as (_, port):
        wire = Wire(port).send(head_of(100, "/slow"))
        assert app.started.wait(HANG_GUARD)
        wire.send(head_of(5000, "/next", end=False))  # pipelined, never ended
        time.sleep(0.2)  # (not a measure: lets the server read it while the call runs)
        app.release.set()
        assert wire.response()[::2] == (200, b"/slow"), f"{UVICORN} ({http})"
        assert wire.response()[::2] == (431, b"431 /next"), f"{UVICORN} ({http})"
        assert wire.closed()


@pytest.mark.parametrize(
    ("head", "line"),
    [
        (b"GET /client/users?x=1 HTTP/1.1\r\nHost: x\r\n", ("GET", "/client/users")),
        (b"\r\nPUT /ccadmin/v1/profiles/se-1#f HTTP/1.1", ("PUT", "/ccadmin/v1/profiles/se-1")),
        (b"GET http://example.com/_emulator/health HTTP/1.1", ("GET", "/_emulator/health")),
        (b"GET /client/users/aaaaaaaa", ("GET", "/client/users/aaaaaaaa")),  # cut short
        (b"POS", ("POS", "")),
        (b"", ("", "")),
    ],
)
def test_the_request_line_of_a_head_as_far_as_it_came(head: bytes, line: tuple) -> None:
    assert uvicorn_seam.request_line(head) == line


def test_what_the_limits_override_is_still_there() -> None:
    """uvicorn_seam's protocols override these of uvicorn's: a rename would leave a bound
    silently unenforced."""
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for protocol, names in (
        (H11Protocol, ("connection_made", "data_received", "connection_lost")),
        (HttpToolsProtocol, ("on_headers_complete", "on_message_complete")),
    ):
        for name in (*names, "on_response_complete"):
            assert callable(getattr(protocol, name, None)), (
                f"{UVICORN}: {protocol.__name__}.{name} is gone"
            )
    assert "h11_max_incomplete_event_size" in inspect.signature(uvicorn.Config).parameters, (
        f"{UVICORN}: Config no longer takes h11_max_incomplete_event_size"
    )
