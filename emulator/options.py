"""The command line of `profile-emulator`: `serve`'s options, each checked as it is read
(a bad one: exit 2 with one line), and the commands `parity` and the control commands hand
over to their own parsers.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from emulator import __version__, logs
from emulator.control_cli import COMMANDS as CONTROL_COMMANDS
from emulator.engine import MAX_RULES
from emulator.journal import JOURNAL_BYTES, JOURNAL_SIZE
from emulator.persistence import MODES
from emulator.resources import FIXTURES_DIR
from emulator.runtime import MAX_NAMESPACES
from emulator.uvicorn_seam import HEAD_BYTES, HEAD_SECONDS, MAX_CONNECTIONS


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="profile-emulator")
    top.add_argument("--version", action="version", version=f"profile-emulator {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    commands.add_parser(  # (main() hands `parity ...` to emulator.parity.commands)
        "parity",
        help="compare the emulator with your tenant of the vendor: record, verify, config",
    )
    # (main() hands these to emulator.control_cli: one control API call each)
    for name, about in CONTROL_COMMANDS.items():
        commands.add_parser(name, help=about, add_help=False)
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (default 127.0.0.1: loopback only); any other "
        "needs --control-token or --insecure-control",
    )
    serve.add_argument(
        "--port",
        type=_port,
        default=8080,
        help="port to listen on (default 8080; 0: a free one, printed)",
    )
    serve.add_argument(
        "--port-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="write the port to PATH once listening (atomically; removed at exit)",
    )
    serve.add_argument(
        "--fixtures",
        type=Path,
        default=FIXTURES_DIR,
        metavar="DIR",
        help="fixtures folder: loyalty.yaml, commerce.yaml, scenarios/ (default: the shipped ones)",
    )
    serve.add_argument(
        "--data-file",
        type=Path,
        default=None,
        metavar="PATH",
        help="keep every namespace's state in this SQLite database across restarts "
        "(one server per file; the JSON file of an earlier version is moved into it)",
    )
    serve.add_argument(
        "--fsync",
        choices=MODES,
        default="batch",
        help="with --data-file: batch (default) starts an fsync of a write within 10 ms "
        "of its answer, a crash of the machine loses at most that plus the fsync's own "
        "time; always answers a write only once it is fsynced (slower writes)",
    )
    serve.add_argument(
        "--control-token",
        default=os.environ.get("EMULATOR_CONTROL_TOKEN"),
        help="require this token on /_emulator/* calls (health excepted), as "
        "'Authorization: Bearer TOKEN' or 'X-Emulator-Token: TOKEN' "
        "(default: $EMULATOR_CONTROL_TOKEN; none)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        type=_origin,
        default=[],
        metavar="ORIGIN",
        help="answer browser preflights from ORIGIN (e.g. http://localhost:3000) and add "
        "Access-Control-Allow-Origin for it; repeatable (default: none, CORS off)",
    )
    serve.add_argument(
        "--insecure-control",
        action="store_true",
        help="allow a non-loopback --host without a control token",
    )
    serve.add_argument(
        "--journal-size",
        type=_count,
        default=JOURNAL_SIZE,
        help=f"vendor calls kept in each namespace's journal (default {JOURNAL_SIZE})",
    )
    serve.add_argument(
        "--journal-bytes",
        type=_count,
        default=JOURNAL_BYTES,
        metavar="BYTES",
        help="bytes each namespace's journal may hold, oldest calls dropped first "
        f"(default {JOURNAL_BYTES}: 2 MiB; a body is kept up to 64 KiB)",
    )
    serve.add_argument(
        "--max-namespaces",
        type=_count,
        default=MAX_NAMESPACES,
        metavar="N",
        help="namespaces kept at once; a new one drops the least recently used "
        f"idle one, never 'default' (default {MAX_NAMESPACES}; 0: no cap)",
    )
    serve.add_argument(
        "--max-rules",
        type=_count,
        default=MAX_RULES,
        metavar="N",
        help=f"fault rules each namespace holds at once, spent and scenario ones included; "
        f"one more is answered 409 (default {MAX_RULES}; 0: no cap)",
    )
    serve.add_argument(
        "--webhook-host",
        action="append",
        default=[],
        metavar="HOST",
        help="a host beside loopback that OCC webhook subscribers may be on (repeat it for "
        "more; '*': any); without it, deliveries go to loopback URLs only",
    )
    serve.add_argument(
        "--max-head-bytes",
        type=_positive,
        default=HEAD_BYTES,
        metavar="BYTES",
        help="a request head (request line and header fields) over BYTES is answered 431 in "
        f"the API's error shape, and its connection closed (default {HEAD_BYTES}: 64 KiB)",
    )
    serve.add_argument(
        "--head-timeout",
        type=_seconds,
        default=HEAD_SECONDS,
        metavar="SECONDS",
        help="a connection whose request head is not whole SECONDS after it opened, or after "
        f"its last response, is closed (default {HEAD_SECONDS:g})",
    )
    serve.add_argument(
        "--max-connections",
        type=_count,
        default=MAX_CONNECTIONS,
        metavar="N",
        help="connections open at once, idle keep-alive ones included; one more is answered "
        f"503 in the API's error shape and closed (default {MAX_CONNECTIONS}; 0: no cap)",
    )
    serve.add_argument(
        "--log-level",
        type=str.lower,
        choices=logs.LEVELS,
        default="warning",
        help="least severe record shown (default warning); the access log is apart: see --quiet",
    )
    serve.add_argument(
        "--log-format",
        choices=logs.FORMATS,
        default="text",
        help="text (default) or json: one object a line",
    )
    serve.add_argument(
        "--quiet",
        action="store_true",
        help="no access log (one line per vendor call, on by default)",
    )
    return top


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if count < 0:
        raise argparse.ArgumentTypeError(f"not a whole number (0 or more): {count}")
    return count


def _positive(text: str) -> int:
    count = _count(text)
    if count == 0:
        raise argparse.ArgumentTypeError("not a whole number above 0: 0")
    return count


def _seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"not a number of seconds above 0: {text}")
    return seconds


def _origin(text: str) -> str:
    """A browser origin as browsers send it: scheme://host[:port], nothing after."""
    scheme, sep, rest = text.partition("://")
    if scheme not in ("http", "https") or not sep or not rest or any(c in rest for c in "/?#@ "):
        raise argparse.ArgumentTypeError(
            f"not an origin such as http://localhost:3000 (scheme://host[:port]): {text!r}"
        )
    return text


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {port}")
    return port
