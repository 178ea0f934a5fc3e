#!/usr/bin/env python3
"""HTTP abuse bench: what slow connections and an endless header do to the other clients.

    .venv/bin/python bench/http_abuse.py [--before CHECKOUT] [--rounds 3] [--seconds 10]
    python3 dev.py bench http-abuse [same options]

For each emulator (`--before CHECKOUT`: another checkout's, run with this checkout's
interpreter, e.g. `git worktree add /tmp/before main`; `after`: this checkout's) and each
phase, it starts `python -m emulator.cli serve --quiet` pinned to core 0, lets the attackers
(one process, asyncio, on core 1) settle for 3 s, then measures the other clients with wrk
(core 1, one thread, 16 keep-alive connections, `GET` of a loyalty profile) for `--seconds`:

- `quiet`: no attacker;
- `slow`: `--slow` connections (500) that each send a request line, then a header line a
  second, never ending their head (reconnecting when the server closes one);
- `endless`: one connection that sends a request line, then one header's value as fast as
  the server takes it (reconnecting when the server answers or closes);
- `both`: the two at once (the case README's "HTTP limits" answers for).

Each phase gets a fresh server; the servers alternate within a round, the first changing
from round to round, and each figure is the median of the rounds (max: the worst). Figures:
the clients' req/s, p50, p99, max, non-2xx answers and socket errors; the server's CPU per
request served, its RSS before the phase and its peak during it (sampled every 100 ms), its
CPU share and the attackers' while the clients were measured; what the attackers saw (what
the endless header sent, the answers it got: `closed` is a 431 lost to the reset of a
connection closed with unread bytes; the slow connections the server closed). Figures go
to stdout and, as JSON, to --out. Nothing here is a test: bench/README.md keeps the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from harness import load, servers  # bench/ is the script's folder, first on sys.path
from harness.common import HOST, REPO, log, pin

PATH = "/client/users/seed-session-1/profile"
PHASES = ("quiet", "slow", "endless", "both")
SETTLE = 3.0  # seconds the attackers get before the clients are measured
START_TIMEOUT = 60.0


# --- the attackers (a process of their own: `--attack PORT`)


async def slow_client(port: int, stats: dict[str, Any], stop: asyncio.Event) -> None:
    """A head that never ends: a request line, then a header line a second."""
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            stats["slow_connect_errors"] += 1
            await asyncio.sleep(0.5)
            continue
        stats["slow_connections"] += 1
        try:
            writer.write(f"GET {PATH} HTTP/1.1\r\nHost: emulator\r\n".encode())
            while not stop.is_set():
                try:
                    data = await asyncio.wait_for(reader.read(4096), 1.0)
                except TimeoutError:
                    writer.write(b"X-Slow: 1\r\n")
                    await writer.drain()
                    continue
                stats["slow_closed_by_server"] += 1
                if data:
                    stats["slow_answers"][data[9:12].decode("latin-1")] += 1
                break
        except OSError:
            stats["slow_closed_by_server"] += 1
        finally:
            writer.close()
        await asyncio.sleep(0.1)


async def endless_client(port: int, stats: dict[str, Any], stop: asyncio.Event) -> None:
    """One header's value, sent as fast as the server takes it, never ended."""
    chunk = b"e" * 65536
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        # A small send buffer: what it sends goes to the server, not into the kernel's buffers
        # (which would cost this process's core, wrk's, the copying of megabytes a connection).
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, len(chunk))
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, (HOST, port))
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError:
            sock.close()
            await asyncio.sleep(0.5)
            continue
        stats["endless_connections"] += 1
        answer = asyncio.ensure_future(reader.read(4096))
        try:
            writer.write(f"PUT {PATH} HTTP/1.1\r\nHost: emulator\r\nX-Endless: ".encode())
            while not stop.is_set() and not answer.done():
                writer.write(chunk)
                await writer.drain()
                stats["endless_bytes"] += len(chunk)
        except OSError:
            pass
        try:
            data = await asyncio.wait_for(answer, 1.0)
        except (TimeoutError, OSError):
            data = b""
        status = data[9:12].decode("latin-1") if data else "closed"
        stats["endless_answers"][status] = stats["endless_answers"].get(status, 0) + 1
        writer.close()


