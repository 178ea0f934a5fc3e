"""The servers measured: each a process in its own group, pinned to core 0, polled until it
answers, stopped group-wide.

- ``emulator``: ``profile-emulator serve`` (or ``--emulator-cmd``), with its control API.
- ``raw``: bench/raw_asgi.py, the framework-free ASGI ceiling on uvicorn.
- ``prism``, ``prism_commerce``: Stoplight Prism mocking openapi/loyalty.yaml and commerce.yaml.
- ``wiremock``: WireMock standalone (the jar of the npm package ``wiremock``) with one stub:
  the loyalty PUT, its body checked against the spec's ProfileUpdate schema, no state.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from .common import BENCH, HOST, REPO, Skip, log, median, pin, rel

PRISM_BIN = BENCH / ".prism" / "node_modules" / ".bin" / "prism"
WIREMOCK_JAR_DIR = BENCH / ".wiremock" / "node_modules" / "wiremock" / "build"
# As users run it: the access log on (one line per vendor call, to the server's log file here).
DEFAULT_EMULATOR_CMD = ".venv/bin/profile-emulator serve --port {port} --fixtures fixtures"
QUIET = " --quiet"  # the emulator_quiet cell: the same command without the access log
RAW_CMD = "{python} bench/raw_asgi.py --host 127.0.0.1 --port {port}"
HEALTH = "/_emulator/health"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_probe(port: int, path: str, timeout: float = 0.5) -> int | None:
    """One GET over a fresh socket: the status code, or None if nothing answered."""
    request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n".encode()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as s:
            s.sendall(request)
            data = s.recv(256)
    except OSError:
        return None
    m = re.match(rb"HTTP/1\.[01] (\d{3})", data)
    return int(m.group(1)) if m else None


def rss_mb(pid: int) -> float | None:
    """Resident set size of a process (Linux /proc), in MB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return round(int(m.group(1)) / 1024, 1) if m else None


def terminate(proc: subprocess.Popen, timeout: float = 30) -> None:
    """SIGTERM a single process and wait for it; SIGKILL if it is still there after `timeout`."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process and its threads so far (Linux /proc), in s."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


@dataclass
class Server:
    """A server process in its own process group, killed (group-wide) by stop()."""

    name: str
    argv: list[str]
    port: int
    ready_path: str
    log_dir: Path
    base_path: str = ""  # Prism ignores the spec's base path: requests to it go without
    env: dict[str, str] | None = None  # the process's environment (None: this one's)
    proc: subprocess.Popen | None = None
    startup_s: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    registry: ClassVar[list[Server]] = []  # every started server, for stop_all

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.name}-{self.port}.log"

    def start(self, timeout: float) -> Server:
        """Spawn and wait until ready_path answers (any status below 500)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env=self.env,
            )
        Server.registry.append(self)
        try:
            self._wait_ready(timeout)
        except Skip:
            self.stop()
            raise
        self.startup_s = time.perf_counter() - started
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        status = None
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise Skip(
                    f"{self.name} exited with code {self.proc.returncode}: {self.log_tail()}"
                )
            status = http_probe(self.port, self.ready_path)
            if status is not None and status < 500:
                return
            time.sleep(0.005)
        raise Skip(
            f"{self.name} not ready after {timeout:.0f} s (GET {self.ready_path}: {status}): "
            f"{self.log_tail()}"
        )

    def rss_mb(self) -> float | None:
        return rss_mb(self.proc.pid) if self.proc else None

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid) if self.proc else None

    def log_tail(self, n: int = 400) -> str:
        try:
            return " ".join(self.log_path.read_bytes()[-n:].decode("utf-8", "replace").split())
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=5)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
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


def expand_cmd(template: str, port: int) -> list[str]:
    return [a.format(port=port, python=sys.executable) for a in shlex.split(template)]


