"""The access log's writer: the request path hands it a call's fields, a thread of its own
formats them and writes them in batches (one write each), and the stop writes what waits."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from emulator import logs
from emulator.logs import ACCESS_LOG, Access

CALL = Access(
    0.0, "ns", "loyalty", "getProfile", "GET", "/client/users/s/profile", 200, 1.26, None, None
)


class Writes(io.StringIO):
    """A stream that counts its writes."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream(monkeypatch: pytest.MonkeyPatch) -> Iterator[Writes]:
    """The CLI's logging to a counting stream, its writer's thread never due (the batches
    are written when a test says: at the stop)."""
    monkeypatch.setattr(logs, "WRITE_EVERY", 3600.0)
    out = Writes()
    restore = logs.configure("warning", "text", stream=out)
    try:
        yield out
    finally:
        restore()


def test_the_request_path_writes_nothing_and_the_stop_writes_one_batch(stream: Writes) -> None:
    assert ACCESS_LOG.on
    for n in range(100):
        ACCESS_LOG.write(CALL._replace(namespace=f"ns-{n}"))
    assert stream.writes == 0, "a line was written on the request path"
    assert ACCESS_LOG.writer is not None
    ACCESS_LOG.writer.close()  # as at the stop (restore, logging.shutdown)
    assert stream.writes == 1
    lines = stream.getvalue().splitlines()
    assert lines == [
        f"1970-01-01T00:00:00.000Z ns-{n} loyalty.getProfile 200 1.3ms" for n in range(100)
    ]


def test_json_lines_are_batched_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logs, "WRITE_EVERY", 3600.0)
    out = Writes()
    restore = logs.configure("warning", "json", stream=out)
    try:
        ACCESS_LOG.write(CALL)
        ACCESS_LOG.write(CALL._replace(status=None, rule="r-1", fault="timeout"))
    finally:
        restore()
    assert out.writes == 1
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert first == {
        "time": "1970-01-01T00:00:00.000Z",
        "level": "info",
        "logger": "emulator.access",
        "namespace": "ns",
        "api": "loyalty",
        "operation": "getProfile",
        "method": "GET",
        "path": "/client/users/s/profile",
        "status": 200,
        "ms": 1.26,
        "rule": None,
        "fault": None,
    }
    assert (second["status"], second["rule"], second["fault"]) == (None, "r-1", "timeout")


def test_lines_a_stream_cannot_take_are_dropped_and_counted(
    stream: Writes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stream that does not keep up (a pipe nobody reads) leaves the memory bounded."""
    monkeypatch.setattr(logs, "MAX_WAITING", 3)
    for _ in range(5):
        ACCESS_LOG.write(CALL)
    assert ACCESS_LOG.writer is not None
    ACCESS_LOG.writer.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 4, lines
    assert lines[-1].endswith(
        "WARNING emulator.access: 2 access log lines dropped: the log's stream did not keep up"
    )


def test_without_the_cli_a_call_is_a_record_of_the_access_logger() -> None:
    """An in-process server (the pytest plugin's): the host's logging decides."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger(logs.ACCESS)
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        assert ACCESS_LOG.writer is None and ACCESS_LOG.on
        ACCESS_LOG.write(CALL)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    [record] = records
    assert record.access == CALL._asdict()  # type: ignore[attr-defined]
