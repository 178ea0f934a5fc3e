"""Fixtures of the control API tests: the control client of the test's namespace, vendor
calls that succeed when no rule interferes, and raw-socket access for transport faults."""
from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from emulator.client import Emulator
from emulator.server import EmulatorServer

LOYALTY_PROFILE = "/client/users/seed-session-1/profile"
COMMERCE_PROFILE = "/ccadmin/v1/profiles/se-570031"
APP_KEY = "emulator-app-key"
VALID_UPDATE = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10",
                "gender": "F", "email": "ada@example.com", "postalZipCode": "H0H 0H0"}


@pytest.fixture
def emu(server: EmulatorServer, namespace: str) -> Iterator[Emulator]:
    """The control API of this test's namespace (the same one the `http` fixture uses)."""
    with Emulator(server.url, namespace) as emulator:
        yield emulator


def commerce_token(http: httpx.Client) -> str:
    response = http.post("/ccadmin/v1/login", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Bearer {APP_KEY}"})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def raw_request(port: int, request: bytes, timeout: float = 2.0) -> bytes:
    """Send raw bytes on a new connection; return everything read until the server closes.
    Raises ConnectionResetError on a reset and TimeoutError when nothing comes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def raw_get(path: str, namespace: str) -> bytes:
    return (f"GET {path} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: {namespace}\r\n"
            "Connection: close\r\n\r\n").encode()


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)


class H11Server(EmulatorServer):
    """The emulator under uvicorn's h11 protocol on the plain asyncio loop (the default
    server runs httptools on uvloop): transport faults must work on both."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        config = uvicorn.Config(self.app, host=self.host, port=self.port, http="h11",
                                loop="asyncio", log_level="warning", access_log=False,
                                lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="emulator-h11", daemon=True)


@pytest.fixture(scope="session")
def h11_server() -> Iterator[EmulatorServer]:
    with H11Server() as running:
        yield running
