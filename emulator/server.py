"""uvicorn's server with a shutdown that held calls cannot stall, and a threaded one on a free
loopback port (tests, the pytest plugin)."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from emulator.app import FIXTURES_DIR, create_app
from emulator.transport import HELD
from emulator.uvicorn_seam import (
    HEAD_BYTES,
    HEAD_SECONDS,
    MAX_CONNECTIONS,
    Limits,
    open_transports,
    protocol,
    running_tasks,
)

if TYPE_CHECKING:
    from emulator.middleware import EmulatorApp

DROPPED = "dropped at shutdown"  # the cancel message of calls still running after the grace
# No vendor API speaks WebSocket: a request asking to upgrade is answered as the HTTP
# request it also is (uvicorn's ws="auto" handed it to the app as a websocket, which the
# app cannot accept: a 500), and uvicorn never imports a WebSocket library (~5 ms of the
# start-up).
WEBSOCKETS = "none"
# What uvicorn's HTTP protocols log, as warnings, for each request asking for an upgrade
# they do not make; the emulator answers it as a plain request, on purpose.
_UPGRADE_WARNINGS = ("Unsupported upgrade request.", "No supported WebSocket library detected.")


class _QuietDrop(logging.Filter):
    """uvicorn logs a cancelled call as 'Exception in ASGI application' with its traceback;
    a call the shutdown dropped on purpose is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, asyncio.CancelledError) and exc.args == (DROPPED,))


class _QuietUpgrade(logging.Filter):
    """uvicorn warns, twice, about each request asking to upgrade to a protocol it does not
    speak (with ``ws="none"``: every WebSocket handshake), advising to install a WebSocket
    library; the emulator serves HTTP only and answers such a request as HTTP."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno == logging.WARNING
            and isinstance(record.msg, str)
            and record.msg.startswith(_UPGRADE_WARNINGS)
        )


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown ends within 2 s whatever calls faults hold.

    uvicorn stops accepting, closes idle connections, then waits for every call under way to
    finish; a `timeout` fault holds its call for minutes and a delay may last an hour. So once
    the only calls left are ones a fault holds (``transport.HELD``), or after ``grace``
    seconds, the connections still open are closed (their clients see the connection drop,
    as when a real server goes away), which ends a held call at once, and calls still running
    a moment later are cancelled. Normal calls under way get that grace to finish. A second
    SIGTERM or Ctrl-C ends the grace at once (uvicorn's own second Ctrl-C would skip the
    lifespan shutdown, and with it the data file's flush: here the flush always runs).
    ``on_started(server)`` is called once it accepts.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        grace: float = 1.5,
        on_started: Callable[[Server], None] | None = None,
    ) -> None:
        super().__init__(config)
        self.grace = grace
        self.hurry = False  # a second signal: drop what is left now
        self.on_started = on_started
        uvicorn_log = logging.getLogger("uvicorn.error")
        for quiet in (_QuietDrop, _QuietUpgrade):
            if not any(isinstance(f, quiet) for f in uvicorn_log.filters):
                uvicorn_log.addFilter(quiet())

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        if self.started and self.on_started is not None:
            self.on_started(self)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        dropper = asyncio.create_task(self._drop_held_calls())
        try:
            await super().shutdown(sockets=sockets)
        finally:
            dropper.cancel()

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.should_exit:
            self.hurry = True
        super().handle_exit(sig, frame)
        self.force_exit = False  # a second Ctrl-C still flushes the data file

    async def _drop_held_calls(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.grace
        while loop.time() < deadline and not self.hurry:
            if all(task in HELD for task in running_tasks(self)):
                break  # the calls left (if any) are held by faults: no one waits for them
            await asyncio.sleep(0.02)
        for transport in open_transports(self):
            transport.close()  # a held call reads http.disconnect and returns
        tasks = running_tasks(self)
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=0.2)
            for task in running:
                task.cancel(DROPPED)


def config(
    app: EmulatorApp,
    *,
    head_bytes: int = HEAD_BYTES,
    head_seconds: float = HEAD_SECONDS,
    max_connections: int = MAX_CONNECTIONS,
    http: str = "auto",
    **options: Any,
) -> uvicorn.Config:
    """uvicorn's configuration for the emulator: HTTP only, the request heads and connections
    bounded (a head over ``head_bytes``: the API's 431; not whole within ``head_seconds``:
    closed; a connection over ``max_connections``, 0 for none: the API's 503), and
    ``options`` (uvicorn.Config's)."""
    limits = Limits(app.refusal, head_bytes, head_seconds, max_connections)
    return uvicorn.Config(app, ws=WEBSOCKETS, **protocol(limits, http), **options)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class EmulatorServer:
    """``with EmulatorServer() as server: server.url`` - a real uvicorn server, stopped on exit,
    with the limits ``profile-emulator serve`` has (``head_bytes``, ``head_seconds``,
    ``max_connections``: see ``config``)."""

    def __init__(
        self,
        fixtures: Path = FIXTURES_DIR,
        data_file: Path | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        *,
        head_bytes: int = HEAD_BYTES,
        head_seconds: float = HEAD_SECONDS,
        max_connections: int = MAX_CONNECTIONS,
        **app_options: Any,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(fixtures, data_file, **app_options)
        self._server = Server(
            config(
                self.app,
                head_bytes=head_bytes,
                head_seconds=head_seconds,
                max_connections=max_connections,
                host=host,
                port=self.port,
                log_level="warning",
                access_log=False,
                lifespan="on",
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="emulator", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> EmulatorServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
