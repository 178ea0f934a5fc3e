#!/usr/bin/env python3
"""What the pytest plugin's ``emulator`` fixture costs a test (issue 10).

    .venv/bin/python bench/fixture_cost.py [--tests 200] [--rounds 3] [--server thread,process]

One inner pytest session (a subprocess, the plugin installed as partners get it) runs three
kinds of trivial tests, interleaved, each making the same vendor call (loyalty getProfile of
``seed-session-1``) on one shared ``httpx.Client``:

- ``fixture``: takes the ``emulator`` fixture and sends ``emulator.headers`` (a fresh namespace,
  reset at teardown);
- ``plain``: no fixture, no namespace header (the ``default`` namespace);
- ``fresh``: no fixture, a new namespace header of its own (so ``fresh - plain`` is what
  the server spends seeding a namespace on its first call, part of ``fixture - plain``).

Each test is timed from the start to the end of its ``pytest_runtest_protocol`` (set-up,
call, teardown, reports). The figure is ``median(fixture) - median(plain)`` per test, the
median over rounds; target <= 1 ms. ``--server thread`` is the plugin's default (a server
thread in the test process); ``process`` is ``--emulator-url`` at a separate
``profile-emulator serve`` (pinned to core 0, pytest to core 1, when there are two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
TARGET_MS = 1.0
KINDS = ("fixture", "plain", "fresh")
QUIET = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:schemathesis",
    "-p",
    "no:hypothesispytest",
    "-p",
    "no:randomly",
    "-q",
)


# The machine's cores, not this process's affinity: bench/run.py keeps itself on core 1.
PINNED = (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if PINNED else []


CONFTEST = """
import json, os, time
import pytest

TIMES = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    start = time.perf_counter()
    yield
    TIMES[item.name] = time.perf_counter() - start


def pytest_sessionfinish(session):
    with open(os.environ["FIXTURE_COST_OUT"], "w") as out:
        json.dump(TIMES, out)
"""

HEADER = """
import uuid

import httpx
import pytest

PROFILE = "/client/users/seed-session-1/profile"
SHARED = {}


@pytest.fixture(scope="session", autouse=True)
def _vendor(emulator_url):  # every test takes it: the same cost on each side
    with httpx.Client(base_url=emulator_url) as client:
        SHARED["vendor"] = client
        yield
"""

TESTS = {
    "fixture": """
def test_fixture_{i}(emulator):
    assert SHARED["vendor"].get(PROFILE, headers=emulator.headers).status_code == 200
""",
    "plain": """
def test_plain_{i}():
    assert SHARED["vendor"].get(PROFILE).status_code == 200
""",
    "fresh": """
def test_fresh_{i}():
    headers = {{"X-Emulator-Namespace": f"b-{{uuid.uuid4().hex[:16]}}"}}
    assert SHARED["vendor"].get(PROFILE, headers=headers).status_code == 200
