#!/usr/bin/env python3
"""The data file's guarantees and costs, measured on real servers (bench/README.md, "The
data file"):

    python3 dev.py bench persistence [--only kill,window,cost,throughput,exit]
                                     [--before CHECKOUT] [--rounds N] [--quick]

- **kill**: SIGKILL loss. Per mode (`default`, `always` = `--fsync always`) and state size
  (`--profiles`, stored in a namespace of their own), 4 keep-alive clients enrol members
  (`POST /client/users`) until a SIGKILL at a random moment; the server restarts on the same
  file and the emails it holds are compared with the 201s read. *Lost*: answered, not there.
  The server's CPU time (its threads included) per enrolment answered, over the rounds.
- **window**: the default mode's power-cut window. The server runs under strace, which
  times its socket writes of a 2xx and its fsyncs of the data file (WAL or change log);
  each answer's window is the time until the end of the first such fsync that starts after
  it (an upper bound when the write reached the file before the answer, as with SQLite; a
  lower bound when a thread writes it after, as with the JSON change log).
- **cost**: a write's cost against the state's size: the valid loyalty PUT (wrk, 16
  connections) on two servers with a data file, one holding 10k profiles, one 100k, in
  interleaved rounds; req/s and CPU µs per call.
- **throughput**: the same PUT without a data file, with one, and with `--fsync always`,
  for this checkout and `--before`'s, in interleaved rounds.
- **exit**: seconds from SIGTERM to the exit with ~600 MB of state (`--exit-mb`).

`--before` runs another checkout's emulator (`git worktree add /tmp/before <commit>`) with
this interpreter beside this one's, for before/after figures in one run. Servers run on
core 0, wrk on core 1. Figures go to stdout and, as JSON, to `--out`.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson
from harness import load, servers, workloads  # bench/ is the script's folder, on sys.path
from harness.common import pin

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
LOAD_NS, FILL_NS = "load", "fill"
PROFILE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
}
TRACED = re.compile(
    r"^\d+\s+(?P<at>\d+\.\d+) (?:(?P<call>fsync|fdatasync|write)\((?P<fd>\d+)<(?P<path>[^>]*)>"
    r"(?:, \"(?P<data>[^\"]*))?|<\.\.\. (?P<resumed>fsync|fdatasync) resumed>)"
)


class Emulator:
    """One `profile-emulator serve` of a checkout, on a free port read from its port file."""

    def __init__(
        self, root: Path, args: list[str], work: Path, prefix: list[str] | None = None
    ) -> None:
        self.port_file = work / f"port-{uuid.uuid4().hex[:8]}"
        self.err = (work / "stderr.txt").open("ab")
        command = [sys.executable, "-m", "emulator.cli", "serve", "--port", "0", "--quiet"]
        self.proc = subprocess.Popen(
            [*(prefix or pin(0)), *command, "--port-file", str(self.port_file), *args],
            cwd=root,
            env={**os.environ, "PYTHONPATH": str(root)},
            stdout=subprocess.DEVNULL,
            stderr=self.err,
        )
        deadline = time.monotonic() + 120
        while not self.port_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                tail = (work / "stderr.txt").read_text(errors="replace")[-600:]
                raise RuntimeError(f"the emulator did not start: {tail}")
            time.sleep(0.02)
        self.url = f"http://{HOST}:{int(self.port_file.read_text())}"
        self.pid = self.proc.pid  # the emulator's (strace's child, under strace)
        if prefix is not None and "strace" in prefix:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            self.pid = int(children[0])

    def kill(self) -> float:
        """SIGKILL; the moment it was sent (monotonic)."""
        at = time.monotonic()
        self.proc.kill()
        self.proc.wait()
        self.err.close()
        self.port_file.unlink(missing_ok=True)
        return at

    def stop(self) -> tuple[float, int]:
        """SIGTERM; (seconds until the exit, exit status)."""
        at = time.monotonic()
        os.kill(self.pid, signal.SIGTERM)
        status = self.proc.wait(timeout=300)
        took = time.monotonic() - at
        self.err.close()
        return took, status


def fill(url: str, profiles: int, namespace: str = FILL_NS) -> None:
    """`profiles` loyalty accounts in `namespace`, through a state snapshot."""
    accounts = {}
    for n in range(profiles):
        account_id = str(2_000_000_000 + n)
        accounts[account_id] = {
            "accountId": account_id,
            "loyaltyId": str(8_000_000_000 + n),
            "emd": {},
            "profile": {
                **PROFILE,
                "email": f"{namespace}-{n}@bench.example",
                "phoneNumber": f"555{n:07d}",
                "city": "Montreal",
                "street": f"{n} Rue Sainte-Catherine",
            },
        }
    state = {"loyalty.accounts": accounts, "loyalty.counters": {"accounts": {"next": 1000}}}
    r = httpx.put(
        url + "/_emulator/state",
        content=orjson.dumps(state),
        headers={"Content-Type": "application/json", "X-Emulator-Namespace": namespace},
        timeout=600,
    )
    if r.status_code != 204:
        raise RuntimeError(f"filling the state answered {r.status_code}: {r.text[:200]}")


def stored_emails(url: str) -> set[str]:
    r = httpx.get(url + "/_emulator/state", headers={"X-Emulator-Namespace": LOAD_NS}, timeout=60)
    accounts = r.json().get("loyalty.accounts", {})
    return {(doc.get("profile") or {}).get("email") for doc in accounts.values()}


def enrol(port: int, tag: str, stop: threading.Event, acked: list[tuple[str, float]]) -> None:
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


def load_for(port: int, seconds: float, clients: int = 4) -> list[tuple[str, float]]:
    stop, acked = threading.Event(), []
    tag = uuid.uuid4().hex[:6]
    threads = [
        threading.Thread(target=enrol, args=(port, f"{tag}-{c}", stop, acked))
        for c in range(clients)
    ]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return acked


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# --- kill ---------------------------------------------------------------------------------


def kill_cell(root: Path, mode: str, profiles: int, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="kill-", dir=args.work))
    options = ["--data-file", str(work / "state.db")] + (
        ["--fsync", "always"] if mode == "always" else []
    )
    rng = random.Random(args.seed)
    server = Emulator(root, options, work)
    fill(server.url, profiles)
    acknowledged = lost = rounds_lost = 0
    windows, cpu = [], 0.0
    for _ in range(args.rounds):
        stop, acked = threading.Event(), []
        port = port_of(server.url)
        threads = [
            threading.Thread(target=enrol, args=(port, uuid.uuid4().hex[:8], stop, acked))
            for _ in range(4)
        ]
        spent = servers.cpu_seconds(server.pid) or 0.0
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.5))
        cpu += (servers.cpu_seconds(server.pid) or 0.0) - spent
        killed_at = server.kill()
        stop.set()
        for thread in threads:
            thread.join()
        server = Emulator(root, options, work)
        present = stored_emails(server.url)
        httpx.post(server.url + "/_emulator/reset", headers={"X-Emulator-Namespace": LOAD_NS})
        missing = [at for email, at in acked if email not in present]
        acknowledged += len(acked)
        lost += len(missing)
        rounds_lost += bool(missing)
        windows.append(max(0.0, (killed_at - min(missing)) * 1000) if missing else 0.0)
    server.stop()
    shutil.rmtree(work, ignore_errors=True)
    return {
        "acknowledged": acknowledged,
        "lost": lost,
        "rounds_with_loss": rounds_lost,
        "window_ms_max": round(max(windows), 1),
        "cpu_us_per_enrolment": round(cpu / max(acknowledged, 1) * 1e6, 1),
    }


# --- window -------------------------------------------------------------------------------


def window(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("strace") is None:
        return {"skipped": "strace is not installed"}
    work = Path(tempfile.mkdtemp(prefix="window-", dir=args.work))
    trace = work / "trace"
    prefix = [
        *pin(0),
        "strace",
        "-f",
        "-ttt",
        "-T",
        "-y",
        "-s",
        "12",
        "--seccomp-bpf",
        "-e",
        "trace=fsync,fdatasync,write",
        "-e",
        "signal=none",
        "-o",
        str(trace),
    ]
    data_file = work / "state.db"
    server = Emulator(root, ["--data-file", str(data_file)], work, prefix=prefix)
    load_for(port_of(server.url), args.window_s)
    server.stop()
    answers, syncs, started = [], [], {}
    for line in trace.read_text(errors="replace").splitlines():
        match = TRACED.match(line)
        if match is None:
            continue
        at = float(match["at"])
        if match["resumed"]:
            begun = started.pop(line.split()[0], None)
            if begun is not None:
                syncs.append((begun, at))
        elif match["call"] == "write":
            if (match["data"] or "").startswith("HTTP/1.1 2"):
                answers.append(at)
        elif match["path"].startswith(str(data_file)) and not match["path"].endswith("-shm"):
            took = re.search(r"<(\d+\.\d+)>$", line)
            if took is None:  # unfinished: its end is on the line that resumes it
                started[line.split()[0]] = at
            else:
                syncs.append((at, at + float(took.group(1))))
    syncs.sort()
    windows = []
    for answer in answers:
        after = next((end for begin, end in syncs if begin >= answer), None)
        if after is not None:
            windows.append((after - answer) * 1000)
    shutil.rmtree(work, ignore_errors=True)
    if not windows:
        return {"skipped": "no answer or fsync traced"}
    windows.sort()
    return {
        "answers": len(windows),
        "fsyncs": len(syncs),
        "window_ms_max": round(windows[-1], 1),
        "window_ms_p99": round(windows[int(len(windows) * 0.99)], 1),
        "window_ms_median": round(statistics.median(windows), 1),
    }


# --- cost and throughput ------------------------------------------------------------------


def valid_put(url: str) -> load.Req:
    with httpx.Client(base_url=url, timeout=60) as client:
        return workloads.loyalty_setup(client, workloads.Workload("loyalty_valid", "loyalty"))


def interleaved(
    servers_: dict[str, Emulator], rounds: int, seconds: int
) -> dict[str, dict[str, Any]]:
    """wrk's valid PUT @16 on each server in turn, `rounds` times: medians of req/s and
    of CPU µs per call (the server's user + system time over the calls answered)."""
    requests = {name: valid_put(server.url) for name, server in servers_.items()}
    for name, server in servers_.items():
        load.run(server.url, requests[name], 16, 1)  # warm-up
    figures: dict[str, dict[str, list[float]]] = {name: {"rps": [], "cpu": []} for name in servers_}
    order = list(servers_.items())
    for number in range(rounds):
        for name, server in order if number % 2 == 0 else order[::-1]:  # no place favoured
            cpu = servers.cpu_seconds(server.pid) or 0.0
            cell = load.run(server.url, requests[name], 16, seconds)
            spent = (servers.cpu_seconds(server.pid) or 0.0) - cpu
            if cell["status_4xx_5xx"] or cell["socket_errors"]:
                raise RuntimeError(f"{name}: errors under load: {cell}")
            figures[name]["rps"].append(cell["rps"])
            figures[name]["cpu"].append(spent / cell["requests"] * 1e6)
    return {
        name: {
            "rps": round(statistics.median(f["rps"]), 1),
            "cpu_us_per_call": round(statistics.median(f["cpu"]), 1),
            "rounds_rps": f["rps"],
        }
        for name, f in figures.items()
    }


def cost(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="cost-", dir=args.work))
    running = {}
    for profiles in (10_000, 100_000):
        server = Emulator(REPO, ["--data-file", str(work / f"{profiles}.db")], work)
        fill(server.url, profiles)
        running[f"{profiles} profiles"] = server
    try:
        found = interleaved(running, args.rounds, args.seconds)
    finally:
        for server in running.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    small, large = found["10000 profiles"], found["100000 profiles"]
    found["ratio 100k/10k"] = {
        "rps": round(large["rps"] / small["rps"], 3),
        "cpu_us_per_call": round(large["cpu_us_per_call"] / small["cpu_us_per_call"], 3),
    }
    return found


