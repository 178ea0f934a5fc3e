"""Time as the fault engine sees it: ``now()`` for rule lifetimes, ``wait()`` for delays and
held calls. ``Clock`` is the real one; ``ManualClock`` moves only when told, so a test can
say how long a call was delayed (and that it was still waiting) without reading a watch.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any

_SLACK = 1e-9  # 0.299 s + 0.001 s ends a 0.3 s wait, whatever the float sums make of it


class Clock:
    """The real clock: monotonic seconds, and waits that end early when `until` returns."""

    def now(self) -> float:
        return time.monotonic()

    async def wait(self, seconds: float, until: Coroutine[Any, Any, Any] | None = None) -> bool:
        """Wait `seconds`, or less if `until` (a coroutine) returns first; True when it did."""
        if until is None:
            await asyncio.sleep(seconds)
            return False
        try:
            async with asyncio.timeout(seconds):
                await until
        except TimeoutError:
            return False
        return True


class ManualClock(Clock):
    """A clock that stands still until :meth:`advance`; for tests of delays and lifetimes.

    Every wait asked is recorded in :attr:`asked` (seconds, in order). ``advance`` may be
    called from any thread: it runs on the server's loop and returns once the waits it ended
    have been told.
    """

    def __init__(self) -> None:
        self._now = 0.0
        self._timers: list[tuple[float, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.asked: list[float] = []

    def now(self) -> float:
        return self._now

    @property
    def waiting(self) -> int:
        """How many waits have not ended yet."""
        with self._lock:
            return sum(1 for _, timer in self._timers if not timer.done())

    async def wait(self, seconds: float, until: Coroutine[Any, Any, Any] | None = None) -> bool:
        self._loop = asyncio.get_running_loop()
        timer: asyncio.Future[None] = self._loop.create_future()
        with self._lock:
            self.asked.append(seconds)
            self._timers.append((self._now + seconds, timer))
        watcher = asyncio.ensure_future(until) if until is not None else None
        try:
            done, _ = await asyncio.wait(
                {timer} if watcher is None else {timer, watcher},
                return_when=asyncio.FIRST_COMPLETED,
            )
            return watcher is not None and watcher in done
        finally:
            if watcher is not None and not watcher.done():
                watcher.cancel()
            with self._lock:
                self._timers = [(at, t) for at, t in self._timers if t is not timer]

    def advance(self, seconds: float) -> None:
        """Move time on by `seconds` and end the waits that are due."""
        if self._loop is None or not self._loop.is_running():
            self._now += seconds
            return
        asyncio.run_coroutine_threadsafe(self._advance(seconds), self._loop).result(timeout=10)

    async def _advance(self, seconds: float) -> None:
        self._now += seconds
        with self._lock:
            due = [
                timer for at, timer in self._timers if at <= self._now + _SLACK and not timer.done()
            ]
        for timer in due:
            timer.set_result(None)
        await asyncio.sleep(0)  # the woken waits run before advance() returns
