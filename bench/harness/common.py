"""What every part of the benchmark shares: paths, the log line, the time budget."""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
HOST = "127.0.0.1"
T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class Skip(Exception):
    """A measurement that cannot be made; the message is the reason recorded."""


def cpu_count() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# Servers on core 0, wrk (and the harness) on core 1, when there are two cores.
PINNED = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if PINNED else []


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


class Budget:
    """The run's wall-clock budget: a step that no longer fits is skipped, with the reason."""

    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def need(self, seconds: float, what: str) -> None:
        if self.left() < seconds:
            raise Skip(
                f"time budget: {what} needs ~{seconds:.0f} s, {max(self.left(), 0):.0f} s left"
            )
