"""A hang guard for hostile calls: while one client's call is under way, another client is
answered. It fails only on a hang (a call that holds the server's event loop), never on a
slow machine: no duration is asserted, only that the other client's answer comes within
GUARD seconds, a time no call the server is meant to take comes near.

The server is a process of its own (`profile-emulator serve`): a call that does hang it
fails the test, and the process is killed, instead of stalling the rest of the suite.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx

from tests.processes import SERVE, START_TIMEOUT, Served

GUARD = 20.0  # seconds; a check that backtracks over 1 MiB takes hours
T = TypeVar("T")


@contextmanager
def serve(folder: Path, *args: str) -> Iterator[Served]:
    """`profile-emulator serve` on a free port, killed at the end."""
    port_file, out, err = folder / "port", folder / "out.txt", folder / "err.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        proc = subprocess.Popen(
            [*SERVE, "--port", "0", "--port-file", str(port_file), "--quiet", *args],
            stdout=stdout,
            stderr=stderr,
        )
    served = Served(proc, port_file, out, err)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            assert proc.poll() is None, f"exited {proc.returncode}: {err.read_text()}"
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.02)
        served.port = int(port_file.read_text())
        yield served
    finally:
        proc.kill()
        proc.wait()


def answered_meanwhile(url: str, call: Callable[[], T], what: str) -> T:
    """``call()``'s result, sent from another thread; meanwhile another client asks
    `GET /_emulator/health` again and again, and each must be answered within GUARD."""
    with ThreadPoolExecutor(1) as pool, httpx.Client(base_url=url, timeout=GUARD) as other:
        future = pool.submit(call)
        asked = 0
        while asked == 0 or not future.done():
            try:
                answer = other.get("/_emulator/health")
            except httpx.TimeoutException:
                raise AssertionError(
                    f"another client went unanswered for {GUARD} s while {what} was under way"
                ) from None
            assert answer.status_code == 200, answer.text
            asked += 1
            time.sleep(0.01)  # leave the server's time to the call under test
        return future.result()
