"""A partner's webhook endpoint per test, on loopback, and the test's OCC session."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.subscriber import Subscriber, serving

UPDATE = (
    "production-updateProfile"  # the vendor's webhook id ("Use the REST API to configure webhooks")
)
SECRET = "partner-s3cret"


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    yield from serving()


def login(http: httpx.Client) -> httpx.Client:
    """Logged in to OCC with the application key (again after the clock moved past the
    token's lifetime)."""
    r = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return http


@pytest.fixture
def occ(http: httpx.Client) -> httpx.Client:
    """The test's client (its own namespace), logged in to OCC."""
    return login(http)


@pytest.fixture
def subscribed(occ: httpx.Client, subscriber: Subscriber) -> Subscriber:
    """The subscriber registered for production-updateProfile in the test's namespace."""
    r = occ.put(f"/_emulator/webhooks/{UPDATE}", json={"url": subscriber.url, "secret": SECRET})
    assert r.status_code == 200, r.text
    return subscriber


@pytest.fixture
def emulator(server: EmulatorServer, namespace: str) -> Iterator[Emulator]:
    """The Python client on the test's namespace."""
    with Emulator(server.url, namespace) as client:
        yield client
