#!/usr/bin/env python3
"""Benchmark the emulator against the raw-ASGI ceiling, WireMock and Stoplight Prism.

    bash bench/setup.sh                       # once: Prism and WireMock (npm), wrk
    .venv/bin/python bench/run.py [--quick] [--duration S] [--out bench/results/latest.json]

Everything runs on 127.0.0.1 with bounded durations; servers on core 0, wrk on core 1 when
there are two cores. One table (emulator req/s, p50, p99 and its ratios to the references
of the same run, interleaved rounds), then cold start and RSS, reset time, latency by state
size, the pytest fixture's cost, and the targets (MET/NOT MET). The same data goes to --out
as JSON. bench/README.md says what each figure means; the parts are in bench/harness/.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import fixture_cost
import orjson
from harness import report, servers, state, workloads
from harness.common import PINNED, REPO, T0, Budget, cpu_count, log, rel
from harness.servers import PRISM_BIN, Server


class Terminated(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C, stop the servers, still write what was measured."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--quick", action="store_true", help="1 round of 2 s per cell and smaller time budgets"
    )
    p.add_argument(
        "--duration", type=int, default=None, help="seconds per wrk run (default 3, --quick 2)"
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds per cell; figures are their medians (default 3, --quick 1)",
    )
    p.add_argument("--out", default="bench/results/latest.json", help="JSON results file")
    p.add_argument(
        "--emulator-cmd",
        default=servers.DEFAULT_EMULATOR_CMD,
        help="command that serves the emulator; {port} is replaced (default: %(default)s)",
    )
    p.add_argument(
        "--no-quiet",
        action="store_true",
        help="no emulator_quiet cell (the emulator command with --quiet, beside the default one)",
    )
    p.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=CMD",
        help="one more emulator in the same interleaved rounds and cold starts, e.g. another "
        "checkout's (base='env PYTHONPATH=../base .venv/bin/python -P -m emulator.cli serve "
        "--port {port} --fixtures ../base/fixtures': -P, or the working directory's emulator "
        "is imported); repeatable",
    )
    p.add_argument("--loyalty-spec", type=Path, default=REPO / "openapi/loyalty.yaml")
    p.add_argument("--commerce-spec", type=Path, default=REPO / "openapi/commerce.yaml")
    p.add_argument("--connections", default="1,16,64", help="comma-separated connection counts")
    p.add_argument(
        "--workloads",
        default=",".join(workloads.WORKLOADS),
        help="comma-separated subset of " + ",".join(workloads.WORKLOADS),
    )
    p.add_argument("--no-prism", action="store_true", help="do not start Prism")
    p.add_argument("--no-wiremock", action="store_true", help="do not start WireMock")
    p.add_argument(
        "--prism-verbose",
        default="silent",
        choices=("trace", "debug", "info", "warn", "error", "fatal", "silent"),
        help="Prism's -v log level (default %(default)s: at 'info' Prism logs ~8 lines per request)",
    )
    p.add_argument(
        "--namespace", default=None, help="send X-Emulator-Namespace: NAME on every call"
    )
    p.add_argument("--no-state", action="store_true", help="skip reset and latency-by-state")
    p.add_argument("--no-fixture", action="store_true", help="skip the pytest fixture's cost")
    p.add_argument("--cold-spawns", type=int, default=5, help="spawns for the cold-start median")
    p.add_argument(
        "--budget",
        type=float,
        default=None,
        help="wall-clock budget in s (default 720, --quick 360)",
    )
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 3)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 1 if args.quick else 2
    args.jvm_warmup = 5 if args.quick else 10
    args.budget = args.budget or (360.0 if args.quick else 720.0)
    args.fill_budget = 60.0 if args.quick else 180.0
    args.variants = {}
    for variant in args.variant:
        name, sep, cmd = variant.partition("=")
        if not sep or not name.isidentifier() or "{port}" not in cmd:
            p.error(f"--variant {variant!r}: NAME=CMD, CMD with {{port}}")
        args.variants[name] = cmd
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(workloads.WORKLOADS)
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    return args


def tool_version(argv: list[str]) -> str | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    text = (p.stdout + p.stderr).strip()
    return text.splitlines()[0] if text else None


def git_commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(
            ["git", *a], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    sha = git("rev-parse", "--short", "HEAD") or "unknown"
    return sha + ("+dirty" if git("status", "--porcelain", "--untracked-files=no") else "")


def meta(args) -> dict[str, Any]:
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": git_commit(),
        "host": {
            "cpus": cpu_count(),
            "machine": platform.machine(),
            "python": platform.python_version(),
        },
        "pinned": PINNED,
        "pinning": "servers on core 0, wrk on core 1"
        if PINNED
        else "none (fewer than 2 cores or no taskset)",
        "duration_s": args.duration,
        "rounds": args.rounds,
        "warmup_s": args.warmup,
        "connections": args.connections,
        "wrk": tool_version(["wrk", "-v"]),
        "prism": tool_version([str(PRISM_BIN), "--version"]) if PRISM_BIN.exists() else None,
        "wiremock": servers.WIREMOCK_JAR_DIR.exists()
        and [p.name for p in servers.WIREMOCK_JAR_DIR.glob("*.jar")],
        "java": tool_version(["java", "-version"]),
        "emulator_cmd": args.emulator_cmd,
        "emulators": servers.emulators(args),
        "prism_verbose": args.prism_verbose,
        "namespace": args.namespace or "default",
    }


def garbage_figure() -> dict:
    """bench/garbage.py: the cyclic garbage the request path leaves (0 is the figure wanted)."""
    try:
        import garbage
    except ImportError:
        return {"status": "skipped: no bench/garbage.py"}
    try:
        return {"status": "ok", **garbage.cyclic_garbage()}
    except RuntimeError as exc:  # the calls did not get the statuses it expects
        return {"status": f"failed: {exc}"}


def measure(args, result: dict, log_dir: Path) -> None:
    budget = Budget(args.budget)
    sc = result["scalars"]
    cold = {"emulator": args.emulator_cmd, **args.variants}  # (--quiet changes no start-up)
    log(f"cold start: {args.cold_spawns} spawns each, taking turns, of: {cold}")
    starts = servers.cold_start(cold, args.cold_spawns, log_dir)
    sc["cold_start"] = starts.pop("emulator")
    sc["cold_start_variants"] = starts
    running, result["servers"] = servers.start_all(args, log_dir)
    if running["emulator"] is None or running["raw"] is None:
        raise RuntimeError(
            f"emulator: {result['servers']['emulator']}, raw: {result['servers']['raw']}"
        )
    result["workloads"] = workloads.run_all(args, running, budget)
    Server.stop_all()
    if not args.no_state:
        sc.update(state.run(args, log_dir, budget))
    sc["garbage"] = garbage_figure()
    if not args.no_fixture:
        sc["fixture_cost"] = fixture_cost.measure(rounds=1 if args.quick else 3, log=log)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print(
            "wrk is not installed: run `bash bench/setup.sh` (or `apt-get install -y wrk`)",
            file=sys.stderr,
        )
        return 2
    out_path = Path(args.out) if os.path.isabs(args.out) else REPO / args.out
    if args.namespace:
        workloads.EXTRA_HEADERS["X-Emulator-Namespace"] = args.namespace
    if PINNED:
        os.sched_setaffinity(
            0, {1}
        )  # the harness (and its set-up calls) stays off the servers' core

    def on_term(signum, frame):
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    skipped = {"status": "skipped"}
    result: dict[str, Any] = {
        "meta": meta(args),
        "servers": {},
        "workloads": {},
        "scalars": {
            "cold_start": dict(skipped),
            "reset": dict(skipped),
            "latency_by_state": dict(skipped),
        },
    }
    exit_code = 0
    try:
        measure(args, result, out_path.parent / "logs")
    except (KeyboardInterrupt, Terminated) as exc:
        signum = int(exc.args[0]) if isinstance(exc, Terminated) else int(signal.SIGINT)
        result["error"] = f"interrupted by signal {signum}"
        exit_code = 128 + signum
    except Exception as exc:  # report what was measured, then fail
        result["error"] = repr(exc)
        exit_code = 1
    finally:
        Server.stop_all()
    result["meta"]["total_s"] = round(time.monotonic() - T0, 1)
    result["rows"] = report.rows(args, result["workloads"])
    result["emulator_rows"] = report.emulator_rows(args, result["workloads"])
    result["targets"] = report.targets(result["rows"], result["scalars"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    report.print_report(result)
    if result.get("error"):
        print(f"run incomplete: {result['error']}")
    print(f"JSON written to {rel(out_path)}")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
