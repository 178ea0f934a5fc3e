#!/usr/bin/env python3
"""Benchmark the emulator against the raw-ASGI ceiling and Stoplight Prism (issue 5).

    bash bench/setup.sh                       # once: Prism into bench/.prism, wrk
    .venv/bin/python bench/run.py [--quick] [--duration S] [--out bench/results/latest.json]

Everything runs on 127.0.0.1 with bounded durations. Servers are pinned to core 0 and
wrk to core 1 (taskset) when the machine has two cores or more. One table is printed
(emulator req/s, p50, p99 and the ratios to raw ASGI and Prism of the same run), then
cold start, reset time and latency by state size, then the issue's targets (MET/NOT MET).
The same data is written as JSON to --out. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import orjson

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
LUA = BENCH / "lua"
REQUEST_LUA = LUA / "request.lua"
FILL_LUA = LUA / "fill.lua"
PRISM_BIN = BENCH / ".prism" / "node_modules" / ".bin" / "prism"
HOST = "127.0.0.1"

DEFAULT_EMULATOR_CMD = ".venv/bin/profile-emulator serve --port {port} --fixtures fixtures --quiet"
DEFAULT_RAW_CMD = "{python} bench/raw_asgi.py --host 127.0.0.1 --port {port}"

WORKLOADS = ("loyalty_valid", "loyalty_invalid", "commerce_update", "mixed_faults")
SERVERS = ("emulator", "raw", "prism")

ENROLL_BODY = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
}
FAULT_RULE = {
    "match": {"api": "loyalty", "operation": "updateProfile"},
    "error": "loyalty.EMAIL_ALREADY_EXISTS",
    "probability": 0.1,
}

TARGETS = {
    "valid_vs_prism": 2.0,
    "valid_vs_raw": 0.25,
    "p99_ms": 10.0,
    "cold_start_s": 1.0,
    "reset_ms": 5.0,
    "latency_ratio": 1.2,
}

T0 = time.monotonic()

# Headers sent on every call to every server (--namespace adds X-Emulator-Namespace).
EXTRA_HEADERS: dict[str, str] = {}


def log(msg: str) -> None:
    print(f"[{time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


class Terminated(BaseException):
    """SIGTERM/SIGHUP: unwind like Ctrl-C, stop the servers, still write what was measured."""


class Skip(Exception):
    """A measurement that cannot be made; the message is the reason recorded."""


# --------------------------------------------------------------------------- processes


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


PINNED = cpu_count() >= 2 and shutil.which("taskset") is not None


def pin(core: int) -> list[str]:
    return ["taskset", "-c", str(core)] if PINNED else []


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """A server process in its own process group, killed (group-wide) by stop()."""

    registry: list["Server"] = []

    def __init__(self, name: str, argv: list[str], port: int, log_dir: Path):
        self.name = name
        self.argv = argv
        self.port = port
        self.url = f"http://{HOST}:{port}"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{name}-{port}.log"
        self.proc: subprocess.Popen | None = None
        self.started_at = 0.0
        self.startup_s: float | None = None
        self.base_path = ""  # Prism: the spec's base path, which Prism ignores

    def start(self) -> "Server":
        self._log = open(self.log_path, "wb")
        self.started_at = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        Server.registry.append(self)
        return self

    def wait_ready(self, path: str, want: Callable[[int], bool], timeout: float) -> float:
        """Poll until GET path answers a status accepted by want; return seconds since spawn."""
        deadline = time.perf_counter() + timeout
        status = None
        while time.perf_counter() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise Skip(f"{self.name} exited with code {self.proc.returncode if self.proc else '?'}: "
                           f"{self.log_tail()}")
            status = http_probe(self.port, path)
            if status is not None and want(status):
                self.startup_s = time.perf_counter() - self.started_at
                return self.startup_s
            time.sleep(0.005)
        seen = f"last answer to GET {path}: {status}" if status is not None else f"GET {path} never answered"
        raise Skip(f"{self.name} not ready after {timeout:.0f} s ({seen}): {self.log_tail()}")

    def log_tail(self, n: int = 400) -> str:
        try:
            text = self.log_path.read_bytes()[-n:].decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(text.split())

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(timeout=wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        else:
            # The leader is gone; make sure nothing it left in its group lives on.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self._log.close()
        except Exception:
            pass
        if self in Server.registry:
            Server.registry.remove(self)
        self.proc = None

    @classmethod
    def stop_all(cls) -> None:
        for server in list(cls.registry):
            try:
                server.stop()
            except Exception as exc:  # keep going: every server must be stopped
                log(f"could not stop {server.name}: {exc}")


def http_probe(port: int, path: str, timeout: float = 0.5) -> int | None:
    """One GET over a fresh socket; the status code, or None if nothing answered."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode())
            data = b""
            while b"\r\n" not in data and len(data) < 256:
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def spec_base_path(spec: str | Path) -> str:
    """Path part of the spec's first server URL ('/client' for url: /client), '' if none.

    Prism ignores base paths by design (its FAQ: "base paths are completely ignored"), so
    the request Prism gets is the same one minus this prefix.
    """
    try:
        text = Path(spec).read_text()
    except OSError:
        return ""
    url = None
    try:
        import yaml  # the project depends on PyYAML

        doc = yaml.safe_load(text)
        servers = doc.get("servers") if isinstance(doc, dict) else None
        if servers and isinstance(servers[0], dict):
            url = servers[0].get("url")
    except Exception:
        m = re.search(r"^servers:\s*\n\s*-\s*url:\s*['\"]?([^\s'\"]+)", text, re.M)
        url = m.group(1) if m else None
    if not url:
        return ""
    path = urllib.parse.urlparse(url).path if "://" in url else url
    return path.rstrip("/")


def for_prism(req: "Req", base: str) -> "Req":
    if base and req.path.startswith(base + "/"):
        req = Req(req.method, req.path[len(base):], req.headers, req.body, req.expect,
                  [f"path without the spec's base path {base} (Prism ignores base paths)"])
    return req


def expand_cmd(template: str, port: int) -> list[str]:
    return [a.format(port=port, python=sys.executable) for a in shlex.split(template)]


def cmd_exists(argv: list[str]) -> bool:
    exe = argv[0]
    if "/" in exe:
        return (REPO / exe).exists() if not os.path.isabs(exe) else os.path.exists(exe)
    return shutil.which(exe) is not None


# --------------------------------------------------------------------------- wrk


