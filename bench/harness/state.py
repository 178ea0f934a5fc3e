"""Reset time and latency by state size, on an emulator of their own.

- 100 members (one with a live session, 99 enrolled), then 10k (enroll calls through wrk),
  then 100k (a snapshot of the 10k state with 90k generated accounts, through
  ``PUT /_emulator/state``); the valid loyalty PUT at 1 connection at each size.
- ``POST /_emulator/reset`` with the 10k state (restored with ``PUT /_emulator/state``
  between samples), and on an empty one.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import orjson

from . import load, servers
from .common import Budget, Skip, log, median
from .workloads import ENROLL_BODY, EXTRA_HEADERS, client, loyalty_put, loyalty_session, ok

SAMPLES = 5
JSON = {"Content-Type": "application/json"}


def time_post(c: httpx.Client, path: str) -> float:
    started = time.perf_counter()
    ok(c.post(path), f"POST {path}")
    return (time.perf_counter() - started) * 1000


def with_accounts(snapshot: dict, count: int) -> dict:
    """The snapshot plus `count` generated loyalty accounts (ids and e-mails of their own)."""
    accounts = snapshot["loyalty.accounts"]
    for j in range(count):
        account_id, loyalty_id = str(9_000_000_000 + j), str(8_000_000_000 + j)
        accounts[account_id] = {
            "accountId": account_id,
            "loyaltyId": loyalty_id,
            "emd": {},
            "profile": {**ENROLL_BODY, "email": f"bench-snap-{j}@example.com"},
        }
    return snapshot


def enroll_99(c: httpx.Client) -> None:
    prefix = f"bench-known-{uuid.uuid4().hex[:6]}"
    for i in range(99):
        ok(
            c.post("/client/users", json={**ENROLL_BODY, "email": f"{prefix}-{i}@example.com"}),
            "enroll",
        )


class StatePhase:
    def __init__(self, args, srv: servers.Server, c: httpx.Client, budget: Budget):
        self.args, self.srv, self.c, self.budget = args, srv, c, budget
        self.steps: dict[str, Any] = {}
        self.out: dict[str, Any] = {"latency_by_state": {"steps": self.steps}, "reset": {}}
        self.req = None  # the valid PUT, on a session opened after the first resets

    def measure(self, label: str, profiles: int) -> None:
        self.budget.need(self.args.duration + 2, f"latency with {label} profiles")
        cell = load.run(self.srv.url, self.req, 1, self.args.duration)
        cell.update(profiles=profiles, check=load.check(200, cell))
        self.steps[label] = cell
        log(
            f"latency with {profiles:>7d} profiles: p50 {cell['p50_ms']:.3f} ms  mean {cell['mean_ms']:.3f} ms  "
            f"p99 {cell['p99_ms']:.3f} ms  [{cell['check']}]"
        )

    def put_state(self, body: bytes) -> None:
        ok(self.c.put("/_emulator/state", content=body, headers=JSON), "PUT /_emulator/state")

    def run(self) -> dict:
        lat = self.out["latency_by_state"]
        self.out["reset"]["empty_median_ms"] = round(
            median([time_post(self.c, "/_emulator/reset") for _ in range(SAMPLES)]), 3
        )
        self.req = loyalty_put(*self._fresh_session(), True)
        enroll_99(self.c)
        load.run(self.srv.url, self.req, 1, 1)  # warm-up
        self.measure("100", 100)

        self.budget.need(10, "filling 10k profiles")
        filled = load.fill(
            self.srv.url,
            EXTRA_HEADERS,
            10_000 - 100,
            min(self.args.fill_budget, self.budget.left() - 60),
        )
        lat["fill_10k"] = filled
        log(
            f"filled to {100 + filled['ok']} profiles in {filled['seconds']} s ({filled['rate']} enroll/s)"
        )
        if filled["ok"] < 9_400:
            raise Skip(f"fill reached only {100 + filled['ok']} profiles ({filled})")
        self.measure("10k", 100 + filled["ok"])
        snap10k = self.c.get("/_emulator/state").content

        started = time.perf_counter()
        self.put_state(orjson.dumps(with_accounts(orjson.loads(snap10k), 90_000)))
        lat["fill_100k"] = {
            "how": "PUT /_emulator/state: the 10k snapshot plus 90k generated accounts",
            "seconds": round(time.perf_counter() - started, 2),
        }
        self.measure("100k", 100 + filled["ok"] + 90_000)
        lat["status"] = "ok"
        self.reset_10k(snap10k)
        return self.out

    def _fresh_session(self) -> tuple[str, str]:
        email = f"ada-state-{uuid.uuid4().hex[:8]}@example.com"
        return loyalty_session(self.c, email), email

    def reset_10k(self, snap10k: bytes) -> None:
        samples = []
        for i in range(SAMPLES):
            self.budget.need(5, "restoring the 10k snapshot")
            self.put_state(snap10k)
            samples.append(time_post(self.c, "/_emulator/reset"))
            log(f"reset with 10k profiles {i + 1}/{SAMPLES}: {samples[-1]:.2f} ms")
        self.out["reset"].update(
            status="ok",
            samples_ms=[round(s, 3) for s in samples],
            median_ms=round(median(samples), 3),
            restore="PUT /_emulator/state (snapshot taken at 10k)",
        )


def ratios(lat: dict) -> None:
    s100, s100k = lat["steps"].get("100", {}), lat["steps"].get("100k", {})
    if "p50_ms" in s100 and "p50_ms" in s100k:
        lat["ratio_100k_100_p50"] = round(s100k["p50_ms"] / s100["p50_ms"], 3)
        lat["ratio_100k_100_mean"] = round(s100k["mean_ms"] / s100["mean_ms"], 3)


def run(args, log_dir: Path, budget: Budget) -> dict:
    try:
        srv = servers.emulator(args.emulator_cmd, log_dir, "emulator-state").start(timeout=60)
    except Skip as exc:
        return {
            "reset": {"status": f"failed: {exc}"},
            "latency_by_state": {"status": f"failed: {exc}"},
        }
    with client(srv, timeout=120) as c:
        phase = StatePhase(args, srv, c, budget)
        try:
            phase.run()
        except (Skip, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
            log(f"state phase: failed: {exc}")
            for part in phase.out.values():
                part.setdefault("status", f"failed: {exc}")
        finally:
            srv.stop()
    ratios(phase.out["latency_by_state"])
    return phase.out
