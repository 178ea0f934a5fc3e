"""The data file's durability, off the event loop: a thread that fsyncs the SQLite WAL once
calls have committed to it (by default within ``SYNC_INTERVAL`` of a commit, one fsync for
every commit before it; at once with ``--fsync always``, answering the calls that wait for
it), and a second thread that copies the WAL into the database now and then (a
checkpoint), so it stays small. A checkpoint can take long (a large WAL, a slow disk): on a
thread of its own it never delays an fsync."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from emulator.files import describe, sync_folder

log = logging.getLogger("emulator.persistence")

SYNC_INTERVAL = 0.010  # default mode: an fsync starts at most this long after a commit
# (or at the end of the fsync under way, when that one takes longer): the power-cut window
# is this plus an fsync's own time
CHECKPOINT_EVERY = (1000, 1.0)  # the WAL is copied into the database after so many commits,
# or so many seconds after a commit: it stays small, and so does the last copy, at the stop


class Syncer:
    """Counts the commits (:meth:`committed`), fsyncs them from a thread of its own and
    checkpoints the WAL from another (:meth:`start`, :meth:`stop`). A failed fsync is logged
    and kept in ``error`` until one succeeds again; with ``always`` it ends the server
    instead, leaving the calls waiting unanswered: what reached the disk is unknown, so
    neither answer would be true."""

    _fsync: Callable[[int], None] = staticmethod(os.fsync)  # (a test's seam)
    _clock: Callable[[], float] = staticmethod(time.monotonic)  # (a test's seam)

    def __init__(
        self,
        path: Path,
        *,
        always: bool,
        connect: Callable[[Path], sqlite3.Connection],
    ) -> None:
        """``path``: the database (its WAL is ``path``-wal); ``connect``: a connection to it,
        for the checkpoints."""
        self.path, self.always = path, always
        self._connect = connect
        self.commits = self._synced = 0  # commits counted; fsynced (with ``always``)
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake, self._stop = threading.Event(), threading.Event()
        self._due = threading.Event()  # a checkpoint: so many commits made, or the stop
        self._checkpointed = 0  # the commits the last checkpoint copied (its thread's)
        self._threads: list[threading.Thread] = []
        self.error: str | None = None  # why the last fsync failed, until one succeeds

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._run, name="emulator-data-file", daemon=True),
            threading.Thread(target=self._checkpoints, name="emulator-checkpoint", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def committed(self) -> int:
        """One more commit, for the thread to fsync; its number (for :meth:`durable`)."""
        self.commits += 1
        if not self._wake.is_set():  # (set already while the thread waits out its interval)
            self._wake.set()
        return self.commits

    async def durable(self, seq: int) -> None:
        """Return once commit ``seq`` is fsynced (``always``)."""
        self._loop = asyncio.get_running_loop()  # set first: the thread reads it after _synced
        if seq > self._synced:
            future = self._loop.create_future()
            self._waiters.append((seq, future))
            await future

    def stop(self) -> str | None:
        """The last commits fsynced, the threads ended; why that fsync failed, or None."""
        self._stop.set()
        self._wake.set()
        self._due.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        return self.error

    def _run(self) -> None:
        """(The fsync thread.) Wait for a commit, fsync, and then for the next one no
        longer than ``SYNC_INTERVAL`` after this fsync *started*: a commit made while an
        fsync runs waits at most the interval (or that fsync) for the next one to start.
        Nothing else runs here: a checkpoint is the other thread's."""
        wal: int | None = None
        synced = 0
        while True:
            self._wake.wait()  # a commit, or the stop
            self._wake.clear()
            stopping = self._stop.is_set()  # stop() sets it, then wakes: one last fsync
            upto = self.commits
            began = None
            if upto > synced:
                began = self._clock()
                try:
                    if wal is None:
                        wal = os.open(f"{self.path}-wal", os.O_RDONLY | os.O_CLOEXEC)
                        sync_folder(self.path.parent)  # the WAL file itself, once
                    self._fsync(wal)
                    synced = upto
                    self._synced_to(upto, None)
                except OSError as exc:
                    self._synced_to(upto, f"syncing {self.path.name}-wal: {describe(exc)}")
                if upto - self._checkpointed >= CHECKPOINT_EVERY[0]:
                    self._due.set()
            if stopping:
                break
            if began is not None and not self.always:
                self._stop.wait(max(0.0, began + SYNC_INTERVAL - self._clock()))
        if wal is not None:
            os.close(wal)

    def _checkpoints(self) -> None:
        """(The checkpoint thread.) Copy the WAL into the database once so many commits
        have been made since the last copy, or a second after a commit."""
        checkpointer: sqlite3.Connection | None = None
        while True:
            self._due.wait(CHECKPOINT_EVERY[1])  # so many commits, the stop, or a second
            self._due.clear()
            if self._stop.is_set():  # the last copy is the stop's (Persistence.close)
                break
            upto = self.commits
            if upto > self._checkpointed:
                try:
                    checkpointer = checkpointer or self._connect(self.path)
                    checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
                    self._checkpointed = upto
                except sqlite3.Error as exc:
                    log.warning("%s: checkpoint: %s (the WAL keeps the writes)", self.path, exc)
        if checkpointer is not None:
            checkpointer.close()

    def _synced_to(self, upto: int, error: str | None) -> None:
        """(The thread's.) Report; answer the calls waiting, or end the server."""
        if error is not None and self.always and not self._stop.is_set():
            log.critical("%s: %s; the server stops (restart it to go on)", self.path, error)
            logging.shutdown()
            os._exit(1)
        if error != self.error:
            self.error = error
            log_status(self.path, error)
        if not self.always:
            return
        self._synced = upto  # before reading _loop, which durable() sets before this
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._answer, upto)
            except RuntimeError:
                pass  # the loop is closed: no call is left to answer

    def _answer(self, upto: int) -> None:
        waiting, self._waiters = self._waiters, []
        for seq, future in waiting:
            if seq > upto:
                self._waiters.append((seq, future))
            elif not future.done():
                future.set_result(None)


def log_status(path: Path, problem: str | None) -> None:
    """The data file's writes failing (why), or going through again (None)."""
    if problem is None:
        log.warning("%s: persisting again", path)
    else:
        log.error("%s: persistence failing: %s", path, problem)