@dataclass
class Req:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    expect: int = 200  # status of every response, except for mixed_faults
    notes: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {
            "BENCH_METHOD": self.method,
            "BENCH_BODY": (self.body or b"").decode(),
            "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in self.headers.items()),
        }


def wrk_cmd(url: str, script: Path, connections: int, duration: int, threads: int | None = None) -> list[str]:
    if threads is None:
        threads = 1 if PINNED else min(2, connections)
    return pin(1) + [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s",
        "--latency", "--timeout", "5s", "-s", str(script), url,
    ]


def run_wrk_raw(argv: list[str], env: dict[str, str], duration: float) -> dict:
    proc = subprocess.run(
        argv, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
        timeout=duration + 60,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return orjson.loads(line[len("BENCH_JSON "):])
    raise Skip(f"wrk gave no result (exit {proc.returncode}): {(proc.stderr or proc.stdout)[-300:].strip()}")


def run_wrk(server: "Server", req: Req, connections: int, duration: int) -> dict:
    data = run_wrk_raw(wrk_cmd(server.url + req.path, REQUEST_LUA, connections, duration), req.env(), duration)
    secs = data["duration_us"] / 1e6
    n = data["requests"]
    pct = data["latency_us"]["percentiles"]
    e = data["errors"]
    return {
        "rps": round(n / secs, 1) if secs else 0.0,
        "p50_ms": round(pct["50"] / 1000, 3),
        "p90_ms": round(pct["90"] / 1000, 3),
        "p99_ms": round(pct["99"] / 1000, 3),
        "p999_ms": round(pct["99.9"] / 1000, 3),
        "mean_ms": round(data["latency_us"]["mean"] / 1000, 3),
        "max_ms": round(data["latency_us"]["max"] / 1000, 3),
        "requests": n,
        "seconds": round(secs, 3),
        # wrk counts every response with status > 399 as a "status error".
        "status_4xx_5xx": e["status"],
        "socket_errors": e["connect"] + e["read"] + e["write"] + e["timeout"],
        "connections": connections,
    }


# --------------------------------------------------------------------------- helpers


def find_key(obj: Any, key: str) -> Any:
    """First value of key anywhere in a JSON document (depth-first), or None."""
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        for v in obj.values():
            found = find_key(v, key)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = find_key(v, key)
            if found is not None:
                return found
    return None


def jbody(resp: httpx.Response) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return None


def short(resp: httpx.Response, n: int = 160) -> str:
    return f"{resp.status_code} {resp.text[:n]!r}"


def client_for(server: Server, timeout: float = 30.0) -> httpx.Client:
    # trust_env=False: never route loopback traffic through a proxy from the environment.
    return httpx.Client(base_url=server.url, timeout=timeout, trust_env=False, headers=EXTRA_HEADERS)


def rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


class Budget:
    def __init__(self, seconds: float):
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def need(self, seconds: float, what: str) -> None:
        if self.left() < seconds:
            raise Skip(f"time budget: {what} needs ~{seconds:.0f} s, {max(self.left(), 0):.0f} s left")


# --------------------------------------------------------------------------- set-up through the vendor APIs


def answered(r: httpx.Response, what: str, key: str, notes: list[str]) -> str:
    """`key` from a set-up call's 2xx answer (a placeholder, noted, if it lacks one);
    Skip when the call was refused. `what` is e.g. "enroll: POST /client/users"."""
    if r.status_code >= 300:
        raise Skip(f"{what} answered {short(r)}")
    value = find_key(jbody(r), key)
    if value is None:
        name = what.split(":")[0]
        notes.append(f"{name} answered {r.status_code} without {key}; using a placeholder")
        value = f"bench-placeholder-{key}"
    return str(value)


def enroll(c: httpx.Client, email: str, notes: list[str]) -> str:
    r = c.post("/client/users", json={**ENROLL_BODY, "email": email})
    return answered(r, "enroll: POST /client/users", "accountId", notes)


def loyalty_session(c: httpx.Client, email: str, notes: list[str]) -> str:
    """Enroll a member and open a session; return the session's correlation id."""
    account_id = enroll(c, email, notes)
    correlation_id = str(uuid.uuid4())
    r = c.post(
        f"/client/users/{account_id}/sessions",
        json={"correlationId": correlation_id, "channel": "WEBSITE"},
        headers={"X-Identifier-Type": "ACCOUNT_ID"},
    )
    if r.status_code >= 300:
        raise Skip(f"session: POST /client/users/{{accountId}}/sessions answered {short(r)}")
    answered = find_key(jbody(r), "correlationId")
    return str(answered) if answered else correlation_id


def loyalty_put(correlation_id: str, email: str, valid: bool) -> Req:
    body = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "email": email,
        "dateOfBirth": "1990-01-01",
        "gender": "F",
        "postalZipCode": "H0H 0H0" if valid else "nope",
        "extendedData": {"casl": True},
        "extendedDataSource": "MARKETING",
    }
    return Req(
        "PUT", f"/client/users/{correlation_id}/profile",
        {"Content-Type": "application/json", "Accept": "application/json", **EXTRA_HEADERS},
        orjson.dumps(body), expect=200 if valid else 400,
    )


def commerce_put(profile_id: str, token: str) -> Req:
    return Req(
        "PUT", f"/ccadmin/v1/profiles/{profile_id}",
        {"Content-Type": "application/json", "Accept": "application/json", "Authorization": f"Bearer {token}",
         **EXTRA_HEADERS},
        orjson.dumps({"firstName": "Kim", "lastName": "Anderson"}), expect=200,
    )