async def attack(port: int, slow: int, endless: int, seconds: float) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "slow_connections": 0,
        "slow_connect_errors": 0,
        "slow_closed_by_server": 0,
        "slow_answers": _Counter(),
        "endless_connections": 0,
        "endless_bytes": 0,
        "endless_answers": {},
    }
    stop = asyncio.Event()
    tasks = [asyncio.ensure_future(slow_client(port, stats, stop)) for _ in range(slow)]
    tasks += [asyncio.ensure_future(endless_client(port, stats, stop)) for _ in range(endless)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait(tasks, timeout=5)
    for task in tasks:
        task.cancel()
    return stats


class _Counter(dict):  # type: ignore[type-arg]
    def __missing__(self, key: str) -> int:
        return 0


# --- the phases


def start_server(name: str, root: Path, logs: Path) -> servers.Server:
    port = servers.free_port()
    argv = [
        *pin(0),
        sys.executable,
        "-P",  # not the working directory's emulator: the one on PYTHONPATH, root's
        "-m",
        "emulator.cli",
        "serve",
        "--port",
        str(port),
        "--fixtures",
        str(root / "fixtures"),
        "--quiet",
    ]
    env = {**os.environ, "PYTHONPATH": str(root)}
    server = servers.Server(name, argv, port, "/_emulator/health", logs, env=env)
    return server.start(START_TIMEOUT)


def run_phase(
    name: str, root: Path, phase: str, args: argparse.Namespace, logs: Path
) -> dict[str, Any]:
    server = start_server(f"{name}-{phase}", root, logs)
    try:
        return measure(server, phase, args)
    finally:
        server.stop()


def measure(server: servers.Server, phase: str, args: argparse.Namespace) -> dict[str, Any]:
    rss_before = server.rss_mb()
    slow = args.slow if phase in ("slow", "both") else 0
    endless = 1 if phase in ("endless", "both") else 0
    attacker = None
    if slow or endless:
        attacker = subprocess.Popen(
            [
                *pin(1),
                sys.executable,
                __file__,
                "--attack",
                str(server.port),
                "--slow",
                str(slow),
                "--endless",
                str(endless),
                "--attack-seconds",
                str(SETTLE + args.seconds + 1),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(SETTLE)
    peak = [rss_before or 0.0]
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.1):
            rss = server.rss_mb()
            if rss is not None:
                peak[0] = max(peak[0], rss)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu = [servers.cpu_seconds(pid) or 0.0 for pid in (server.proc.pid, attacker_pid(attacker))]
    began = time.monotonic()
    try:
        request = load.Req("GET", PATH, {"X-Emulator-Namespace": "bench"})
        clients = load.run(server.url, request, args.connections, args.seconds)
    except Exception as exc:  # wrk gave nothing: the clients were not served at all
        clients = {"error": str(exc)}
    finally:
        sampling.set()
        sampler.join()
    wall = time.monotonic() - began
    server_cpu, attacker_cpu = (
        round(((servers.cpu_seconds(pid) or 0.0) - used) / wall, 2)
        for pid, used in zip((server.proc.pid, attacker_pid(attacker)), cpu, strict=True)
    )
    attackers = None
    if attacker is not None:
        out, _ = attacker.communicate(timeout=args.seconds + SETTLE + 60)
        attackers = json.loads(out.strip().splitlines()[-1]) if out.strip() else None
    return {
        "phase": phase,
        "clients": clients,
        "rss_mb_before": rss_before,
        "rss_mb_peak": peak[0],
        "attackers": attackers,
        "server_cpu": server_cpu,  # CPU seconds a second while the clients were measured
        "attackers_cpu": attacker_cpu if attacker is not None else None,
    }


def attacker_pid(attacker: subprocess.Popen[str] | None) -> int:
    return attacker.pid if attacker is not None else -1


def summary(cells: list[dict[str, Any]]) -> dict[str, Any]:
    """One (server, phase) over its rounds: the clients' figures the median of the rounds'
    (max: the worst), errors summed, the RSS peak the highest, the attackers' counts summed."""
    served = [c["clients"] for c in cells if "error" not in c["clients"]]
    out: dict[str, Any] = {"rounds": len(cells), "not_served": len(cells) - len(served)}
    for key in ("rps", "p50_ms", "p99_ms"):
        out[key] = statistics.median(c[key] for c in served) if served else None
    out["p99_ms_rounds"] = [c["p99_ms"] for c in served]
    # The least disturbed round: the one where the server had the most CPU (this VM is
    # shared: in a round where other work takes the core, every figure moves).
    calm = max(cells, key=lambda c: c["server_cpu"])
    out["calmest"] = {
        key: calm["clients"].get(key) for key in ("rps", "p50_ms", "p99_ms", "max_ms")
    } | {"server_cpu": calm["server_cpu"], "rss_mb_peak": calm["rss_mb_peak"]}
    out["max_ms"] = max((c["max_ms"] for c in served), default=None)
    out["errors"] = sum(c["status_4xx_5xx"] + c["socket_errors"] for c in served)
    out["server_cpu"] = statistics.median(c["server_cpu"] for c in cells)
    per_request = [
        c["server_cpu"] / c["clients"]["rps"] * 1e6 for c in cells if c["clients"].get("rps")
    ]
    out["cpu_us_per_req"] = round(statistics.median(per_request), 1) if per_request else None
    out["attackers_cpu"] = statistics.median(c["attackers_cpu"] or 0 for c in cells)
    out["rss_mb_before"] = statistics.median(c["rss_mb_before"] or 0 for c in cells)
    out["rss_mb_peak"] = max(c["rss_mb_peak"] for c in cells)
    attackers = [c["attackers"] for c in cells if c["attackers"]]
    out["endless_mib_sent"] = round(sum(a["endless_bytes"] for a in attackers) / 2**20, 1)
    answers: dict[str, int] = {}
    for a in attackers:
        for status, count in a["endless_answers"].items():
            answers[status] = answers.get(status, 0) + count
    out["endless_answers"] = answers
    out["slow_closed_by_server"] = sum(a["slow_closed_by_server"] for a in attackers)
    return out


def row(name: str, phase: str, s: dict[str, Any]) -> str:
    if s["rps"] is None:
        served = f"{'not served':>50}"
    else:
        served = (
            f"{s['rps']:>8.0f} {s['p50_ms']:>8.2f} {s['p99_ms']:>8.2f} {s['max_ms']:>9.1f} "
            f"{s['errors']:>6} {s['cpu_us_per_req']:>6.0f}"
        )
    endless = (
        f"{s['endless_mib_sent']:>8.1f} {json.dumps(s['endless_answers'])}"
        if s["endless_answers"]
        else ""
    )
    closed = f" slow closed: {s['slow_closed_by_server']}" if phase in ("slow", "both") else ""
    rounds = "/".join(f"{p:.1f}" for p in s["p99_ms_rounds"])
    return (
        f"{name:<7} {phase:<8} {served} {s['rss_mb_before']:>6.0f} {s['rss_mb_peak']:>6.0f} "
        f"{s['server_cpu']:>5.2f} {s['attackers_cpu']:>5.2f}  p99s {rounds}{closed}  {endless}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another checkout, measured too")
    parser.add_argument("--seconds", type=int, default=10, help="wrk's run per phase")
    parser.add_argument("--rounds", type=int, default=3, help="rounds, the servers alternating")
    parser.add_argument("--slow", type=int, default=500, help="slow connections")
    parser.add_argument("--connections", type=int, default=16, help="wrk's connections")
    parser.add_argument("--phases", default=",".join(PHASES))
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/http-abuse.json")
    parser.add_argument("--attack", type=int, help=argparse.SUPPRESS)  # the attackers' port
    parser.add_argument("--endless", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--attack-seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.attack:
        stats = asyncio.run(attack(args.attack, args.slow, args.endless, args.attack_seconds))
        print(json.dumps(stats), flush=True)
        return 0
    if shutil.which("wrk") is None:
        print("http_abuse: wrk is needed: bash bench/setup.sh installs it", file=sys.stderr)
        return 2
    roots = [("before", args.before.resolve())] if args.before else []
    roots.append(("after", REPO))
    phases = args.phases.split(",")
    cells: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="http-abuse-") as work:
        for turn in range(args.rounds):
            for phase in phases:
                # The servers alternate, and which goes first changes from round to round:
                # the machine's drift falls on both sides.
                for name, root in roots[turn % 2 :] + roots[: turn % 2]:
                    cell = run_phase(name, root, phase, args, Path(work) / "logs")
                    cells.setdefault((name, phase), []).append(cell)
                    c = cell["clients"]
                    log(
                        f"round {turn + 1} {name} {phase}: "
                        + (
                            c.get("error")
                            or (
                                f"{c['rps']:.0f} req/s p50 {c['p50_ms']} ms p99 {c['p99_ms']} ms, "
                                f"RSS peak {cell['rss_mb_peak']} MB"
                            )
                        )
                    )
    lines = [
        f"{'server':<7} {'phase':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} "
        f"{'errors':>6} {'us/req':>6} {'RSS MB':>6} {'peak':>6} {'cpu':>5} {'atk':>5}  "
        "p99 of each round; "
        "endless header: "
        "MiB sent, its answers"
    ]
    results: dict[str, Any] = {
        "seconds": args.seconds,
        "rounds": args.rounds,
        "slow": args.slow,
        "connections": args.connections,
        "roots": {name: str(root) for name, root in roots},
        "summary": {},
        "cells": {},
    }
    for name, _ in roots:
        for phase in phases:
            s = summary(cells[(name, phase)])
            results["summary"][f"{name} {phase}"] = s
            results["cells"][f"{name} {phase}"] = cells[(name, phase)]
            lines.append(row(name, phase, s))
    lines.append("")
    lines.append(
        f"{'server':<7} {'phase':<8} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>9} "
        f"{'cpu':>5}  (the calmest round: the server's CPU share highest)"
    )
    for name, _ in roots:
        for phase in phases:
            c = results["summary"][f"{name} {phase}"]["calmest"]
            figures = (
                f"{c['rps']:>8.0f} {c['p50_ms']:>8.2f} {c['p99_ms']:>8.2f} {c['max_ms']:>9.1f}"
                if c["rps"] is not None
                else f"{'not served':>35}"
            )
            lines.append(f"{name:<7} {phase:<8} {figures} {c['server_cpu']:>5.2f}")
    print("\n".join(lines))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"written {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        servers.Server.stop_all()
