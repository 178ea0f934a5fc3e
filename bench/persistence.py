#!/usr/bin/env python3
"""Crash-loss bench for --data-file: how many acknowledged writes a SIGKILL loses, and how old.

    .venv/bin/python bench/persistence.py [--rounds 20] [--profiles 100,10000]
                                          [--modes default,always] [--root CHECKOUT]
    python3 dev.py bench persistence [same options]

For each mode (`default`, `always` = `--fsync always`) and each state size (profiles stored
in a namespace of their own before the rounds), it starts the real server
(`python -m emulator.cli serve --data-file ...`), drives writes from several keep-alive
clients (`POST /client/users`, each a fresh email, in namespace `load`), kills the server with
SIGKILL at a random moment, restarts it on the same data file, reads the `load`
namespace back and resets it (so the state stays the size asked). A write is
*acknowledged* when its 201 was read whole; it is *lost* when its
email is not in the restarted server's state. The *loss window* of a round is the time from
the oldest lost write's acknowledgement to the kill (0 when nothing was lost). A restart that
refuses the file is reported as such (the file must stay readable after any crash).

`--root` runs another checkout's emulator (e.g. `git archive main | tar -x -C /tmp/before`)
with this checkout's interpreter, for before/after figures in one run; a mode that checkout
does not know (`always` before `--fsync` existed) is skipped. Figures go to stdout and, as
JSON, to --out.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
from harness import servers  # bench/ is the script's folder, first on sys.path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
LOAD_NS = "load"
FILL_NS = "fill"
START_TIMEOUT = 60.0
PROFILE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
}


@dataclass
class Round:
    acknowledged: int
    lost: int
    window_ms: float  # kill time - acknowledgement of the oldest lost write
    killed_after_s: float
    restart_exit: int | None = None  # the exit status when the restart refused the file


@dataclass
class Cell:
    mode: str
    profiles: int
    rounds: list[Round] = field(default_factory=list)
    skipped: str | None = None

    def summary(self) -> dict[str, Any]:
        windows = [r.window_ms for r in self.rounds]
        return {
            "mode": self.mode,
            "profiles": self.profiles,
            "rounds": len(self.rounds),
            "acknowledged": sum(r.acknowledged for r in self.rounds),
            "lost": sum(r.lost for r in self.rounds),
            "rounds_with_loss": sum(1 for r in self.rounds if r.lost),
            "window_ms_max": max(windows, default=0.0),
            "window_ms_median": statistics.median(windows) if windows else 0.0,
            "unreadable": sum(1 for r in self.rounds if r.restart_exit is not None),
            "skipped": self.skipped,
        }


class Server:
    """One `profile-emulator serve` process on a free port (read from its --port-file)."""

    def __init__(self, root: Path, python: str, data_file: Path, mode: str, logs: Path) -> None:
        self.port_file = data_file.parent / f"port-{uuid.uuid4().hex[:8]}"
        args = [
            python,
            "-m",
            "emulator.cli",
            "serve",
            "--port",
            "0",
            "--port-file",
            str(self.port_file),
            "--data-file",
            str(data_file),
            "--quiet",
        ]
        if mode == "always":
            args += ["--fsync", "always"]
        env = {**os.environ, "PYTHONPATH": str(root)}
        self.err = logs.open("ab")
        self.proc = subprocess.Popen(
            args, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=self.err
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self.port_file.exists():
            if self.proc.poll() is not None:
                self.err.close()
                raise Refused(self.proc.returncode)
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("the emulator did not start")
            time.sleep(0.02)
        self.port = int(self.port_file.read_text())

    def kill(self) -> float:
        """SIGKILL; the moment it was sent (monotonic)."""
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.err.close()
        self.port_file.unlink(missing_ok=True)
        return at

    def stop(self) -> None:
        servers.terminate(self.proc)
        self.err.close()


class Refused(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def call(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    namespace: str = LOAD_NS,
    timeout: float = 120.0,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = None if body is None else orjson.dumps(body)
        conn.request(
            method,
            path,
            body=payload,
            headers={"Content-Type": "application/json", "X-Emulator-Namespace": namespace},
        )
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def fill_state(port: int, profiles: int) -> None:
    """`profiles` loyalty accounts in namespace `fill`, through a state snapshot."""
    accounts = {}
    for n in range(profiles):
        account_id = str(2_000_000_000 + n)
        accounts[account_id] = {
            "accountId": account_id,
            "loyaltyId": str(8_000_000_000 + n),
            "emd": {},
            "profile": {
                **PROFILE,
                "email": f"fill-{n}@bench.example",
                "phoneNumber": f"555{n:07d}",
                "city": "Montreal",
                "address1": f"{n} Rue Sainte-Catherine",
            },
        }
    state = {
        "loyalty.accounts": accounts,
        "loyalty.sessions": {},
        "loyalty.emdKeys": {},
        "loyalty.counters": {"accounts": {"next": 1000}},
    }
    status, body = call(port, "PUT", "/_emulator/state", state, namespace=FILL_NS)
    if status != 204:
        raise RuntimeError(f"filling the state answered {status}: {body[:200]!r}")


def stored_emails(port: int) -> set[str]:
    status, body = call(port, "GET", "/_emulator/state")
    if status != 200:
        raise RuntimeError(f"GET /_emulator/state answered {status}")
    accounts = orjson.loads(body).get("loyalty.accounts", {})
    return {(doc.get("profile") or {}).get("email") for doc in accounts.values()}


def writer(port: int, tag: str, stop: threading.Event, acked: list[tuple[str, float]]) -> None:
    """Enrol members one after another on one keep-alive connection until it breaks."""
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    n = 0
    try:
        while not stop.is_set():
            email = f"{tag}-{n}@bench.example"
            n += 1
            conn.request(
                "POST",
                "/client/users",
                body=orjson.dumps({**PROFILE, "email": email}),
                headers={"Content-Type": "application/json", "X-Emulator-Namespace": LOAD_NS},
            )
            answer = conn.getresponse()
            answer.read()
            if answer.status == 201:
                acked.append((email, time.monotonic()))
    except (OSError, http.client.HTTPException):
        pass  # the server was killed
    finally:
        conn.close()


def run_cell(cell: Cell, args: argparse.Namespace, work: Path, rng: random.Random) -> None:
    data_file = work / f"{cell.mode}-{cell.profiles}" / "state.json"
    data_file.parent.mkdir(parents=True)
    logs = work / f"{cell.mode}-{cell.profiles}.stderr.txt"
    try:
        server = Server(args.root, args.python, data_file, cell.mode, logs)
    except Refused as exc:
        cell.skipped = f"the server refused to start (exit {exc.status}; see {logs})"
        return
    fill_state(server.port, cell.profiles)
    for number in range(args.rounds):
        stop = threading.Event()
        acked: list[tuple[str, float]] = []
        tag = f"r{number}-{uuid.uuid4().hex[:6]}"
        threads = [
            threading.Thread(target=writer, args=(server.port, f"{tag}-{c}", stop, acked))
            for c in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(args.min_s, args.max_s))
        killed_at = server.kill()
        stop.set()
        for thread in threads:
            thread.join()
        try:
            server = Server(args.root, args.python, data_file, cell.mode, logs)
        except Refused as exc:
            cell.rounds.append(Round(len(acked), len(acked), 0.0, killed_at - started, exc.status))
            return
        present = stored_emails(server.port)
        # The load namespace starts each round empty, so the state stays the size asked.
        status, _ = call(server.port, "POST", "/_emulator/reset")
        if status != 204:
            raise RuntimeError(f"POST /_emulator/reset answered {status}")
        lost = [at for email, at in acked if email not in present]
        # A write answered in the instant between the clock read and the signal counts 0.
        window = max(0.0, (killed_at - min(lost)) * 1000) if lost else 0.0
        cell.rounds.append(
            Round(len(acked), len(lost), round(window, 1), round(killed_at - started, 3))
        )
        print(
            f"  {cell.mode:7} {cell.profiles:>6} round {number + 1:2}: acknowledged "
            f"{len(acked):5}, lost {len(lost):4}, window {window:7.1f} ms",
            flush=True,
        )
    server.stop()


def knows_fsync(root: Path, python: str) -> bool:
    done = subprocess.run(
        [python, "-m", "emulator.cli", "serve", "--help"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return "--fsync" in done.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20, help="kills per cell (default 20)")
    parser.add_argument(
        "--profiles",
        default="100,10000",
        help="profiles stored before the rounds, comma-separated (default 100,10000)",
    )
    parser.add_argument(
        "--modes",
        default="default,always",
        help="default and/or always (--fsync always); default both",
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent writers (default 4)")
    parser.add_argument(
        "--min-s", type=float, default=0.3, help="earliest kill after the load starts"
    )
    parser.add_argument(
        "--max-s", type=float, default=1.5, help="latest kill after the load starts"
    )
    parser.add_argument("--root", type=Path, default=REPO, help="the checkout whose emulator runs")
    parser.add_argument("--python", default=sys.executable, help="the interpreter (with the deps)")
    parser.add_argument("--seed", type=int, default=1, help="of the kill moments")
    parser.add_argument("--quick", action="store_true", help="5 rounds per cell")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "persistence.json")
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    if args.quick:
        args.rounds = min(args.rounds, 5)
    rng = random.Random(args.seed)
    fsync = knows_fsync(args.root, args.python)
    cells = [
        Cell(mode, int(profiles))
        for mode in args.modes.split(",")
        for profiles in args.profiles.split(",")
    ]
    with tempfile.TemporaryDirectory(prefix="persistence-bench-") as tmp:
        for cell in cells:
            if cell.mode == "always" and not fsync:
                cell.skipped = f"{args.root} has no --fsync option"
                continue
            print(f"{cell.mode} mode, {cell.profiles} profiles stored:", flush=True)
            run_cell(cell, args, Path(tmp), rng)
        logs = {p.name: p.read_text(errors="replace")[-2000:] for p in Path(tmp).glob("*.txt")}
    print(
        f"\n{'mode':8} {'profiles':>8} {'acked':>7} {'lost':>6} {'rounds lost':>11} "
        f"{'window max ms':>13} {'median ms':>9}  note"
    )
    for cell in cells:
        s = cell.summary()
        note = s["skipped"] or (
            f"{s['unreadable']} restart(s) refused the file" if s["unreadable"] else ""
        )
        print(
            f"{s['mode']:8} {s['profiles']:>8} {s['acknowledged']:>7} {s['lost']:>6} "
            f"{s['rounds_with_loss']:>11} {s['window_ms_max']:>13.1f} "
            f"{s['window_ms_median']:>9.1f}  {note}"
        )
    targets = [c.summary() for c in cells if not c.skipped]
    for s in targets:
        if s["mode"] == "default" and s["profiles"] >= 10_000:
            verdict = "MET" if s["window_ms_max"] <= 100 and not s["unreadable"] else "NOT MET"
            print(
                f"target: default mode, {s['profiles']} profiles, loss window <= 100 ms: {verdict}"
            )
        if s["mode"] == "always":
            verdict = "MET" if s["lost"] == 0 and not s["unreadable"] else "NOT MET"
            print(f"target: --fsync always, {s['profiles']} profiles, 0 lost: {verdict}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps(
            {
                "root": str(args.root),
                "rounds": args.rounds,
                "clients": args.clients,
                "cells": [
                    {**c.summary(), "per_round": [asdict(r) for r in c.rounds]} for c in cells
                ],
                "stderr_tails": logs,
            },
            indent=2,
        )
    )
    print(f"(JSON: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
