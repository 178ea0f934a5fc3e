#!/usr/bin/env python3
"""Webhook bench: what a registered subscriber costs OCC's updateProfile.

    .venv/bin/python bench/webhooks.py [--calls 2000] [--rounds 3]
    python3 dev.py bench webhooks [same options]

Starts `python -m emulator.cli serve --quiet` on a free loopback port, then, in two fresh
namespaces per round (the order alternating from round to round), sends `--calls` valid
updateProfile calls one after the other over one keep-alive connection: `none` with no
subscriber, `one` with a loopback subscriber (a ThreadingHTTPServer in this process that
answers 200) registered for production-updateProfile, each call publishing a signed
message delivered after its answer. Figures (median of the rounds): calls/s, p50 and p99
latency of the vendor call, and for `one` the deliveries journaled by the end. Nothing here
is a test: bench/README.md keeps the figures.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
UPDATE = "production-updateProfile"


class _Ok(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def _run(base: str, namespace: str, calls: int, hook: str | None) -> dict[str, float]:
    headers = {"X-Emulator-Namespace": namespace}
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        token = http.post(
            "/ccadmin/v1/login",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": "Bearer emulator-app-key"},
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        if hook is not None:
            r = http.put(f"/_emulator/webhooks/{UPDATE}", json={"url": hook, "secret": "s"})
            r.raise_for_status()
        latencies = []
        began = time.perf_counter()
        for i in range(calls):
            start = time.perf_counter()
            r = http.put("/ccadmin/v1/profiles/se-570031", json={"firstName": f"N{i % 97}"})
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
        elapsed = time.perf_counter() - began
        latencies.sort()
        delivered = 0
        if hook is not None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                found = http.get("/_emulator/webhooks").json()
                if found["pending"] == 0:
                    break
                time.sleep(0.1)
            journal = http.get("/_emulator/requests", params={"operation": UPDATE}).json()
            outcomes = Counter(entry["delivery"]["outcome"] for entry in journal["requests"])
            delivered = outcomes.pop("delivered", 0)
            if outcomes:
                print(f"  attempts that failed: {dict(outcomes)}")
    return {
        "rps": calls / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "delivered": delivered,
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    hook_server = ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    hook_server.daemon_threads = True
    threading.Thread(target=hook_server.serve_forever, daemon=True).start()
    hook = f"http://127.0.0.1:{hook_server.server_port}/hook"
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "emulator.cli",
            "serve",
            "--quiet",
            "--port",
            str(port),
            "--journal-size",
            str(2 * args.calls + 10),  # the calls and their deliveries
            "--journal-bytes",
            str(512 * 1024 * 1024),
        ],
        cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/_emulator/health").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        results: dict[str, list[dict[str, float]]] = {"none": [], "one": []}
        for round_ in range(args.rounds):
            order = ["none", "one"] if round_ % 2 == 0 else ["one", "none"]
            for variant in order:
                url = hook if variant == "one" else None
                results[variant].append(_run(base, f"bench-{variant}-{round_}", args.calls, url))
        for variant, runs in results.items():
            figures = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            print(
                f"{variant:>4}: {figures['rps']:7.0f} calls/s  p50 {figures['p50_ms']:.2f} ms  "
                f"p99 {figures['p99_ms']:.2f} ms  delivered {figures['delivered']:.0f}"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
        hook_server.shutdown()


if __name__ == "__main__":
    main()
