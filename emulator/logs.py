"""The log lines of `profile-emulator serve`: text for people, JSON (one object a line) for machines.

Every record goes to stderr. The access log (logger ``emulator.access``, one line per vendor
call) shows whatever ``--log-level`` says, unless ``--quiet``; everything else shows from
``--log-level`` up. uvicorn's own access log stays off: the emulator's names the namespace,
the operation and the rule that acted.

    2025-05-01T09:30:00.125Z default loyalty.updateProfile 400 1.9ms rule=r-1
    2025-05-01T09:30:02.004Z team-a commerce.getProfile - 300000.4ms rule=r-2 fault=timeout
    2025-05-01T09:30:03.511Z WARNING emulator: ...

(`-` for the status: no response ever started, a transport fault.) The request path only
builds a call's fields (:class:`Access`); a thread of the log's own formats them and writes
them in batches (:class:`AccessWriter`). Standard library only.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TextIO

LEVELS = ("critical", "error", "warning", "info", "debug")
FORMATS = ("text", "json")
ACCESS = "emulator.access"
WRITE_EVERY = 0.05  # seconds: the access log's lines are written within this of their call
MAX_WAITING = 100_000  # lines waiting to be written; more are dropped (and counted) meanwhile


class Access(NamedTuple):
    """One vendor call, as the access log tells it."""

    at: float  # arrival, epoch seconds
    namespace: str
    api: str | None
    operation: str | None  # None: the call reached no operation
    method: str
    path: str
    status: int | None  # None: no response ever started (a transport fault)
    ms: float
    rule: str | None  # the fault rule that answered or broke the call
    fault: str | None  # the transport fault injected


def timestamp(epoch: float) -> str:
    """ISO 8601 in UTC to the millisecond: 2025-05-01T09:30:00.125Z."""
    seconds = int(epoch)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{int((epoch - seconds) * 1000):03d}Z"
    )


def access_line(call: Access) -> str:
    """One vendor call: time, namespace, api.operation, status, milliseconds, rule and fault."""
    what = (
        f"{call.api}.{call.operation}"
        if call.operation
        else f"{call.api} {call.method} {call.path}"
    )  # no route: what was asked
    status = "-" if call.status is None else call.status
    line = f"{timestamp(call.at)} {call.namespace} {what} {status} {call.ms:.1f}ms"
    if call.rule:
        line += f" rule={call.rule}"
    if call.fault:
        line += f" fault={call.fault}"
    return line


def access_json(call: Access) -> str:
    """One vendor call: time, level, logger and the call's fields (namespace, api, operation,
    method, path, status, ms, rule, fault)."""
    out: dict[str, Any] = {"time": timestamp(call.at), "level": "info", "logger": ACCESS}
    out.update(call._asdict())
    del out["at"]
    return json.dumps(out, ensure_ascii=False, default=str)


def _access(record: logging.LogRecord) -> Access | None:
    """The call of an access log record (its fields in ``record.access``), if it is one."""
    call = getattr(record, "access", None)
    return Access(**call) if isinstance(call, Mapping) else None


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        call = _access(record)
        if call is not None:
            return access_line(call)
        line = (
            f"{timestamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line. A vendor call: :func:`access_json`; any other record: time,
    level, logger, message (and exception, its traceback as text)."""

    def format(self, record: logging.LogRecord) -> str:
        call = _access(record)
        if call is not None:
            return access_json(call)
        out: dict[str, Any] = {
            "time": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class AccessWriter(logging.Handler):
    """The access log of `profile-emulator serve`: calls queued by the request path
    (:meth:`add`, nothing formatted there), formatted and written by a thread of its own, a
    batch at a time (one write each, within ``WRITE_EVERY`` of the call), and at the stop
    (:meth:`flush`; ``logging.shutdown`` flushes every handler). Records logged to it directly
    (the ``emulator.access`` logger's) join the queue as lines."""

    def __init__(self, stream: TextIO, formatter: logging.Formatter) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(formatter)
        self._stream = stream
        self._line: Callable[[Access], str] = (
            access_json if isinstance(formatter, JsonFormatter) else access_line
        )
        self._waiting: deque[Access | str] = deque()  # appends and pops are thread-safe
        self._dropped = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-access-log", daemon=True)
        self._thread.start()

    def add(self, call: Access | str) -> None:
        if len(self._waiting) < MAX_WAITING:
            self._waiting.append(call)
        else:  # the stream does not keep up (a pipe nobody reads): memory stays bounded
            self._dropped += 1

    def emit(self, record: logging.LogRecord) -> None:
        self.add(self.format(record))

    def flush(self) -> None:
        """Write what is waiting, in one write."""
        self.acquire()  # (the thread's flushes, and the one at the stop, one at a time)
        try:
            waiting, lines = self._waiting, []
            while waiting:
                call = waiting.popleft()
                lines.append(call if isinstance(call, str) else self._line(call))
            if self._dropped:
                dropped, self._dropped = self._dropped, 0
                lines.append(self._dropped_line(dropped))
            if lines:
                lines.append("")
                try:
                    self._stream.write("\n".join(lines))
                    self._stream.flush()
                except (OSError, ValueError):  # stderr closed or gone: nowhere to write
                    pass
        finally:
            self.release()

    def close(self) -> None:
        """The thread stopped, what is waiting written."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        super().close()

    def _run(self) -> None:
        while not self._stop.wait(WRITE_EVERY):
            self.flush()

    def _dropped_line(self, count: int) -> str:
        record = logging.LogRecord(
            ACCESS,
            logging.WARNING,
            __file__,
            0,
            "%d access log lines dropped: the log's stream did not keep up",
            (count,),
            None,
        )
        return self.format(record)


class AccessLog:
    """Where the request path hands each vendor call (:meth:`write`): to the batched writer
    when `profile-emulator serve` set one up (:func:`configure`), else to the
    ``emulator.access`` logger as a record whose ``access`` attribute holds the fields (an
    in-process server: the host's logging decides)."""

    def __init__(self) -> None:
        self.writer: AccessWriter | None = None
        self.logger = logging.getLogger(ACCESS)

    @property
    def on(self) -> bool:
        """Whether calls are logged at all (with ``--quiet``: no fields are even built)."""
        return self.logger.isEnabledFor(logging.INFO)

    def write(self, call: Access) -> None:
        writer = self.writer
        if writer is not None:
            writer.add(call)
        else:
            self.logger.info(
                "%s %s.%s %s",
                call.namespace,
                call.api,
                call.operation,
                call.status,
                extra={"access": call._asdict()},
            )


ACCESS_LOG = AccessLog()


def configure(
    level: str = "warning", fmt: str = "text", quiet: bool = False, stream: TextIO | None = None
) -> Callable[[], None]:
    """Root logger at ``level`` to ``stream`` (stderr) in ``fmt``; the access log at INFO
    through an :class:`AccessWriter` to the same stream, or off when ``quiet``. Returns what
    puts the loggers back as they were, the access log's last lines written (for a caller
    that goes on afterwards)."""
    root, access = logging.getLogger(), logging.getLogger(ACCESS)
    saved = root.handlers[:], root.level, access.handlers[:], access.level, access.propagate
    out = stream or sys.stderr
    formatter = JsonFormatter() if fmt == "json" else TextFormatter()
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    writer = None if quiet else AccessWriter(out, formatter)
    access.handlers[:] = [] if writer is None else [writer]
    access.propagate = writer is None
    access.setLevel(logging.CRITICAL + 1 if quiet else logging.INFO)
    ACCESS_LOG.writer = writer

    def restore() -> None:
        if writer is not None:
            writer.close()
        if ACCESS_LOG.writer is writer:
            ACCESS_LOG.writer = None
        root.handlers[:], root_level, access.handlers[:], access_level, propagate = saved
        root.setLevel(root_level)
        access.setLevel(access_level)
        access.propagate = propagate

    return restore