""",
}


def test_module(n: int) -> str:
    """N tests of each kind, interleaved, the order rotating so no kind always goes first."""
    parts = [HEADER]
    for i in range(n):
        for k in range(len(KINDS)):
            parts.append(TESTS[KINDS[(i + k) % len(KINDS)]].format(i=i))
    return "".join(parts)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_health(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    request = b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(request)
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"no emulator answered on port {port}")


def start_server() -> tuple[subprocess.Popen, str]:
    port = free_port()
    serve = Path(PYTHON).with_name("profile-emulator")
    argv = [*pin(0), str(serve), "serve", "--port", str(port), "--fixtures", str(REPO / "fixtures")]
    proc = subprocess.Popen(
        argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_health(port)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, f"http://127.0.0.1:{port}"


def one_session(folder: Path, n: int, url: str | None) -> dict[str, list[float]]:
    """Run the inner session once; the per-test seconds of each kind, in run order."""
    out = folder / "times.json"
    env = {**os.environ, "FIXTURE_COST_OUT": str(out), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("EMULATOR_URL", None)
    env.pop("PYTEST_ADDOPTS", None)
    argv = [*pin(1), PYTHON, "-m", "pytest", *QUIET, "test_cost.py"]
    if url:
        argv += ["--emulator-url", url]
    done = subprocess.run(argv, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(
            f"inner pytest failed ({done.returncode}):\n{done.stdout[-3000:]}{done.stderr[-2000:]}"
        )
    times = json.loads(out.read_text())
    return {
        kind: [s for name, s in times.items() if name.startswith(f"test_{kind}_")] for kind in KINDS
    }


def measure(
    n: int = 200,
    rounds: int = 3,
    servers: tuple[str, ...] = ("thread", "process"),
    log=lambda msg: None,
) -> dict[str, Any]:
    commit = (
        subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        or "unknown"
    )
    result: dict[str, Any] = {
        "commit": commit,
        "tests": n,
        "rounds": rounds,
        "pinned": PINNED,
        "target_ms": TARGET_MS,
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="fixture-cost-") as tmp:
        folder = Path(tmp)
        (folder / "conftest.py").write_text(textwrap.dedent(CONFTEST))
        (folder / "test_cost.py").write_text(test_module(n))
        for mode in servers:
            proc, url = start_server() if mode == "process" else (None, None)
            try:
                per_round = []
                for r in range(rounds):
                    log(
                        f"fixture cost: {mode} server, round {r + 1}/{rounds}, {n} tests of each kind"
                    )
                    times = one_session(folder, n, url)
                    medians = {kind: statistics.median(times[kind]) * 1000 for kind in KINDS}
                    per_round.append(
                        {
                            **{f"{kind}_median_ms": round(medians[kind], 4) for kind in KINDS},
                            **{
                                f"{kind}_mean_ms": round(
                                    statistics.fmean(times[kind][1:]) * 1000, 4
                                )
                                for kind in KINDS
                            },
                            "overhead_ms": round(medians["fixture"] - medians["plain"], 4),
                            "namespace_seed_ms": round(medians["fresh"] - medians["plain"], 4),
                        }
                    )
            finally:
                if proc is not None:
                    proc.terminate()
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()
            summary = {
                key: round(statistics.median(r[key] for r in per_round), 3) for key in per_round[0]
            }
            result["servers"][mode] = {
                **summary,
                "rounds": per_round,
                "met": summary["overhead_ms"] <= TARGET_MS,
            }
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"emulator fixture cost per test  commit {result['commit']}  ({result['tests']} tests "
        f"of each kind, median of {result['rounds']} rounds, pinned={result['pinned']}):"
    ]
    for mode, s in result["servers"].items():
        lines.append(
            f"  {mode:<7s} server: fixture {s['fixture_median_ms']:.3f} ms  plain "
            f"{s['plain_median_ms']:.3f} ms  fresh namespace {s['fresh_median_ms']:.3f} ms  ->  "
            f"overhead {s['overhead_ms']:.3f} ms (of which namespace seeding "
            f"{s['namespace_seed_ms']:.3f} ms)  goal <= {TARGET_MS} ms  "
            f"{'MET' if s['met'] else 'NOT MET'}"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--tests", type=int, default=200, help="tests of each kind (default %(default)s)"
    )
    p.add_argument(
        "--rounds", type=int, default=3, help="inner sessions per server mode (default %(default)s)"
    )
    p.add_argument(
        "--server",
        default="thread,process",
        help="comma-separated: thread (the plugin's own server), process (--emulator-url)",
    )
    p.add_argument("--out", default="bench/results/fixture_cost.json", help="JSON results file")
    args = p.parse_args(argv)
    args.server = tuple(s.strip() for s in args.server.split(",") if s.strip())
    if not args.server or set(args.server) - {"thread", "process"}:
        p.error("--server takes thread and/or process")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    t0 = time.monotonic()
    result = measure(
        args.tests,
        args.rounds,
        args.server,
        log=lambda msg: print(
            f"[{time.monotonic() - t0:6.1f}s] {msg}", file=sys.stderr, flush=True
        ),
    )
    out = Path(args.out) if os.path.isabs(args.out) else REPO / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"JSON written to {out.relative_to(REPO) if out.is_relative_to(REPO) else out}")
    return 0  # like bench/run.py: a target not met is reported, not an error


if __name__ == "__main__":
    sys.exit(main())