def throughput(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="throughput-", dir=args.work))
    codes = {"after": REPO, **({"before": args.before} if args.before else {})}
    running = {}
    for code, root in codes.items():
        for mode, extra in (("none", []), ("default", []), ("always", ["--fsync", "always"])):
            if mode == "none" and code == "before":
                continue  # the same code path without a data file
            data = [] if mode == "none" else ["--data-file", str(work / f"{code}-{mode}.db")]
            running[f"{code} {mode}"] = Emulator(root, data + extra, work)
    try:
        found = interleaved(running, args.rounds, args.seconds)
    finally:
        for server in running.values():
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    ratios = {}
    for mode in ("default", "always"):
        if f"before {mode}" in found:
            ratios[f"{mode}: after/before"] = round(
                found[f"after {mode}"]["rps"] / found[f"before {mode}"]["rps"], 3
            )
        ratios[f"{mode}: after/none"] = round(
            found[f"after {mode}"]["rps"] / found["after none"]["rps"], 3
        )
    found["ratios (req/s)"] = ratios
    return found


# --- exit ---------------------------------------------------------------------------------


def exit_time(root: Path, args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="exit-", dir=args.work))
    server = Emulator(root, ["--data-file", str(work / "state.db")], work)
    namespaces = 0
    while (servers.rss_mb(server.pid) or 0) < args.exit_mb:
        fill(server.url, 50_000, namespace=f"big-{namespaces}")
        namespaces += 1
    rss = servers.rss_mb(server.pid)
    httpx.post(  # one write after the filling, to be flushed at the stop
        server.url + "/client/users", json={**PROFILE, "email": "last@bench.example"}
    )
    took, status = server.stop()
    size = sum(p.stat().st_size for p in work.iterdir() if p.name.startswith("state.db"))
    shutil.rmtree(work, ignore_errors=True)
    return {
        "rss_mb": rss,
        "profiles": namespaces * 50_000,
        "exit_s": round(took, 2),
        "status": status,
        "file_mb": round(size / 1e6),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="kill,window,cost,throughput,exit")
    parser.add_argument("--before", type=Path, help="another checkout, measured beside this one")
    parser.add_argument("--rounds", type=int, default=10, help="kills per cell, wrk rounds")
    parser.add_argument("--seconds", type=int, default=3, help="per wrk run")
    parser.add_argument("--profiles", default="10000,100000", help="kill: stored profiles")
    parser.add_argument("--modes", default="default,always", help="kill: default and/or always")
    parser.add_argument("--window-s", type=float, default=5.0, help="window: seconds of load")
    parser.add_argument("--exit-mb", type=float, default=600.0, help="exit: RSS to reach")
    parser.add_argument("--seed", type=int, default=1, help="of the kill moments")
    parser.add_argument("--quick", action="store_true", help="3 rounds, 2 s runs")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "persistence.json")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds = min(args.rounds, 3), 2
    if args.before:
        args.before = args.before.resolve()
    codes = {"after": REPO, **({"before": args.before} if args.before else {})}
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="persistence-bench-") as tmp:
        args.work = Path(tmp)
        for part in args.only.split(","):
            print(f"-- {part}", flush=True)
            if part == "kill":
                results[part] = {
                    f"{code} {mode} {profiles}": kill_cell(root, mode, int(profiles), args)
                    for code, root in codes.items()
                    for mode in args.modes.split(",")
                    for profiles in args.profiles.split(",")
                }
            elif part == "window":
                results[part] = {code: window(root, args) for code, root in codes.items()}
            elif part == "cost":
                results[part] = cost(args)
            elif part == "throughput":
                results[part] = throughput(args)
            elif part == "exit":
                results[part] = {code: exit_time(root, args) for code, root in codes.items()}
            print(json.dumps(results[part], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"argv": sys.argv[1:], **results}, indent=2))
    print(f"(JSON: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
