"""Fixtures of the control API tests: the control client of the test's namespace, vendor
calls that succeed when no rule interferes, and raw-socket access for transport faults."""

from __future__ import annotations

import concurrent.futures
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from emulator.client import Emulator
from emulator.clock import ManualClock
from emulator.server import EmulatorServer, config

LOYALTY_PROFILE = "/client/users/seed-session-1/profile"
COMMERCE_PROFILE = "/ccadmin/v1/profiles/se-570031"
APP_KEY = "emulator-app-key"
VALID_UPDATE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}


@pytest.fixture
def emu(server: EmulatorServer, namespace: str) -> Iterator[Emulator]:
    """The control API of this test's namespace (the same one the `http` fixture uses)."""
    with Emulator(server.url, namespace) as emulator:
        yield emulator


def commerce_token(http: httpx.Client) -> str:
    response = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Bearer {APP_KEY}"},
    )
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
    return (
        f"GET {path} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: {namespace}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()


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
        h11 = config(
            self.app,
            host=self.host,
            port=self.port,
            http="h11",
            loop="asyncio",
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        self._server = uvicorn.Server(h11)
        self._thread = threading.Thread(target=self._server.run, name="emulator-h11", daemon=True)


@pytest.fixture(scope="session")
def h11_server() -> Iterator[EmulatorServer]:
    with H11Server() as running:
        yield running


@pytest.fixture(scope="session")
def clocked_server() -> Iterator[EmulatorServer]:
    """A server whose fault engine runs on a ManualClock: delays, held calls and rule
    lifetimes end when a test moves the clock on, never by the wall clock."""
    with EmulatorServer(clock=ManualClock()) as running:
        yield running


@dataclass
class Clocked:
    """A test's namespace on the clocked server: its control client, an HTTP client, the
    clock, and calls started in the background (they wait on the clock)."""

    server: EmulatorServer
    emu: Emulator
    http: httpx.Client
    clock: ManualClock
    pool: concurrent.futures.ThreadPoolExecutor

    def start(
        self, method: str, path: str, **options: Any
    ) -> concurrent.futures.Future[httpx.Response]:
        """The call, sent from another thread, once the clock holds one more wait for it."""
        before = self.clock.waiting
        call = self.pool.submit(self.http.request, method, path, **options)
        wait_for(lambda: self.clock.waiting > before or call.done())
        return call


@pytest.fixture
def clocked(clocked_server: EmulatorServer, namespace: str) -> Iterator[Clocked]:
    clock = clocked_server.app.runtime.clock
    assert isinstance(clock, ManualClock)
    clock.asked.clear()
    with (
        Emulator(clocked_server.url, namespace) as emulator,
        httpx.Client(
            base_url=clocked_server.url, headers={"X-Emulator-Namespace": namespace}, timeout=10
        ) as http,
        concurrent.futures.ThreadPoolExecutor(4) as pool,
    ):
        yield Clocked(clocked_server, emulator, http, clock, pool)
