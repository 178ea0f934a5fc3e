"""`profile-emulator serve`: run the emulator with uvicorn.

Exit status: 0 after a clean stop (SIGTERM, Ctrl-C), 2 when it cannot start as asked (a bad
option, a port in use, fixtures or a data file it cannot use, or one another server uses),
with one line saying why; 1 when the data file's last writes could not be fsynced at the stop
(one line says why), or when an fsync failed with ``--fsync always`` (the server stops then).
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import signal
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from emulator import logs
from emulator.files import write_atomically
from emulator.resources import FIXTURES_DIR

# Light on purpose: the heavy imports (Connexion, uvicorn, the app) happen in main(), after
# the collector is paused, and `--help` answers without them.
JOURNAL_SIZE = 1000  # emulator.journal.JOURNAL_SIZE (a test keeps these equal)
JOURNAL_BYTES = 2 * 1024 * 1024  # emulator.journal.JOURNAL_BYTES
MAX_NAMESPACES = 1000  # emulator.runtime.MAX_NAMESPACES
MAX_RULES = 1000  # emulator.engine.MAX_RULES
BACKLOG = 2048  # uvicorn's default
HEAD_BYTES = 64 * 1024  # emulator.uvicorn_seam.HEAD_BYTES
HEAD_SECONDS = 10.0  # emulator.uvicorn_seam.HEAD_SECONDS
MAX_CONNECTIONS = 1000  # emulator.uvicorn_seam.MAX_CONNECTIONS
# Files the process keeps open besides its connections (the listening socket, the event
# loop's, the data file's (SQLite: the database, its WAL), stdio, the specs it reads).
OWN_FILES = 64
FSYNC_MODES = ("batch", "always")  # emulator.persistence.MODES (a test keeps the two equal)


class Refusal(Exception):
    """The emulator cannot start as asked: the message says why (exit status 2)."""


class _Version(argparse.Action):
    """--version, read from the installed distribution's metadata only when asked."""

    def __init__(self, option_strings: list[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            default=argparse.SUPPRESS,
            help="print the installed version and exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("profile-emulator")
        except PackageNotFoundError:
            found = "(not installed)"
        print(f"profile-emulator {found}")  # on stdout, as argparse's own version action
        parser.exit()


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="profile-emulator")
    top.add_argument("--version", action=_Version)
    commands = top.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    commands.add_parser(  # (main() hands `parity ...` to emulator.parity.commands)
        "parity",
        help="compare the emulator with your tenant of the vendor: record, verify, config",
    )
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
        choices=FSYNC_MODES,
        default="batch",
        help="with --data-file: batch (default) fsyncs a write within 25 ms of its "
        "answer, a crash of the machine loses at most that; always answers "
        "a write only once it is fsynced (slower writes)",
    )
    serve.add_argument(
        "--control-token",
        default=os.environ.get("EMULATOR_CONTROL_TOKEN"),
        help="require this token on /_emulator/* calls (health excepted), as "
        "'Authorization: Bearer TOKEN' or 'X-Emulator-Token: TOKEN' "
        "(default: $EMULATOR_CONTROL_TOKEN; none)",
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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"not a port number (0-65535): {port}")
    return port


