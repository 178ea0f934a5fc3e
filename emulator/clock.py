"""Time: ``Clock`` is the server's (``now()`` monotonic, for rule lifetimes and durations;
``wall()``, the epoch seconds a vendor writes in its tokens; ``wait()`` for delays and held
calls); ``ManualClock`` moves only when told, so a test can say how long a call was delayed
(and that it was still waiting) without reading a watch. ``NamespaceClock`` is one
namespace's virtual time: the server's, plus an offset that only the control API moves
forward (docs/decisions.md#16), so a test expires a token without waiting for it.
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

    def wall(self) -> float:
        return time.time()

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
        self._epoch = time.time()  # wall() starts at the real time and moves with now()
        self._timers: list[tuple[float, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self.asked: list[float] = []

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + self._now

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


class NamespaceClock:
    """One namespace's time: the server clock's, plus ``offset`` seconds that :meth:`advance`
    adds (never takes away). Rule lifetimes read :meth:`now`, token expiry :meth:`wall`;
    :meth:`sleep_until` ends at a moment of this clock, whether the server's time reaches it
    or an advance jumps past it."""

    def __init__(self, base: Clock) -> None:
        self.base = base
        self.offset = 0.0
        self._advanced: asyncio.Event | None = None  # made on the loop, by the first sleeper

    def now(self) -> float:
        return self.base.now() + self.offset

    def wall(self) -> float:
        return self.base.wall() + self.offset

    def advance(self, seconds: float) -> float:
        """Move this namespace's time on (``seconds`` >= 0); the offset after it. Called on
        the server's loop: the sleepers whose moment has come wake."""
        if seconds < 0:
            raise ValueError("a namespace's clock only moves forward")
        self.offset += seconds
        if self._advanced is not None:
            self._advanced.set()
            self._advanced = None
        return self.offset

    async def sleep_until(self, moment: float) -> None:
        """Return once :meth:`now` has reached ``moment``."""
        while (left := moment - self.now()) > 0:
            if self._advanced is None:
                self._advanced = asyncio.Event()
            await self.base.wait(left, self._advanced.wait())
