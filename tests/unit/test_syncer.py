"""The power-cut window's schedule (emulator/syncer.py): in the default mode a commit waits
for the next fsync to start at most ``SYNC_INTERVAL``, or the fsync under way, and nothing
else holds it back; the README promises the window (commit to fsync done) within 50 ms.

Time here is a fake clock the syncer reads and its pauses advance: no test waits for it."""

from __future__ import annotations

import sqlite3
import threading
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from emulator import syncer as syncer_module
from emulator.syncer import SYNC_INTERVAL, Syncer

README_WINDOW = 0.050  # README, "The data file": the default mode's power-cut window
HANG_GUARD = 10.0  # seconds; only a hang reaches it


class Stop(threading.Event):
    """The syncer's stop event, whose timed waits advance the fake clock instead of
    waiting."""

    def __init__(self, clock: list[float]) -> None:
        super().__init__()
        self.clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if not self.is_set() and timeout is not None:
            self.clock[0] += timeout
        return self.is_set()


def no_connection(path: Path) -> sqlite3.Connection:
    raise AssertionError("no checkpoint expected")


def a_syncer(tmp_path: Path, connect: Any = no_connection) -> Syncer:
    (tmp_path / "state.db-wal").touch()
    return Syncer(tmp_path / "state.db", always=False, connect=connect)


@pytest.mark.parametrize("fsync_takes", [0.002, 0.020, 0.045])
def test_a_commit_made_during_an_fsync_is_fsynced_by_the_next_one_in_time(
    tmp_path: Path, fsync_takes: float
) -> None:
    """The next fsync starts ``SYNC_INTERVAL`` after the last one *started* (or when it
    ends, if it took longer): the interval is not added to the fsync's own time."""
    clock = [100.0]
    syncer = a_syncer(tmp_path)
    syncer._clock = lambda: clock[0]  # type: ignore[method-assign]
    syncer._stop = Stop(clock)
    fsyncs: list[tuple[float, float]] = []  # (start, end) on the fake clock

    def fsync(fd: int) -> None:
        start = clock[0]
        syncer.committed()  # a call commits, and is answered, as this fsync starts
        clock[0] += fsync_takes
        fsyncs.append((start, clock[0]))
        if len(fsyncs) == 6:
            syncer._stop.set()
            syncer._wake.set()

    syncer._fsync = fsync  # type: ignore[method-assign]
    syncer.committed()
    syncer._run()  # on this thread, to the stop

    assert len(fsyncs) == 7  # the last, at once: the stop's, left out
    for (start, _), (_, covered) in pairwise(fsyncs[:-1]):
        window = covered - start  # for the commit made as `start`'s fsync began
        assert window == pytest.approx(max(SYNC_INTERVAL, fsync_takes) + fsync_takes)
    if fsync_takes <= 0.020:  # a disk that answers an fsync in 20 ms keeps the promise
        assert max(end - start for (start, _), (_, end) in pairwise(fsyncs[:-1])) <= README_WINDOW


def test_a_checkpoint_that_takes_long_does_not_hold_back_the_next_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(syncer_module, "CHECKPOINT_EVERY", (1, 1.0))  # one after each commit
    checkpointing, release = threading.Event(), threading.Event()
    fsynced = [threading.Event(), threading.Event()]

    class SlowCheckpoint:
        def execute(self, sql: str) -> None:
            assert sql.startswith("PRAGMA wal_checkpoint")
            checkpointing.set()
            release.wait(HANG_GUARD)

        def close(self) -> None:
            pass

    syncer = a_syncer(tmp_path, connect=lambda path: SlowCheckpoint())
    calls = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        fsynced[min(len(calls), 2) - 1].set()

    syncer._fsync = fsync  # type: ignore[method-assign]
    syncer.start()
    try:
        syncer.committed()
        assert fsynced[0].wait(HANG_GUARD)
        assert checkpointing.wait(HANG_GUARD)  # the checkpoint of that commit is under way
        syncer.committed()
        assert fsynced[1].wait(HANG_GUARD), "the fsync waited for the checkpoint"
        assert not release.is_set()  # (the checkpoint was still under way)
    finally:
        release.set()
        syncer.stop()