def commerce_setup(c: httpx.Client, notes: list[str]) -> Req:
    r = c.post(
        "/ccadmin/v1/login", data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    token = answered(r, "login: POST /ccadmin/v1/login", "access_token", notes)
    auth = {"Authorization": f"Bearer {token}"}
    body = {"firstName": "Kim", "lastName": "Anderson", "email": "kim-bench@example.com"}
    r = c.post("/ccadmin/v1/profiles", json=body, headers=auth)
    if r.status_code in (400, 409):  # e-mail taken (e.g. a second run on the same instance)
        body["email"] = f"kim-bench-{uuid.uuid4().hex[:8]}@example.com"
        r = c.post("/ccadmin/v1/profiles", json=body, headers=auth)
    profile_id = answered(r, "create profile: POST /ccadmin/v1/profiles", "id", notes)
    return commerce_put(profile_id, token)


def preflight(server: Server, req: Req) -> dict:
    """One request like the workload's, to record what the server answers."""
    with client_for(server) as c:
        r = c.request(req.method, req.path, headers=req.headers, content=req.body)
    return {"status": r.status_code, "expected": req.expect, "body": r.text[:200]}


# --------------------------------------------------------------------------- phases


def measure_cold_start(emulator_cmd: str, spawns: int, log_dir: Path) -> dict:
    samples: list[float] = []
    for i in range(spawns):
        port = free_port()
        srv = Server("emulator-cold", pin(0) + expand_cmd(emulator_cmd, port), port, log_dir)
        try:
            srv.start()
            samples.append(srv.wait_ready("/_emulator/health", lambda s: s == 200, timeout=30))
        except Skip as exc:
            return {"status": f"failed: {exc}", "samples_s": samples, "median_s": None}
        finally:
            srv.stop()
        log(f"cold start {i + 1}/{spawns}: {samples[-1]:.3f} s")
    return {"status": "ok", "samples_s": [round(s, 4) for s in samples], "median_s": round(median(samples), 4)}


def start_servers(args, log_dir: Path) -> tuple[dict[str, Server | None], dict[str, dict]]:
    servers: dict[str, Server | None] = {}
    info: dict[str, dict] = {}

    def launch(name: str, argv: list[str], port: int, path: str, want, timeout: float, base: str = "") -> None:
        info[name] = {"cmd": " ".join(argv)}
        if not cmd_exists(argv[len(pin(0)):]):
            servers[name] = None
            info[name]["status"] = f"skipped: {argv[len(pin(0))]} not found"
            log(f"{name}: {info[name]['status']}")
            return
        srv = Server(name, argv, port, log_dir)
        srv.base_path = base
        try:
            srv.start()
            secs = srv.wait_ready(path, want, timeout)
        except Skip as exc:
            srv.stop()
            servers[name] = None
            info[name]["status"] = f"failed: {exc}"
            log(f"{name}: {info[name]['status']}")
            return
        servers[name] = srv
        info[name].update(status="ok", port=port, startup_s=round(secs, 3), log=rel(srv.log_path))
        log(f"{name}: ready on :{port} in {secs:.2f} s")

    port = free_port()
    launch("emulator", pin(0) + expand_cmd(args.emulator_cmd, port), port,
           "/_emulator/health", lambda s: s == 200, 60)
    port = free_port()
    launch("raw", pin(0) + expand_cmd(DEFAULT_RAW_CMD, port), port, "/", lambda s: s == 200, 30)

    for name, spec in (("prism", args.loyalty_spec), ("prism_commerce", args.commerce_spec)):
        if args.no_prism:
            servers[name], info[name] = None, {"status": "skipped: --no-prism"}
        elif not Path(spec).exists():
            servers[name], info[name] = None, {"status": f"skipped: {spec} does not exist"}
            log(f"{name}: {info[name]['status']}")
        elif not PRISM_BIN.exists():
            servers[name], info[name] = None, {"status": f"skipped: {PRISM_BIN.relative_to(REPO)} missing (run bash bench/setup.sh)"}
            log(f"{name}: {info[name]['status']}")
        else:
            port = free_port()
            launch(name, pin(0) + [str(PRISM_BIN), "mock", "-v", args.prism_verbose, "-h", HOST, "-p", str(port),
                                  str(spec)], port,
                   "/", lambda s: True, 90, base=spec_base_path(spec))
            if name in info and info[name].get("status") == "ok":
                info[name]["spec"] = str(spec)
                info[name]["base_path_stripped"] = spec_base_path(spec)
    return servers, info


def requests_for(workload: str, servers: dict[str, Server | None], notes: list[str]) -> dict[str, Req | str]:
    """The request each server gets for a workload, or the reason it gets none."""
    out: dict[str, Req | str] = {}
    emu = servers.get("emulator")
    placeholder_corr = str(uuid.uuid4())
    placeholder_email = "ada-bench@example.com"

    if workload in ("loyalty_valid", "loyalty_invalid", "mixed_faults"):
        valid = workload != "loyalty_invalid"
        if emu is None:
            out["emulator"] = "emulator not running"
        else:
            email = f"ada-{workload.replace('_', '-')}-{uuid.uuid4().hex[:8]}@example.com"
            try:
                with client_for(emu) as c:
                    corr = loyalty_session(c, email, notes)
                out["emulator"] = loyalty_put(corr, email, valid)
            except (Skip, httpx.HTTPError) as exc:
                out["emulator"] = f"set-up failed: {exc}"
        if workload == "mixed_faults":
            # The references have no fault rules: their figures are those of loyalty_valid.
            out["raw"] = out["prism"] = "same request as loyalty_valid (figures reused)"
        else:
            ref = loyalty_put(placeholder_corr, placeholder_email, valid)
            out["raw"] = Req(ref.method, ref.path, ref.headers, ref.body, expect=200)  # no validation
            out["prism"] = for_prism(ref, servers["prism"].base_path) if servers.get("prism") else "prism not running"
    elif workload == "commerce_update":
        if emu is None:
            out["emulator"] = "emulator not running"
        else:
            try:
                with client_for(emu) as c:
                    out["emulator"] = commerce_setup(c, notes)
            except (Skip, httpx.HTTPError) as exc:
                out["emulator"] = f"set-up failed: {exc}"
        ref = commerce_put("bench-profile", "bench-token")
        out["raw"] = ref
        out["prism"] = (for_prism(ref, servers["prism_commerce"].base_path) if servers.get("prism_commerce")
                        else "no Prism for commerce (no commerce spec)")
    return out


def install_fault(emu: Server) -> tuple[str | None, Callable[[], str]]:
    """Install the 10 % fault rule; (None, cleanup) on success, (reason, noop) otherwise."""
    with client_for(emu) as c:
        r = c.post("/_emulator/faults", json=FAULT_RULE)
    if r.status_code == 404:
        return "skipped: POST /_emulator/faults answered 404 (control API not available)", lambda: "n/a"
    if r.status_code >= 300:
        return f"skipped: POST /_emulator/faults answered {short(r)}", lambda: "n/a"
    rule_id = find_key(jbody(r), "id")

    def cleanup() -> str:
        with client_for(emu) as c:
            tries = ([f"/_emulator/faults/{rule_id}"] if rule_id is not None else []) + ["/_emulator/faults"]
            for path in tries:
                resp = c.delete(path)
                if resp.status_code < 300:
                    return f"removed with DELETE {path}"
        return "not removed (no DELETE answered 2xx); the state phase uses a fresh emulator anyway"

    return None, cleanup


def check_cell(workload: str, cell: dict) -> str:
    """'ok' when the share of 4xx/5xx answers is what the workload expects."""
    n = cell["requests"] or 1
    bad = cell["status_4xx_5xx"] / n
    if cell["socket_errors"]:
        return f"socket errors: {cell['socket_errors']}"
    if workload == "loyalty_invalid":
        return "ok" if bad > 0.999 else f"only {bad:.1%} 4xx/5xx"
    if workload == "mixed_faults":
        return "ok" if 0.05 <= bad <= 0.15 else f"{bad:.1%} 4xx/5xx (want ~10%)"
    return "ok" if bad == 0 else f"{bad:.1%} 4xx/5xx"


CELL_FIGURES = ("rps", "p50_ms", "p90_ms", "p99_ms", "p999_ms", "mean_ms")


def merge_rounds(rounds: list[dict]) -> dict:
    """One cell from its rounds: each figure is the median of the rounds' figures, request
    and error counts are summed, and every round is kept under `rounds`."""
    cell = {key: round(median([r[key] for r in rounds]), 3) for key in CELL_FIGURES}
    cell["max_ms"] = max(r["max_ms"] for r in rounds)
    for key in ("requests", "status_4xx_5xx", "socket_errors"):
        cell[key] = sum(r[key] for r in rounds)
    cell["seconds"] = round(sum(r["seconds"] for r in rounds), 3)
    cell["connections"] = rounds[0]["connections"]
    cell["rounds"] = [{key: r[key] for key in ("rps", "p50_ms", "p99_ms")} for r in rounds]
    return cell


def run_workloads(args, servers, budget: Budget) -> dict:
    """Every workload on every server, the servers interleaved: for each connection count,
    `--rounds` rounds, each round one wrk cell per server (the order rotating). A shared VM
    drifts by tens of percent within minutes; interleaving puts the same drift into the
    emulator's figures and the references' figures, so their ratio holds."""
    results: dict[str, dict] = {}
    for workload in args.workloads:
        notes: list[str] = []
        wres: dict[str, Any] = {"notes": notes, "servers": {}}
        results[workload] = wres
        reqs = requests_for(workload, servers, notes)
        cleanup = None
        running: list[tuple[str, Server, Req]] = []
        try:
            for name in SERVERS:
                req = reqs.get(name)
                sres: dict[str, Any] = {"cells": {}}
                wres["servers"][name] = sres
                if isinstance(req, str) or req is None:
                    sres["status"] = f"skipped: {req}"
                    continue
                srv_name = "prism_commerce" if (name == "prism" and workload == "commerce_update") else name
                srv = servers[srv_name]
                sres["request"] = {"method": req.method, "path": req.path, "body": (req.body or b"").decode()}
                if req.notes:
                    sres["request"]["notes"] = req.notes
                if workload == "mixed_faults" and name == "emulator":
                    reason, cleanup = install_fault(srv)
                    if reason:
                        sres["status"] = reason
                        log(f"{workload}/{name}: {reason}")
                        continue
                    sres["fault_rule"] = FAULT_RULE
                else:
                    sres["preflight"] = preflight(srv, req)
                    if sres["preflight"]["status"] != req.expect:
                        notes.append(f"{name}: answered {sres['preflight']['status']} where {req.expect} "
                                     f"is expected: {sres['preflight']['body'][:120]}")
                running.append((name, srv, req))
            cells_needed = len(running) * (len(args.connections) * args.rounds * (args.duration + 0.5) + args.warmup)
            budget.need(cells_needed, workload)
            for name, srv, req in running:
                if args.warmup:
                    run_wrk(srv, req, 16, args.warmup)
            for conns in args.connections:
                rounds: dict[str, list[dict]] = {name: [] for name, _, _ in running}
                for r in range(args.rounds):
                    turn = r % len(running)
                    for name, srv, req in running[turn:] + running[:turn]:
                        rounds[name].append(run_wrk(srv, req, conns, args.duration))
                for name, srv, req in running:
                    cell = merge_rounds(rounds[name])
                    cell["check"] = check_cell("loyalty_valid" if name == "raw" else workload, cell)
                    pre = wres["servers"][name].get("preflight")
                    if pre and pre["status"] != pre["expected"]:
                        cell["check"] = f"answers {pre['status']}, want {pre['expected']}"
                    wres["servers"][name]["cells"][str(conns)] = cell
                    spread = ", ".join(f"{x['rps']:.0f}" for x in cell["rounds"])
                    log(f"{workload:16s} {name:8s} c={conns:<3d} {cell['rps']:9.0f} req/s  "
                        f"p50 {cell['p50_ms']:7.2f} ms  p99 {cell['p99_ms']:7.2f} ms  [{cell['check']}]"
                        f"  rounds: {spread}")
            for name, _, _ in running:
                wres["servers"][name]["status"] = "ok"
        except (Skip, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
            for name, _, _ in running:
                wres["servers"][name].setdefault("status", f"failed: {exc}")
            log(f"{workload}: failed: {exc}")
        finally:
            if cleanup is not None:
                wres["servers"]["emulator"]["fault_cleanup"] = cleanup()
    # mixed_faults: the references' figures are loyalty_valid's.
    if "mixed_faults" in results and "loyalty_valid" in results:
        for name in ("raw", "prism"):
            ref = results["loyalty_valid"]["servers"].get(name, {})
            if ref.get("cells"):
                results["mixed_faults"]["servers"][name] = {**ref, "status": "reused from loyalty_valid"}
    return results


# --------------------------------------------------------------------------- state phase


def wrk_fill(srv: Server, count: int, seconds: float, connections: int = 16) -> dict:
    """Enroll `count` new members through the vendor API with wrk; bounded by `seconds`."""
    if count <= 0:
        return {"ok": 0, "bad": 0, "seconds": 0.0, "rate": None}
    duration = max(1, int(math.ceil(seconds)))
    env = {"BENCH_FILL_PREFIX": f"bench-fill-{uuid.uuid4().hex[:8]}", "BENCH_FILL_COUNT": str(count),
           "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in EXTRA_HEADERS.items())}
    argv = wrk_cmd(srv.url + "/client/users", FILL_LUA, connections, duration, threads=1)
    t = time.perf_counter()
    done_at = None
    data = None
    proc = subprocess.Popen(argv, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # ends when wrk exits: at the latest after -d
            if line.startswith("BENCH_FILL_DONE"):
                done_at = time.perf_counter()
                # The stopped worker thread may still be exiting; repeat until wrk ends.
                for _ in range(20):
                    proc.send_signal(signal.SIGINT)
                    try:
                        proc.wait(timeout=0.25)
                        break
                    except subprocess.TimeoutExpired:
                        continue
            elif line.startswith("BENCH_JSON "):
                data = orjson.loads(line[len("BENCH_JSON "):])
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if data is None:
        err = proc.stderr.read() if proc.stderr else ""
        raise Skip(f"wrk fill gave no result (exit {proc.returncode}): {err[-300:].strip()}")
    secs = (done_at or time.perf_counter()) - t
    out = {"ok": data["ok"], "bad": data["bad"], "seconds": round(secs, 2),
           "rate": round(data["ok"] / secs, 1) if secs else None}
    if data["bad"]:
        out["first_bad_status"] = data["first_bad_status"]
    return out


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_SKIP_KEYS = ("journal", "log", "history", "request")


def synthetic_id(template: str, j: int) -> str:
    if _UUID.match(template):
        return str(uuid.UUID(int=(0xBE4C << 112) | j))
    if template.isdigit():
        width = max(len(template), 10)
        return str(9 * 10 ** (width - 1) + j)
    return f"{template}x{j}"


def expand_snapshot(snapshot: Any, email: str, account_id: str, extra: int) -> tuple[Any, int]:
    """Copy the template member `extra` times in every collection that holds one entry per member.

    The shape is taken from the snapshot itself: any dict or list (outside journal/log-like
    keys) with a direct child whose key or JSON mentions the template member's e-mail or
    account id gets `extra` copies of that child, with the e-mail and id replaced by new
    unique ones. Returns (new snapshot, number of collections expanded).
    """
    e_b, a_b = email.encode(), account_id.encode()
    new_ids = [synthetic_id(account_id, j) for j in range(extra)]
    new_emails = [f"bench-snap-{j}@example.com" for j in range(extra)]

    def mentions(key: Any, value: Any) -> bool:
        if isinstance(key, str) and (email in key or key == account_id):
            return True
        blob = orjson.dumps(value)
        return e_b in blob or (b'"' + a_b + b'"') in blob

    def copies(key: Any, value: Any):
        blob = orjson.dumps(value)
        for j in range(extra):
            b = blob.replace(e_b, new_emails[j].encode()).replace(b'"' + a_b + b'"', b'"' + new_ids[j].encode() + b'"')
            k = key
            if isinstance(key, str):
                k = key.replace(email, new_emails[j]) if email in key else (new_ids[j] if key == account_id else key)
            yield k, orjson.loads(b)

    expanded = 0

    def walk(node: Any) -> Any:
        nonlocal expanded
        if isinstance(node, dict):
            template = None
            for k, v in node.items():
                if isinstance(k, str) and any(s in k.lower() for s in _SKIP_KEYS):
                    continue
                if template is None and (isinstance(k, str) and (email in k or k == account_id)):
                    template = (k, v)
            if template is not None:
                for k, v in copies(*template):
                    node[k] = v
                expanded += 1
                return node
            for k, v in node.items():
                if isinstance(k, str) and any(s in k.lower() for s in _SKIP_KEYS):
                    continue
                if isinstance(v, (dict, list)) and mentions(k, v):
                    node[k] = walk(v)
            return node
        if isinstance(node, list):
            for item in node:
                if mentions(None, item) and not isinstance(item, list):
                    # Is this list one entry per member (the item is the member)? Only if the
                    # item is a record that carries the e-mail or id as a direct value.
                    if isinstance(item, dict) and any(v in (email, account_id) for v in item.values()):
                        node.extend(v for _, v in copies(None, item))
                        expanded += 1
                        return node
            for i, item in enumerate(node):
                if isinstance(item, (dict, list)) and mentions(None, item):
                    node[i] = walk(item)
            return node
        return node

    return walk(snapshot), expanded


def fill_known(c: httpx.Client, n: int, prefix: str) -> list[tuple[str, str]]:
    """Enroll n members one by one (ids known); used for the first 100."""
    pairs = []
    for i in range(n):
        email = f"{prefix}-{i}@example.com"
        r = c.post("/client/users", json={**ENROLL_BODY, "firstName": "Fill", "lastName": "Filler", "email": email})
        if r.status_code >= 300:
            raise Skip(f"enroll answered {short(r)}")
        aid = find_key(jbody(r), "accountId")
        if aid is not None:
            pairs.append((email, str(aid)))
    return pairs


def time_post(c: httpx.Client, path: str) -> tuple[float, int]:
    t = time.perf_counter()
    r = c.post(path)
    return (time.perf_counter() - t) * 1000, r.status_code


def state_phase(args, log_dir: Path, budget: Budget) -> dict:
    out: dict[str, Any] = {
        "reset": {"status": "not run"},
        "latency_by_state": {"status": "not run", "steps": {}},
    }
    port = free_port()
    argv = pin(0) + expand_cmd(args.emulator_cmd, port)
    if not cmd_exists(argv[len(pin(0)):]):
        reason = f"skipped: {argv[len(pin(0))]} not found"
        out["reset"]["status"] = out["latency_by_state"]["status"] = reason
        return out
    srv = Server("emulator-state", argv, port, log_dir)
    try:
        srv.start()
        srv.wait_ready("/_emulator/health", lambda s: s == 200, 60)
    except Skip as exc:
        srv.stop()
        out["reset"]["status"] = out["latency_by_state"]["status"] = f"failed: {exc}"
        return out

    reset = out["reset"]
    lat = out["latency_by_state"]
    steps = lat["steps"]
    try:
        with client_for(srv, timeout=120) as c:
            # -- what the control API offers
            ms, status = time_post(c, "/_emulator/reset")
            reset_ok = status < 300
            if not reset_ok:
                reset["status"] = f"skipped: POST /_emulator/reset answered {status}"
            else:
                empties = [time_post(c, "/_emulator/reset")[0] for _ in range(5)]
                reset["empty_median_ms"] = round(median(empties), 3)
            r = c.get("/_emulator/state")
            state_api = r.status_code == 200 and jbody(r) is not None
            lat["state_api"] = state_api
            if not state_api:
                lat["state_api_note"] = f"GET /_emulator/state answered {r.status_code}"

            # -- 100 profiles: one member with a live session + 99 enrolled one by one
            notes: list[str] = []
            email = f"ada-state-{uuid.uuid4().hex[:8]}@example.com"
            corr = loyalty_session(c, email, notes)
            req = loyalty_put(corr, email, True)
            pairs = fill_known(c, 99, f"bench-known-{uuid.uuid4().hex[:6]}")
            stored = 100
            lat["notes"] = notes
            pre = preflight(srv, req)
            if pre["status"] != 200:
                notes.append(f"PUT profile on the state emulator answered {pre['status']}: {pre['body'][:120]}")

            def measure(label: str, n: int) -> None:
                budget.need(args.duration + 2, f"latency with {label} profiles")
                cell = run_wrk(srv, req, 1, args.duration)
                cell["profiles"] = n
                cell["check"] = check_cell("loyalty_valid", cell)
                steps[label] = cell
                log(f"latency with {n:>7d} profiles: p50 {cell['p50_ms']:.3f} ms  mean {cell['mean_ms']:.3f} ms  "
                    f"p99 {cell['p99_ms']:.3f} ms  [{cell['check']}]")

            run_wrk(srv, req, 1, 1)  # warm-up
            measure("100", stored)

            # -- 10k
            fill_budget = min(args.fill_budget, budget.left() - 60)
            budget.need(10, "filling 10k profiles")
            f = wrk_fill(srv, 10_000 - stored, fill_budget)
            stored += f["ok"]
            lat["fill_10k"] = f
            log(f"filled to {stored} profiles in {f['seconds']} s ({f['rate']} enroll/s)")
            if stored < 9_500:
                raise Skip(f"fill reached only {stored} profiles (fill: {f})")
            measure("10k", stored)
            snap10k = c.get("/_emulator/state").content if state_api else None

            # -- 100k: through HTTP if the rate allows, else a generated snapshot, else skipped
            try:
                need = 100_000 - stored
                rate = f["rate"] or 1.0
                est = need / rate
                room = min(args.fill_budget, budget.left() - (args.duration + 40))
                if est <= room:
                    f2 = wrk_fill(srv, need, room)
                    stored += f2["ok"]
                    lat["fill_100k"] = {**f2, "how": "enroll calls through wrk"}
                    log(f"filled to {stored} profiles in {f2['seconds']} s ({f2['rate']} enroll/s)")
                    if stored < 95_000:
                        raise Skip(f"HTTP fill reached only {stored} profiles in {f2['seconds']} s")
                elif state_api and pairs:
                    t = time.perf_counter()
                    snap = orjson.loads(c.get("/_emulator/state").content)
                    new, n_coll = expand_snapshot(snap, pairs[-1][0], pairs[-1][1], need)
                    if n_coll == 0:
                        raise Skip("no per-member collection found in GET /_emulator/state to expand")
                    r = c.put("/_emulator/state", content=orjson.dumps(new),
                              headers={"Content-Type": "application/json"})
                    if r.status_code >= 300:
                        raise Skip(f"PUT /_emulator/state answered {short(r)}")
                    check = c.get("/_emulator/state").content.count(b"bench-snap-")
                    if check < need:
                        raise Skip(f"after PUT /_emulator/state only {check} generated members are in the state")
                    stored += need
                    lat["fill_100k"] = {"how": f"PUT /_emulator/state with a generated snapshot "
                                               f"({n_coll} collections expanded)",
                                        "seconds": round(time.perf_counter() - t, 2)}
                    pre = preflight(srv, req)
                    if pre["status"] != 200:
                        raise Skip(f"after PUT /_emulator/state the PUT profile answered {pre['status']}")
                    log(f"state set to ~{stored} profiles via PUT /_emulator/state")
                else:
                    raise Skip(f"filling {need} profiles over HTTP would take ~{est:.0f} s at {rate:.0f} enroll/s "
                               f"(room {room:.0f} s) and {'no member id is known' if state_api else 'GET /_emulator/state is not available'}")
                measure("100k", stored)
            except (Skip, httpx.HTTPError) as exc:
                steps["100k"] = {"status": f"skipped: {exc}"}
                log(f"latency with 100k profiles: skipped: {exc}")
            lat["status"] = "ok"

            # -- reset with 10k profiles (5 samples, restore between them)
            if reset_ok:
                samples: list[float] = []
                rate10k = f["rate"] or 1.0
                per_refill = (10_000 / rate10k) * 1.3 + 2
                restores: list[str] = []
                for i in range(5):
                    how = None
                    if snap10k is not None:
                        budget.need(5, "restoring the 10k snapshot")
                        r = c.put("/_emulator/state", content=snap10k, headers={"Content-Type": "application/json"})
                        if r.status_code < 300:
                            how = "PUT /_emulator/state (snapshot taken at 10k)"
                        else:
                            reset.setdefault("notes", []).append(
                                f"PUT /_emulator/state with the 10k snapshot ({len(snap10k) / 1e6:.1f} MB) answered "
                                f"{short(r)}; refilling through enroll calls instead")
                            snap10k = None
                    if how is None:
                        if budget.left() < per_refill + 5:
                            reset.setdefault("notes", []).append(f"time budget: {len(samples)} samples taken")
                            break
                        c.post("/_emulator/reset")
                        fr = wrk_fill(srv, 10_000, min(per_refill, budget.left() - 5))
                        if fr["ok"] < 9_500:
                            raise Skip(f"refill reached only {fr['ok']} profiles")
                        how = "POST /_emulator/reset + 10k enroll calls"
                    restores.append(how)
                    ms, status = time_post(c, "/_emulator/reset")
                    if status >= 300:
                        raise Skip(f"POST /_emulator/reset answered {status}")
                    samples.append(ms)
                    log(f"reset with 10k profiles {i + 1}/5: {ms:.2f} ms")
                reset["restore"] = ", ".join(sorted(set(restores))) or None
                if samples:
                    reset.update(status="ok", samples_ms=[round(s, 3) for s in samples],
                                 median_ms=round(median(samples), 3))
                else:
                    reset["status"] = "skipped: no time left for a sample"
    except (Skip, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
        reason = f"failed: {exc}"
        log(f"state phase: {reason}")
        if lat["status"] == "not run":
            lat["status"] = reason
        if reset["status"] == "not run":
            reset["status"] = reason
    finally:
        srv.stop()

    s100, s100k = steps.get("100", {}), steps.get("100k", {})
    if "p50_ms" in s100 and "p50_ms" in s100k and s100["p50_ms"]:
        lat["ratio_100k_100_p50"] = round(s100k["p50_ms"] / s100["p50_ms"], 3)
        lat["ratio_100k_100_mean"] = round(s100k["mean_ms"] / s100["mean_ms"], 3)
    return out


# --------------------------------------------------------------------------- report


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def build_rows(args, workloads: dict) -> list[dict]:
    rows = []
    for workload in args.workloads:
        w = workloads.get(workload, {"servers": {}})
        for conns in args.connections:
            k = str(conns)
            cell = {n: w["servers"].get(n, {}).get("cells", {}).get(k) for n in SERVERS}
            emu, raw, prism = cell["emulator"], cell["raw"], cell["prism"]
            rows.append({
                "workload": workload,
                "connections": conns,
                "emulator_rps": emu and emu["rps"],
                "emulator_p50_ms": emu and emu["p50_ms"],
                "emulator_p99_ms": emu and emu["p99_ms"],
                "emulator_check": emu and emu["check"],
                "raw_rps": raw and raw["rps"],
                "raw_p99_ms": raw and raw["p99_ms"],
                "prism_rps": prism and prism["rps"],
                "prism_p99_ms": prism and prism["p99_ms"],
                "emulator_vs_raw": ratio(emu and emu["rps"], raw and raw["rps"]),
                "emulator_vs_prism": ratio(emu and emu["rps"], prism and prism["rps"]),
            })
    return rows


def targets(rows: list[dict], scalars: dict) -> list[dict]:
    row16 = next((r for r in rows if r["workload"] == "loyalty_valid" and r["connections"] == 16), None)
    valid_ok = row16 is not None and row16["emulator_check"] == "ok"
    out = []

    def add(name: str, value, goal: str, met: bool | None, why: str = "") -> None:
        if value is None:
            status = f"n/a ({why or 'not measured'})"
        elif not valid_ok and name.startswith("valid PUT"):
            status = f"NOT MET (emulator answers were wrong: {row16 and row16['emulator_check']})"
        else:
            status = "MET" if met else "NOT MET"
        out.append({"target": name, "goal": goal, "value": value, "status": status})

    v = row16 and row16["emulator_vs_prism"]
    add("valid PUT @16 vs Prism", v, f">= {TARGETS['valid_vs_prism']}x", v is not None and v >= TARGETS["valid_vs_prism"])
    v = row16 and row16["emulator_vs_raw"]
    add("valid PUT @16 vs raw ASGI", v, f">= {TARGETS['valid_vs_raw']}x", v is not None and v >= TARGETS["valid_vs_raw"])
    v = row16 and row16["emulator_p99_ms"]
    add("valid PUT p99 @16 (ms)", v, f"<= {TARGETS['p99_ms']}", v is not None and v <= TARGETS["p99_ms"])
    cs = scalars["cold_start"]
    v = cs.get("median_s")
    add("cold start (s)", v, f"<= {TARGETS['cold_start_s']}", v is not None and v <= TARGETS["cold_start_s"], cs.get("status", ""))
    rs = scalars["reset"]
    v = rs.get("median_ms")
    add("reset with 10k profiles (ms)", v, f"<= {TARGETS['reset_ms']}", v is not None and v <= TARGETS["reset_ms"], rs.get("status", ""))
    ls = scalars["latency_by_state"]
    v = ls.get("ratio_100k_100_p50")
    why = ls.get("steps", {}).get("100k", {}).get("status") or ls.get("status", "")
    add("latency 100k / 100 profiles (p50)", v, f"<= {TARGETS['latency_ratio']}x", v is not None and v <= TARGETS["latency_ratio"], why)
    return out


def fmt(v, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def print_report(result: dict) -> None:
    rows = result["rows"]
    head = ("workload", "conns", "emu req/s", "p50 ms", "p99 ms", "raw req/s", "prism req/s", "emu/raw", "emu/prism", "check")
    lines = []
    for r in rows:
        lines.append((
            r["workload"], str(r["connections"]), fmt(r["emulator_rps"], ",.0f"), fmt(r["emulator_p50_ms"], ".2f"),
            fmt(r["emulator_p99_ms"], ".2f"), fmt(r["raw_rps"], ",.0f"), fmt(r["prism_rps"], ",.0f"),
            fmt(r["emulator_vs_raw"], ".3f"), fmt(r["emulator_vs_prism"], ".2f"), r["emulator_check"] or "-",
        ))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h) for i, h in enumerate(head)]
    sep = "  "

    def line(cols) -> str:
        return sep.join(c.ljust(w) if i in (0, 9) else c.rjust(w) for i, (c, w) in enumerate(zip(cols, widths)))

    m = result["meta"]
    print()
    print(f"profile-emulator benchmark  {m['date']}  commit {m['commit']}  "
          f"{m['rounds']} x {m['duration_s']} s/cell  pinned={m['pinned']}  ({m['total_s']:.0f} s in all)")
    print(line(head))
    print(sep.join("-" * w for w in widths))
    for l in lines:
        print(line(l))

    notes = []
    for wname, w in result["workloads"].items():
        for sname, s in w["servers"].items():
            st = s.get("status", "")
            if st and st != "ok" and not st.startswith("reused"):
                notes.append(f"{wname}/{sname}: {st}")
        notes.extend(f"{wname}: {n}" for n in w["notes"])
    for name, s in result["servers"].items():
        if s.get("status") != "ok":
            notes.append(f"server {name}: {s.get('status')}")
    if notes:
        print("notes:")
        for n in notes:
            print(f"  - {n[:300]}")

    sc = result["scalars"]
    print()
    cs = sc["cold_start"]
    print(f"cold start (spawn -> first 200 on /_emulator/health, median of {len(cs.get('samples_s', []))}): "
          + (f"{cs['median_s'] * 1000:.0f} ms  samples {[round(s * 1000) for s in cs['samples_s']]} ms"
             if cs.get("median_s") is not None else cs.get("status", "-")))
    rs = sc["reset"]
    if rs.get("median_ms") is not None:
        print(f"reset with 10k profiles (POST /_emulator/reset round trip, median of {len(rs['samples_ms'])}): "
              f"{rs['median_ms']:.2f} ms  (empty: {fmt(rs.get('empty_median_ms'), '.2f')} ms; restore: {rs.get('restore')})")
    else:
        print(f"reset with 10k profiles: {rs.get('status')}")
    ls = sc["latency_by_state"]
    print("latency of the valid PUT at 1 connection, by profiles stored:")
    for label in ("100", "10k", "100k"):
        s = ls.get("steps", {}).get(label)
        if s and "p50_ms" in s:
            print(f"  {label:>5s} ({s['profiles']:>6d}): p50 {s['p50_ms']:.3f} ms  mean {s['mean_ms']:.3f} ms  "
                  f"p99 {s['p99_ms']:.3f} ms  {s['rps']:,.0f} req/s  [{s['check']}]")
        else:
            print(f"  {label:>5s}: {(s or {}).get('status') or ls.get('status')}")
    if ls.get("ratio_100k_100_p50") is not None:
        print(f"  100k/100: p50 x{ls['ratio_100k_100_p50']:.3f}  mean x{ls['ratio_100k_100_mean']:.3f}")

    print()
    print("targets:")
    for t in result["targets"]:
        v = t["value"]
        print(f"  {t['target']:<36s} {fmt(v, '.3f'):>9s}  goal {t['goal']:<8s} {t['status']}")
    print()


# --------------------------------------------------------------------------- main


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return sha + ("+dirty" if dirty else "") if sha else "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def tool_version(argv: list[str]) -> str | None:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else None
    except (OSError, subprocess.SubprocessError):
        return None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Benchmark the emulator against raw ASGI and Prism (issue 5).")
    p.add_argument("--quick", action="store_true", help="1 round of 2 s per cell and smaller time budgets")
    p.add_argument("--duration", type=int, default=None, help="seconds per wrk run (default 3, --quick 2)")
    p.add_argument("--rounds", type=int, default=None,
                   help="interleaved rounds per cell; figures are their medians (default 3, --quick 1)")
    p.add_argument("--out", default="bench/results/latest.json", help="JSON results file")
    p.add_argument("--emulator-cmd", default=DEFAULT_EMULATOR_CMD,
                   help="command that serves the emulator; {port} is replaced (default: %(default)s)")
    p.add_argument("--loyalty-spec", default="openapi/loyalty.yaml", help="spec Prism mocks")
    p.add_argument("--commerce-spec", default="openapi/commerce.yaml", help="spec a second Prism mocks, if it exists")
    p.add_argument("--connections", default="1,16,64", help="comma-separated connection counts")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of " + ",".join(WORKLOADS))
    p.add_argument("--no-prism", action="store_true", help="do not start Prism")
    p.add_argument("--prism-verbose", default="silent",
                   choices=("trace", "debug", "info", "warn", "error", "fatal", "silent"),
                   help="Prism's -v log level (default %(default)s: at its default 'info' Prism logs ~8 lines "
                        "per request and serves ~5x fewer requests)")
    p.add_argument("--namespace", default=None,
                   help="send X-Emulator-Namespace: NAME on every call (default: none, the 'default' namespace)")
    p.add_argument("--no-state", action="store_true", help="skip reset and latency-by-state measurements")
    p.add_argument("--cold-spawns", type=int, default=5, help="spawns for the cold-start median")
    p.add_argument("--budget", type=float, default=None, help="wall-clock budget in seconds (default 570, --quick 300)")
    args = p.parse_args(argv)
    args.duration = args.duration or (2 if args.quick else 3)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 1 if args.quick else 2
    args.budget = args.budget or (300.0 if args.quick else 570.0)
    args.fill_budget = 60.0 if args.quick else 180.0
    args.connections = [int(c) for c in args.connections.split(",") if c.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = set(args.workloads) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed: run `bash bench/setup.sh` (or `apt-get install -y wrk`)", file=sys.stderr)
        return 2
    out_path = (REPO / args.out) if not os.path.isabs(args.out) else Path(args.out)
    log_dir = out_path.parent / "logs"
    budget = Budget(args.budget)
    if args.namespace:
        EXTRA_HEADERS["X-Emulator-Namespace"] = args.namespace
    if PINNED:
        os.sched_setaffinity(0, {1})  # the harness (and its httpx set-up calls) stays off the servers' core

    def on_term(signum, frame):  # SIGTERM/SIGHUP: unwind through the finally below
        raise Terminated(signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    result: dict[str, Any] = {
        "meta": {
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "commit": git_commit(),
            "host": {"cpus": cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
            "pinned": PINNED,
            "pinning": "servers on core 0, wrk on core 1" if PINNED else "none (fewer than 2 cores or no taskset)",
            "duration_s": args.duration,
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "connections": args.connections,
            "wrk": tool_version(["wrk", "-v"]),
            "prism": tool_version([str(PRISM_BIN), "--version"]) if PRISM_BIN.exists() else None,
            "emulator_cmd": args.emulator_cmd,
            "prism_verbose": args.prism_verbose,
            "namespace": args.namespace or "default",
        },
        "servers": {},
        "workloads": {},
        "scalars": {
            "cold_start": {"status": "not run"},
            "reset": {"status": "not run"},
            "latency_by_state": {"status": "not run"},
        },
    }
    exit_code = 0
    try:
        log(f"cold start: {args.cold_spawns} spawns of: {args.emulator_cmd}")
        argv0 = expand_cmd(args.emulator_cmd, 0)
        if cmd_exists(argv0):
            result["scalars"]["cold_start"] = measure_cold_start(args.emulator_cmd, args.cold_spawns, log_dir)
        else:
            result["scalars"]["cold_start"] = {"status": f"skipped: {argv0[0]} not found"}
        servers, result["servers"] = start_servers(args, log_dir)
        result["workloads"] = run_workloads(args, servers, budget)
        Server.stop_all()
        if args.no_state:
            for k in ("reset", "latency_by_state"):
                result["scalars"][k] = {"status": "skipped: --no-state"}
        else:
            result["scalars"].update(state_phase(args, log_dir, budget))
    except (KeyboardInterrupt, Terminated) as exc:
        signum = exc.args[0] if isinstance(exc, Terminated) else signal.SIGINT
        log(f"interrupted by signal {int(signum)}")
        result["error"] = f"interrupted by signal {int(signum)}"
        exit_code = 128 + int(signum)
    except Exception as exc:  # report what was measured, then fail
        log(f"error: {exc!r}")
        result["error"] = repr(exc)
        exit_code = 1
    finally:
        Server.stop_all()

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    result["meta"]["total_s"] = round(time.monotonic() - T0, 1)
    result["rows"] = build_rows(args, result["workloads"])
    result["targets"] = targets(result["rows"], result["scalars"])
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print_report(result)
    if result.get("error"):
        print(f"run incomplete: {result['error']}")
    print(f"JSON written to {rel(out_path)}")
    if exit_code == 0:  # what the pytest plugin's fixture costs a test: bench/fixture_cost.py
        subprocess.call([sys.executable, str(BENCH / "fixture_cost.py"), *(["--rounds", "1"] if args.quick else [])])
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
