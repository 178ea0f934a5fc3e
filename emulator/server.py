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
from typing import Any

import uvicorn

from emulator.app import FIXTURES_DIR, create_app
from emulator.uvicorn_seam import open_transports, running_tasks

DROPPED = "dropped at shutdown"  # the cancel message of calls still running after the grace


class _QuietDrop(logging.Filter):
    """uvicorn logs a cancelled call as 'Exception in ASGI application' with its traceback;
    a call the shutdown dropped on purpose is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (isinstance(exc, asyncio.CancelledError) and exc.args == (DROPPED,))


class Server(uvicorn.Server):
    """uvicorn's server, whose shutdown ends within about a second whatever calls are held.

    uvicorn stops accepting, closes idle connections, then waits for every call under way to
    finish; a `timeout` fault holds its call for minutes and a delay may last an hour. So after
    ``grace`` seconds the connections still open are closed (their clients see the connection
    drop, as when a real server goes away), which ends a held call at once, and calls still
    running a moment later (a delay) are cancelled. The lifespan shutdown, which flushes the
    data file, runs after that as usual. ``on_started(server)`` is called once it accepts.
    """

    def __init__(self, config: uvicorn.Config, *, grace: float = 0.5,
                 on_started: Callable[[Server], None] | None = None) -> None:
        super().__init__(config)
        self.grace = grace
        self.on_started = on_started
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietDrop) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(_QuietDrop())

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

    async def _drop_held_calls(self) -> None:
        await asyncio.sleep(self.grace)
        for transport in open_transports(self):
            transport.close()  # a held call reads http.disconnect and returns
        tasks = running_tasks(self)
        if tasks:
            _, running = await asyncio.wait(tasks, timeout=0.2)
            for task in running:
                task.cancel(DROPPED)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmulatorServer:
    """``with EmulatorServer() as server: server.url`` - a real uvicorn server, stopped on exit."""

    def __init__(self, fixtures: Path = FIXTURES_DIR, data_file: Path | None = None,
                 host: str = "127.0.0.1", port: int | None = None, **app_options: Any) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.app = create_app(fixtures, data_file, **app_options)
        config = uvicorn.Config(self.app, host=host, port=self.port, log_level="warning",
                                access_log=False, lifespan="on")
        self._server = Server(config)
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
