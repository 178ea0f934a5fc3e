"""Shared fixtures: one real emulator server per test session, a fresh namespace per test."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.server import EmulatorServer
from tests.browser import CHROMIUM, FLAGS, missing_browser
from tests.processes import SERVE, START_TIMEOUT, Served


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that starts the emulator as a process of its own (the `serve` fixture) is slow:
    the quick run leaves it out, wherever it is."""
    for item in items:
        if "serve" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


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
    with httpx.Client(
        base_url=server.url, headers={"X-Emulator-Namespace": namespace}, timeout=10
    ) as client:
        yield client


@pytest.fixture
def serve(tmp_path: Path):
    """serve(*args, cwd=..., command=...) -> a started Served (port from its --port-file);
    every process is gone at the end of the test."""
    started: list[Served] = []

    def start(
        *args: str,
        cwd: Path | None = None,
        command: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> Served:
        name = uuid.uuid4().hex[:8]
        port_file = tmp_path / f"port-{name}"
        out, err = tmp_path / f"out-{name}.txt", tmp_path / f"err-{name}.txt"
        with out.open("w") as stdout, err.open("w") as stderr:  # files: a full pipe would block it
            proc = subprocess.Popen(
                [*(command or SERVE), "--port", "0", "--port-file", str(port_file), *args],
                cwd=cwd,
                env=env,
                stdout=stdout,
                stderr=stderr,
                text=True,
            )
        served = Served(proc, port_file, out, err)
        started.append(served)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            assert proc.poll() is None, f"exited {proc.returncode}: {err.read_text()}"
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.02)
        served.port = int(port_file.read_text())
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    reason = missing_browser()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser test cannot run: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=str(CHROMIUM),
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()
