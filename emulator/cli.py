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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

from emulator import logs
from emulator.control_cli import COMMANDS as CONTROL_COMMANDS
from emulator.files import write_atomically
from emulator.options import parser

# Connexion and the app are imported in main(), after the collector is paused.
BACKLOG = 2048  # uvicorn's default
# Files the process keeps open besides its connections (the listening socket, the event
# loop's, the data file's (SQLite: the database, its WAL), stdio, the specs it reads).
OWN_FILES = 64


class Refusal(Exception):
    """The emulator cannot start as asked: the message says why (exit status 2)."""


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
    if argv[:1] and argv[0] in CONTROL_COMMANDS:
        from emulator.control_cli import main as control

        return control(argv)
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
        # (Connexion's import warnings are silenced where it is imported: connexion_seam)
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
                cors_origins=tuple(args.cors_origin),
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
        print(f"profile-emulator listening on {url}\n{start_here(url)}", flush=True)

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


def start_here(url: str) -> str:
    """The lines under the start-up line: where a newcomer starts (openapi/control.yaml)."""
    return "\n".join(
        f"  {name:<10} {url}/_emulator/{path}"
        for name, path in (
            ("start:", ""),
            ("docs:", "docs"),
            ("dashboard:", "ui/"),
            ("health:", "health"),
        )
    )


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
