"""The log lines of `profile-emulator serve`: text for people, JSON (one object a line) for machines.

Every record goes to stderr. The access log (logger ``emulator.access``, one record per vendor
call with the call's fields in ``record.access``) shows at INFO whatever ``--log-level`` says,
unless ``--quiet``; everything else shows from ``--log-level`` up. uvicorn's own access log
stays off: the emulator's names the namespace, the operation and the rule that acted.

    2025-05-01T09:30:00.125Z default loyalty.updateProfile 400 1.9ms rule=r-1
    2025-05-01T09:30:02.004Z team-a commerce.getProfile - 300000.4ms rule=r-2 fault=timeout
    2025-05-01T09:30:03.511Z WARNING emulator: ...

(`-` for the status: no response ever started, a transport fault.) Standard library only.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

LEVELS = ("critical", "error", "warning", "info", "debug")
FORMATS = ("text", "json")
ACCESS = "emulator.access"


def timestamp(epoch: float) -> str:
    """ISO 8601 in UTC to the millisecond: 2025-05-01T09:30:00.125Z."""
    seconds = int(epoch)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{int((epoch - seconds) * 1000):03d}Z"
    )


def access_line(call: dict[str, Any]) -> str:
    """One vendor call: time, namespace, api.operation, status, milliseconds, rule and fault."""
    what = (
        f"{call['api']}.{call['operation']}"
        if call.get("operation")
        else f"{call['api']} {call.get('method')} {call.get('path')}"
    )  # no route: what was asked
    status = "-" if call.get("status") is None else call["status"]
    line = f"{timestamp(call['at'])} {call['namespace']} {what} {status} {call['ms']:.1f}ms"
    if call.get("rule"):
        line += f" rule={call['rule']}"
    if call.get("fault"):
        line += f" fault={call['fault']}"
    return line


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        call = getattr(record, "access", None)
        if isinstance(call, dict):
            return access_line(call)
        line = (
            f"{timestamp(record.created)} {record.levelname} {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object a line. A vendor call: time, level, logger and the call's fields
    (namespace, api, operation, method, path, status, ms, rule, fault); any other record:
    time, level, logger, message (and exception, its traceback as text)."""

    def format(self, record: logging.LogRecord) -> str:
        call = getattr(record, "access", None)
        if isinstance(call, dict):
            out: dict[str, Any] = {
                "time": timestamp(call["at"]),
                "level": "info",
                "logger": record.name,
            }
            out.update((key, value) for key, value in call.items() if key != "at")
        else:
            out = {
                "time": timestamp(record.created),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
            if record.exc_info:
                out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(
    level: str = "warning", fmt: str = "text", quiet: bool = False, stream: TextIO | None = None
) -> Callable[[], None]:
    """Root logger at ``level`` to ``stream`` (stderr) in ``fmt``; the access log at INFO,
    or off when ``quiet`` (then the middleware does not even build its records). Returns
    what puts the loggers back as they were (for a caller that goes on afterwards)."""
    root, access = logging.getLogger(), logging.getLogger(ACCESS)
    saved = root.handlers[:], root.level, access.level
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    access.setLevel(logging.CRITICAL + 1 if quiet else logging.INFO)

    def restore() -> None:
        root.handlers[:], root_level, access_level = saved
        root.setLevel(root_level)
        access.setLevel(access_level)

    return restore
