"""Memory and shutdown of a long-running emulator (issue 11): RSS after start, after 5,000
namespaces, after 1,000 rejected 1 MiB calls, and the exit time with 300 connections held
by `timeout` faults.

    .venv/bin/python bench/memory.py [--namespaces 5000] [--big-calls 1000] [--held 300]
                                     [--emulator-cmd 'CMD {port} {port_file}'] [--out FILE]

Each figure comes from a fresh server process (`profile-emulator serve`, no access log); RSS
is read from /proc/<pid>/status (VmRSS), so this runs on Linux only. A figure, not a test:
nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from harness import servers  # bench/ is the script's folder, first on sys.path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CMD = (
    f"{ROOT / '.venv' / 'bin' / 'profile-emulator'} serve --port 0 "
    "--port-file {port_file} --fixtures " + str(ROOT / "fixtures") + " --quiet"
)
PROFILE = "/client/users/seed-session-1/profile"  # fixtures/loyalty.yaml
MIB = 1024 * 1024


class Served:
    """One emulator process, started from the command template."""

    def __init__(self, template: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="bench-memory-"))
        port_file = self.folder / "port"
        command = shlex.split(template.format(port_file=port_file, port=0, python=sys.executable))
        self.proc = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=(self.folder / "stderr").open("w")
        )
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the emulator did not start: {(self.folder / 'stderr').read_text()}"
                )
            time.sleep(0.02)
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = httpx.Client(base_url=self.url, timeout=60)
        self.client.get("/_emulator/health").raise_for_status()

    def rss(self) -> float:
        rss = servers.rss_mb(self.proc.pid)
        if rss is None:
            raise RuntimeError(f"no VmRSS for process {self.proc.pid}")
        return rss

    def stop(self) -> None:
        self.client.close()
        servers.terminate(self.proc)


def namespaces(template: str, count: int) -> dict[str, Any]:
    """RSS after start, then after one routed call (GET profile) in each of `count` fresh
    namespaces, then after as many unrouted calls (404) in fresh namespaces."""
    served = Served(template)
    try:
        start = served.rss()
        for i in range(count):
            served.client.get(PROFILE, headers={"X-Emulator-Namespace": f"bench-{i}"})
        routed = served.rss()
        for i in range(count):
            served.client.get("/client/nowhere", headers={"X-Emulator-Namespace": f"lost-{i}"})
        unrouted = served.rss()
        status = served.client.get(PROFILE, headers={"X-Emulator-Namespace": "bench-0"}).status_code
    finally:
        served.stop()
    return {
        "rss_start_mb": round(start, 1),
        f"rss_after_{count}_namespaces_mb": round(routed, 1),
        "kb_per_namespace": round((routed - start) * 1024 / count, 1),
        f"rss_after_{count}_unrouted_calls_mb": round(unrouted, 1),
        "first_namespace_status_after": status,
    }


def big_calls(template: str, count: int) -> dict[str, Any]:
    """RSS after `count` calls each carrying a body just under the vendor's 1 MiB cap and
    refused by the vendor (a bad postal code: 400), all in one namespace."""
    served = Served(template)
    try:
        start = served.rss()
        filler = MIB - 400
        body = json.dumps(
            {
                "firstName": "x" * filler,
                "lastName": "Lovelace",
                "dateOfBirth": "1985-12-10",
                "gender": "F",
                "email": "ada@example.com",
                "postalZipCode": "nope",
            }
        ).encode()
        statuses: dict[int, int] = {}
        for _ in range(count):
            status = served.client.put(
                PROFILE, content=body, headers={"content-type": "application/json"}
            ).status_code
            statuses[status] = statuses.get(status, 0) + 1
        after = served.rss()
        journal = served.client.get("/_emulator/requests", params={"limit": 1})
        journal_bytes = len(served.client.get("/_emulator/requests").content)
    finally:
        served.stop()
    return {
        "rss_start_mb": round(start, 1),
        f"rss_after_{count}_big_calls_mb": round(after, 1),
        "body_bytes": len(body),
        "statuses": statuses,
        "journal_status": journal.status_code,
        "journal_listing_bytes": journal_bytes,
    }


def exit_time(template: str, held: int) -> dict[str, Any]:
    """`held` connections, each with a call a `timeout` fault holds, then SIGTERM: the time
    until the process has exited, and its exit status."""
    served = Served(template)
    socks = []
    served.client.post("/_emulator/faults", json={"fault": "timeout"}).raise_for_status()
    request = (f"GET {PROFILE} HTTP/1.1\r\nHost: emulator\r\n\r\n").encode()
    for _ in range(held):
        sock = socket.create_connection(("127.0.0.1", served.port))
        sock.sendall(request)
        socks.append(sock)
    # Wait until the server holds them all: each is a journaled call only once it ends, so
    # count the open connections of the process instead.
    deadline = time.monotonic() + 30
    while _open_sockets(served.proc.pid) < held and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # every request read and routed to its fault
    began = time.monotonic()
    served.proc.send_signal(signal.SIGTERM)
    try:
        status = served.proc.wait(timeout=60)
        seconds = time.monotonic() - began
    except subprocess.TimeoutExpired:
        served.proc.kill()
        served.proc.wait()
        status, seconds = None, None
    for sock in socks:
        sock.close()
    served.client.close()
    return {
        "held_connections": held,
        "exit_seconds": None if seconds is None else round(seconds, 3),
        "exit_status": status,
    }


def _open_sockets(pid: int) -> int:
    try:
        return sum(
            1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd).startswith("socket:")
        )
    except OSError:
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--namespaces", type=int, default=5000)
    parser.add_argument("--big-calls", type=int, default=1000)
    parser.add_argument("--held", type=int, default=300)
    parser.add_argument(
        "--emulator-cmd",
        default=DEFAULT_CMD,
        help="command template; {port_file} is where it writes its port "
        "(default: this checkout's profile-emulator serve)",
    )
    parser.add_argument(
        "--only",
        default="namespaces,big_calls,exit",
        help="which figures (comma-separated: namespaces, big_calls, exit)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    steps = {
        "namespaces": lambda: namespaces(args.emulator_cmd, args.namespaces),
        "big_calls": lambda: big_calls(args.emulator_cmd, args.big_calls),
        "exit": lambda: exit_time(args.emulator_cmd, args.held),
    }
    result: dict[str, Any] = {}
    for name in args.only.split(","):
        result[name] = steps[name]()
        print(json.dumps({name: result[name]}), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
