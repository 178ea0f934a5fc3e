"""Load from wrk (pinned to core 1, one thread): one fixed request repeated
(bench/lua/request.lua), or enroll calls with unique e-mails (bench/lua/fill.lua). Each Lua
script prints its figures as one ``BENCH_JSON {...}`` line, read here instead of wrk's text.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from .common import BENCH, PINNED, REPO, Skip, median, pin

REQUEST_LUA = BENCH / "lua" / "request.lua"
FILL_LUA = BENCH / "lua" / "fill.lua"
CELL_FIGURES = ("rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms")


@dataclass
class Req:
    """One request, sent as is on every connection; `expect` is the status of every answer."""

    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    expect: int = 200

    def env(self) -> dict[str, str]:
        return {
            "BENCH_METHOD": self.method,
            "BENCH_BODY": self.body.decode(),
            "BENCH_HEADERS": header_lines(self.headers),
        }

    def without_prefix(self, prefix: str) -> Req:
        return Req(
            self.method, self.path.removeprefix(prefix), self.headers, self.body, self.expect
        )


def header_lines(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in headers.items())


def wrk_argv(url: str, script: Path, connections: int, seconds: int) -> list[str]:
    threads = 1 if PINNED else min(2, connections)
    return [
        *pin(1),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "--timeout",
        "5s",
        "-s",
        str(script),
        url,
    ]


def bench_json(stdout: str) -> dict | None:
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return orjson.loads(line[len("BENCH_JSON ") :])
    return None


def run(url: str, req: Req, connections: int, seconds: int) -> dict:
    """One wrk run of `req` against the server at `url`: one round of a cell."""
    proc = subprocess.run(
        wrk_argv(url + req.path, REQUEST_LUA, connections, seconds),
        cwd=REPO,
        env={**os.environ, **req.env()},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    data = bench_json(proc.stdout)
    if data is None:
        raise Skip(
            f"wrk gave no result (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-300:].strip()}"
        )
    return figures(data, connections)


def figures(data: dict, connections: int) -> dict:
    secs = data["duration_us"] / 1e6
    pct, lat, e = data["latency_us"]["percentiles"], data["latency_us"], data["errors"]
    ms = lambda us: round(us / 1000, 3)  # noqa: E731
    return {
        "rps": round(data["requests"] / secs, 1) if secs else 0.0,
        "p50_ms": ms(pct["50"]),
        "p90_ms": ms(pct["90"]),
        "p99_ms": ms(pct["99"]),
        "p999_ms": ms(pct["99.9"]),
        "mean_ms": ms(lat["mean"]),
        "max_ms": ms(lat["max"]),
        "requests": data["requests"],
        "seconds": round(secs, 3),
        "status_4xx_5xx": e["status"],  # wrk counts every status > 399 as a "status error"
        "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "connections": connections,
    }


def merge_rounds(rounds: list[dict]) -> dict:
    """One cell from its rounds: each figure the median of the rounds', counts summed, every
    round kept (req/s, p50, p99) under `rounds`, and the req/s spread (max/min - 1)."""
    cell = {key: round(median([r[key] for r in rounds]), 3) for key in CELL_FIGURES}
    cell["max_ms"] = max(r["max_ms"] for r in rounds)
    for key in ("requests", "status_4xx_5xx", "socket_errors"):
        cell[key] = sum(r[key] for r in rounds)
    cell["seconds"] = round(sum(r["seconds"] for r in rounds), 3)
    cell["connections"] = rounds[0]["connections"]
    cell["rounds"] = [
        {key: r[key] for key in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req") if key in r}
        for r in rounds
    ]
    cpu = [r["cpu_us_per_req"] for r in rounds if "cpu_us_per_req" in r]
    cell["cpu_us_per_req"] = round(min(cpu), 1) if cpu else None  # the least disturbed round
    rps = [r["rps"] for r in rounds]
    cell["rps_spread"] = round(max(rps) / min(rps) - 1, 3) if min(rps) else None
    return cell


def check(expect: int, cell: dict, share_4xx: tuple[float, float] | None = None) -> str:
    """'ok' when the answers are the ones expected: all 2xx, all 4xx, or (mixed) a share of 4xx/5xx."""
    if cell["socket_errors"]:
        return f"socket errors: {cell['socket_errors']}"
    bad = cell["status_4xx_5xx"] / (cell["requests"] or 1)
    if share_4xx is not None:
        low, high = share_4xx
        return "ok" if low <= bad <= high else f"{bad:.1%} 4xx/5xx (want {low:.0%}-{high:.0%})"
    if expect >= 400:
        return "ok" if bad > 0.999 else f"only {bad:.1%} 4xx/5xx"
    return "ok" if bad == 0 else f"{bad:.1%} 4xx/5xx"


def fill(
    url: str, headers: dict[str, str], count: int, seconds: float, connections: int = 16
) -> dict:
    """Enroll `count` new members with wrk (bench/lua/fill.lua), bounded by `seconds`."""
    env = {
        "BENCH_FILL_PREFIX": f"bench-fill-{uuid.uuid4().hex[:8]}",
        "BENCH_FILL_COUNT": str(count),
        "BENCH_HEADERS": header_lines(headers),
    }
    argv = wrk_argv(url + "/client/users", FILL_LUA, connections, max(1, math.ceil(seconds)))
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        data, done_at = _read_fill(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if data is None:
        raise Skip(
            f"wrk fill gave no result (exit {proc.returncode}): {proc.stderr.read()[-300:].strip()}"
        )
    secs = (done_at or time.perf_counter()) - started
    out = {
        "ok": data["ok"],
        "bad": data["bad"],
        "seconds": round(secs, 2),
        "rate": round(data["ok"] / secs, 1),
    }
    if data["bad"]:
        out["first_bad_status"] = data["first_bad_status"]
    return out


def _read_fill(proc: subprocess.Popen) -> tuple[dict | None, float | None]:
    """wrk's main thread sleeps for the whole -d even once the quota is reached: on
    BENCH_FILL_DONE interrupt it (SIGINT ends the run and calls done())."""
    data = done_at = None
    for line in proc.stdout:  # ends when wrk exits: at the latest after -d
        if line.startswith("BENCH_FILL_DONE"):
            done_at = time.perf_counter()
            _interrupt(proc)
        elif line.startswith("BENCH_JSON "):
            data = orjson.loads(line[len("BENCH_JSON ") :])
    proc.wait(timeout=30)
    return data, done_at


def _interrupt(proc: subprocess.Popen) -> None:
    for _ in range(20):  # the stopped worker thread may still be exiting: repeat until wrk ends
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=0.25)
            return
        except subprocess.TimeoutExpired:
            continue