def run() -> NoReturn:
    """The command (``profile-emulator``, ``python -m emulator.cli``): :func:`main`, then the
    process ends at once. A clean stop has closed the data file and the logs are flushed;
    what is left is freeing the state object by object and the interpreter's last
    collection, over a second with 600 MB of it, which nothing needs."""
    kept: list[Any] = []  # the server, and through it the state: not freed before the end
    status = main(keep=kept)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def main(argv: list[str] | None = None, *, keep: list[Any] | None = None) -> int:
    """Serve as ``argv`` asks; the exit status. ``keep``: the server is left in it."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["parity"]:  # a parser of its own, imported only when asked for
        from emulator.parity.commands import main as parity

        return parity(argv[1:])
    args = parser().parse_args(argv)
    running: list[Any] = [] if keep is None else keep  # the uvicorn server, once there is one

    def on_signal(signum: int, frame: Any) -> None:
        # Only until uvicorn's own handlers are in place, and when uvicorn raises the signal
        # it handled again after its shutdown: stop now if still starting, else let it stop.
        if not running:
            raise SystemExit(0)
        running[0].should_exit = True

    # (main() may also be called in a process that goes on: its handlers and loggers are
    # put back on the way out.)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = (
        {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        if in_main_thread
        else {}
    )
    undo: list[Callable[[], None]] = []
    try:
        return _serve(args, running, undo)
    except Refusal as exc:
        print(f"profile-emulator: {exc}", file=sys.stderr)
        return 2
    finally:
        for restore in undo:
            restore()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _serve(args: argparse.Namespace, running: list[Any], undo: list[Callable[[], None]]) -> int:
    # Relative paths are the caller's: from the working directory it started us in.
    fixtures = args.fixtures.absolute()
    data_file = args.data_file.absolute() if args.data_file else None
    port_file = args.port_file.absolute() if args.port_file else None
    insecure = not args.control_token and not _is_loopback(args.host)
    if insecure and not args.insecure_control:
        raise Refusal(
            f"--host {args.host} is reachable from other machines: give "
            "--control-token TOKEN (or set EMULATOR_CONTROL_TOKEN) to protect "
            "/_emulator/, or --insecure-control to run without one"
        )
    if not fixtures.exists():
        raise Refusal(f"--fixtures {fixtures}: no such folder")
    if not fixtures.is_dir():
        raise Refusal(f"--fixtures {fixtures}: not a folder")
    if data_file is not None and data_file.exists() and not data_file.is_file():
        raise Refusal(f"--data-file {data_file}: not a file")
    if port_file is not None and not port_file.parent.is_dir():
        raise Refusal(f"--port-file {port_file}: no such folder {port_file.parent}")
    undo.append(logs.configure(args.log_level, args.log_format, args.quiet))

    # Start-up builds about a million objects that live as long as the process (modules,
    # specs, validators, fixtures). Collecting while they are built is wasted work (a fifth
    # of the start-up time); afterwards they are frozen out of the collector's sight, so a
    # full collection never walks them again mid-request (at 16 connections that was the
    # whole of the p99 tail).
    gc.disable()
    try:
        with warnings.catch_warnings():
            # Connexion imports starlette.testclient, which warns about httpx on import.
            warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
            from emulator.app import create_app
            from emulator.fixtures import FixtureError
            from emulator.server import Server, config
            from emulator.vendors import VENDORS

        wanted = [f"{vendor.name}.yaml" for vendor in VENDORS]
        if not any((fixtures / name).is_file() for name in wanted):
            raise Refusal(
                f"--fixtures {fixtures}: holds no vendor fixtures (none of {', '.join(wanted)})"
            )
        try:
            app = create_app(
                fixtures,
                data_file,
                control_token=args.control_token,
                journal_size=args.journal_size,
                journal_bytes=args.journal_bytes,
                max_namespaces=args.max_namespaces,
                max_rules=args.max_rules,
                fsync=args.fsync,
                webhook_hosts=frozenset(args.webhook_host),
            )
        except FixtureError as exc:
            raise Refusal(str(exc)) from None
        gc.freeze()  # no collection first: what start-up threw away is a few MB, once
    finally:
        gc.enable()
    if insecure:
        print(
            f"profile-emulator: warning: {args.host} is reachable from other machines and "
            "/_emulator/ has no --control-token",
            file=sys.stderr,
        )

    sock = _bind(args.host, args.port)
    port = sock.getsockname()[1]
    url = f"http://{_url_host(args.host)}:{port}"

    def announce(_: Any) -> None:  # once uvicorn accepts on the socket
        if port_file is not None:
            _write_port_file(port_file, port)
        print(f"profile-emulator listening on {url}", flush=True)

    max_connections = _files_for(args.max_connections, undo)
    uvicorn_config = config(
        app,
        head_bytes=args.max_head_bytes,
        head_seconds=args.head_timeout,
        max_connections=max_connections,
        log_config=None,
        log_level=args.log_level,
        access_log=False,
        lifespan="on",
        proxy_headers=False,
        backlog=BACKLOG,
        timeout_graceful_shutdown=2,  # Server drops held calls before
    )
    server = Server(uvicorn_config, on_started=announce)
    running.append(server)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        if port_file is not None:
            _remove_port_file(port_file, port)
    if app.runtime.close_error is not None:
        print(f"profile-emulator: --data-file: {app.runtime.close_error}", file=sys.stderr)
        return 1
    return 0


def _files_for(connections: int, undo: list[Callable[[], None]]) -> int:
    """The connection cap the open-files limit holds: its soft limit is raised (up to the hard
    one) to hold ``connections`` and the process's own files, else the cap is lowered to what
    it holds, with a warning. 0 (no cap) is left as it is."""
    try:
        import resource
    except ImportError:  # no such limit on this platform
        return connections
    unlimited = resource.RLIM_INFINITY
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + OWN_FILES
    if not connections or soft == unlimited or soft >= wanted:
        return connections
    raised = wanted if hard == unlimited else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    except (ValueError, OSError):  # e.g. macOS, past its OPEN_MAX
        raised = soft
    else:
        undo.append(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    if raised >= wanted:
        return connections
    lowered = max(1, raised - OWN_FILES)
    print(
        f"profile-emulator: warning: --max-connections {connections} lowered to {lowered}: "
        f"the open-files limit is {raised} (ulimit -n)",
        file=sys.stderr,
    )
    return lowered


def _bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a Refusal naming them."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise Refusal(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not past a live listener
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        raise Refusal(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _write_port_file(path: Path, port: int) -> None:
    """The port, written whole: a reader sees the number or no file. Readable by all
    (mkstemp's 0600 would hide it from other users)."""
    write_atomically(path, lambda handle: handle.write(f"{port}\n"), encoding="ascii", mode=0o644)


def _remove_port_file(path: Path, port: int) -> None:
    """At exit, unless another server has written its own port there since."""
    try:
        if path.read_text(encoding="ascii").strip() == str(port):
            path.unlink()
    except OSError:
        pass


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    run()
