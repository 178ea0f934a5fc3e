"""Run the emulator in a background thread on a free loopback port (tests, the pytest plugin)."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn

from emulator.app import FIXTURES_DIR, create_app


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
        self._server = uvicorn.Server(config)
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
