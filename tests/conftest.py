"""Shared fixtures: one real emulator server per test session, a fresh namespace per test."""
from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from emulator.server import EmulatorServer


@pytest.fixture(scope="session")
def server() -> Iterator[EmulatorServer]:
    with EmulatorServer() as running:
        yield running


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def http(server: EmulatorServer, namespace: str) -> Iterator[httpx.Client]:
    """An HTTP client bound to this test's own namespace (fixture state, no faults)."""
    with httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": namespace},
                      timeout=10) as client:
        yield client