def emulator(
    template: str, log_dir: Path, name: str = "emulator", env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    return Server(name, pin(0) + expand_cmd(template, port), port, HEALTH, log_dir, env=env)


def bytecode_env(cache: Path) -> dict[str, str]:
    """This environment, with Python's bytecode written to and read from `cache` (its own
    tree: nothing is written beside the sources, and no __pycache__ elsewhere is read)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def raw(log_dir: Path) -> Server:
    port = free_port()
    return Server("raw", pin(0) + expand_cmd(RAW_CMD, port), port, "/", log_dir)


def spec_base_path(spec: Path) -> str:
    """The path of the spec's first server URL ('/client' for `url: /client`)."""
    return yaml.safe_load(spec.read_text())["servers"][0]["url"].rstrip("/")


def prism(name: str, spec: Path, verbose: str, log_dir: Path) -> Server:
    if not PRISM_BIN.exists():
        raise Skip(f"{rel(PRISM_BIN)} missing (run bash bench/setup.sh)")
    port = free_port()
    argv = [*pin(0), str(PRISM_BIN), "mock", "-v", verbose, "-h", HOST, "-p", str(port), str(spec)]
    return Server(name, argv, port, "/", log_dir, base_path=spec_base_path(spec))


def wiremock_jar() -> Path:
    jars = sorted(WIREMOCK_JAR_DIR.glob("wiremock-standalone-*.jar"))
    if not jars:
        raise Skip(f"no WireMock jar in {rel(WIREMOCK_JAR_DIR)} (run bash bench/setup.sh)")
    if shutil.which("java") is None:
        raise Skip("java not found (WireMock needs a JRE 11+)")
    return jars[-1]


def resolved(node: Any, doc: dict) -> Any:
    """A schema with its local $refs inlined and the OpenAPI-only keys (x-*, example) left out."""
    if isinstance(node, dict):
        if "$ref" in node:
            target = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return resolved(target, doc)
        return {
            k: resolved(v, doc)
            for k, v in node.items()
            if not k.startswith("x-") and k != "example"
        }
    if isinstance(node, list):
        return [resolved(v, doc) for v in node]
    return node


def loyalty_stub(spec: Path) -> list[dict]:
    """WireMock mappings for the loyalty PUT: 200 when the body matches the spec's
    ProfileUpdate schema, else the vendor's 400 (INVALID_REQUEST)."""
    doc = yaml.safe_load(spec.read_text())
    operation = doc["paths"]["/users/{correlation_id}/profile"]["put"]
    schema = resolved(operation["requestBody"]["content"]["application/json"]["schema"], doc)
    path = {"method": "PUT", "urlPathPattern": spec_base_path(spec) + "/users/[^/]+/profile"}
    json_reply = {"Content-Type": "application/json"}
    return [
        {
            "priority": 1,
            "request": {
                **path,
                "bodyPatterns": [{"matchesJsonSchema": schema, "schemaVersion": "V7"}],
            },
            "response": {
                "status": 200,
                "headers": json_reply,
                "jsonBody": {"debugMessage": "Profile Updated"},
            },
        },
        {
            "priority": 2,
            "request": path,
            "response": {
                "status": 400,
                "headers": json_reply,
                "jsonBody": {
                    "statusCode": 400,
                    "errorCode": "INVALID_REQUEST",
                    "errorMessage": "Request body does not match the schema",
                },
            },
        },
    ]


def wiremock(spec: Path, log_dir: Path) -> Server:
    jar = wiremock_jar()
    root = log_dir / "wiremock-root"
    (root / "mappings").mkdir(parents=True, exist_ok=True)
    (root / "mappings" / "loyalty-put.json").write_text(
        json.dumps({"mappings": loyalty_stub(spec)})
    )
    port = free_port()
    # No request journal and no request log: WireMock at its fastest, as a stateless stub.
    argv = [
        *pin(0),
        "java",
        "-jar",
        str(jar),
        "--port",
        str(port),
        "--bind-address",
        HOST,
        "--root-dir",
        str(root),
        "--no-request-journal",
        "--disable-request-logging",
        "--disable-banner",
    ]
    return Server("wiremock", argv, port, "/__admin/mappings", log_dir)


def emulators(args) -> dict[str, str]:
    """Every emulator of the run, by name: ``emulator`` (the headline: as users run it),
    ``emulator_quiet`` (the same with ``--quiet``: what the access log costs) and each
    ``--variant NAME=CMD`` (e.g. another checkout, measured in the same rounds)."""
    out = {"emulator": args.emulator_cmd}
    if not args.no_quiet:
        out["emulator_quiet"] = args.emulator_cmd + QUIET
    out.update(args.variants)
    return out


def start(name: str, make: Callable[[], Server], timeout: float) -> tuple[Server | None, dict]:
    """Build and start one server; (server, info) or (None, info with the reason)."""
    try:
        srv = make()
        info = {"cmd": " ".join(srv.argv)}
        srv.start(timeout)
    except Skip as exc:
        log(f"{name}: skipped: {exc}")
        return None, {"status": f"skipped: {exc}"}
    info.update(
        status="ok",
        port=srv.port,
        startup_s=round(srv.startup_s, 3),
        log=rel(srv.log_path),
        rss_mb_after_start=srv.rss_mb(),
    )
    log(f"{name}: ready on :{srv.port} in {srv.startup_s:.2f} s")
    return srv, info


def start_all(args, log_dir: Path) -> tuple[dict[str, Server | None], dict[str, dict]]:
    makers: dict[str, tuple[Callable[[], Server], float]] = {
        name: (lambda cmd=cmd, name=name: emulator(cmd, log_dir, name), 60)
        for name, cmd in emulators(args).items()
    }
    makers["raw"] = (lambda: raw(log_dir), 30)
    if not args.no_prism:
        makers["prism"] = (
            lambda: prism("prism", args.loyalty_spec, args.prism_verbose, log_dir),
            90,
        )
        makers["prism_commerce"] = (
            lambda: prism("prism_commerce", args.commerce_spec, args.prism_verbose, log_dir),
            90,
        )
    if not args.no_wiremock:
        makers["wiremock"] = (lambda: wiremock(args.loyalty_spec, log_dir), 90)
    servers, info = {}, {}
    for name, (make, timeout) in makers.items():
        servers[name], info[name] = start(name, make, timeout)
    return servers, info


def cold_start(templates: dict[str, str], spawns: int, log_dir: Path) -> dict[str, dict]:
    """Spawn -> first answer on /_emulator/health, and the RSS right then, `spawns` times per
    emulator (name -> command), the emulators taking turns spawn by spawn (the machine's drift
    lands on each alike), after one spawn each that is not counted: it fills the page cache
    (e.g. after a checkout) and a bytecode cache of this run's own (`bytecode_env`), which the
    counted spawns read, as an installed emulator reads the bytecode pip compiled at its
    install. (Under PYTHONDONTWRITEBYTECODE, as the tests and the other benches run, every
    spawn compiled the emulator's own sources again. The first spawn compiles every module it
    imports, the standard library's too: its figures are kept, as `first_spawn_*`.)"""
    cache = log_dir / "pycache"
    shutil.rmtree(cache, ignore_errors=True)  # the first spawn compiles, in every run
    env = bytecode_env(cache)
    taken: dict[str, dict[str, list]] = {
        name: {"samples": [], "rss": [], "cpu": []} for name in templates
    }
    failed: dict[str, str] = {}
    first: dict[str, dict] = {}
    for i in range(-1, spawns):
        for name, template in templates.items():
            if name in failed:
                continue
            got = taken[name]
            srv = emulator(template, log_dir, f"{name}-cold", env=env)
            try:
                srv.start(timeout=30)
                startup, rss, cpu = srv.startup_s, srv.rss_mb(), srv.cpu_seconds()
            except Skip as exc:
                failed[name] = f"failed: {exc}"
                continue
            finally:
                srv.stop()
            log(
                f"cold start of {name} "
                f"{'(not counted: no bytecode yet)' if i < 0 else f'{i + 1}/{spawns}'}: "
                f"{startup:.3f} s, RSS {rss} MB"
            )
            if i < 0:
                first[name] = {"first_spawn_s": round(startup, 4), "first_spawn_cpu_s": cpu}
                continue
            got["samples"].append(startup)
            got["rss"].append(rss)
            got["cpu"].append(cpu)  # what the start cost the process, waits for a core aside
    out: dict[str, dict] = {}
    for name, got in taken.items():
        if name in failed:
            out[name] = {"status": failed[name], "samples_s": got["samples"], "median_s": None}
            continue
        out[name] = {
            "status": "ok",
            "samples_s": [round(s, 4) for s in got["samples"]],
            "median_s": round(median(got["samples"]), 4),
            "rss_mb": got["rss"],
            "rss_median_mb": median([r for r in got["rss"] if r is not None]),
            "cpu_s": got["cpu"],
            "cpu_median_s": median([c for c in got["cpu"] if c is not None]),
            **first.get(name, {}),
        }
    return out
