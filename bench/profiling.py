#!/usr/bin/env python3
"""Where the emulator's time goes on the valid loyalty PUT, beside the raw ASGI ceiling.

    .venv/bin/python bench/profiling.py loop [--calls 20000] [--rounds 5]
    .venv/bin/python bench/profiling.py live [--seconds 10] [--connections 16] [--out FILE]
    .venv/bin/python bench/profiling.py layers [--calls 4000]
    .venv/bin/python bench/profiling.py top FILE        # summarise a py-spy --format raw file
    .venv/bin/python bench/profiling.py routing [--rounds 4] [--seconds 3]

``loop``: the ASGI apps called in-process (no sockets, no server): the emulator and
bench/raw_asgi.py on the same request, in interleaved rounds, CPU µs per call each and the
difference. With ``--py-spy FILE`` it runs under py-spy instead (raw stacks to FILE).

``live``: a ``profile-emulator serve`` on core 0 under ``py-spy record`` while wrk sends the
valid PUT from core 1; then the summary of ``top``.

``layers``: the same loop with one part of the request path taken out at a time (the
handler replaced by one that answers the same reply; then the spec checks; then Connexion's
routing, the routed operation called straight away): the CPU µs each part costs.

``routing``: live, what Connexion's routing costs a served call: ``profile-emulator serve``
beside the same server whose Connexion middleware is replaced, for the valid PUT's path only,
by a direct call of the routed updateProfile operation (``serve-unrouted``, a bench-only
patch), wrk on both in interleaved rounds; CPU µs per request of each and req/s.

``top``: the functions with the most samples on their own (self) and under them (total),
and the share of samples in each part of the request path (see PARTS).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import load, servers
from harness.common import REPO, pin
from harness.workloads import ENROLL_BODY, loyalty_body

PY_SPY = Path(sys.executable).with_name("py-spy")

# Where a sample is, by the innermost frame of ours or of a dependency it passes through
# (checked from the innermost frame out: the first part that matches wins).
PARTS = [
    ("journal", ("journal.py", "JournalEntry", "Journal.record")),
    ("state (Store, TinyDB)", ("emulator/state.py", "tinydb/")),
    ("handler", ("vendors/",)),
    (
        "validation",
        (
            "validation.py",
            "schemas.py",
            "jsonschema_rs",
            "connexion_seam.py:__call__",
            "request_validation",
            "validators/",
        ),
    ),
    ("operation middleware, fault engine", ("engine.py", "matching.py", "OperationMiddleware")),
    (
        "routing",
        (
            "connexion/middleware/routing",
            "starlette/routing",
            "connexion_seam.py:routed",
            "connexion/middleware/main",
        ),
    ),
    ("reply", ("reply.py",)),
    ("emulator app", ("middleware.py", "dispatcher.py", "payload.py", "context.py")),
    ("server (uvicorn, httptools)", ("uvicorn/", "httptools")),
    ("event loop", ("asyncio/", "uvloop")),
]


def scope_for(method: str, path: str, headers: dict[str, str], body: bytes) -> dict:
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw += [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def call(
    app, method: str, path: str, headers: dict[str, str], body: bytes
) -> tuple[int, bytes]:
    sent: list[dict] = []
    delivered = False

    async def receive() -> dict:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope_for(method, path, headers, body), receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


JSON = {"content-type": "application/json", "accept": "application/json"}


async def session(app) -> tuple[str, str]:
    email = f"ada-profile-{uuid.uuid4().hex[:8]}@example.com"
    status, body = await call(
        app, "POST", "/client/users", JSON, orjson.dumps({**ENROLL_BODY, "email": email})
    )
    account = orjson.loads(body)["accountId"]
    correlation_id = str(uuid.uuid4())
    status, _ = await call(
        app,
        "POST",
        f"/client/users/{account}/sessions",
        {**JSON, "x-identifier-type": "ACCOUNT_ID"},
        orjson.dumps({"correlationId": correlation_id, "channel": "WEBSITE"}),
    )
    assert status == 201, status
    return correlation_id, email


async def per_call_us(app, args: tuple, calls: int) -> float:
    """CPU time per call (this thread's): on a shared machine, time the process spends
    waiting for a core does not count, as wall-clock time would."""
    started = time.thread_time()
    for _ in range(calls):
        await call(app, *args)
    return (time.thread_time() - started) / calls * 1e6


async def loop_main(calls: int, rounds: int) -> None:
    sys.path.insert(0, str(REPO / "bench"))
    import raw_asgi

    from emulator.app import create_app

    app = create_app()
    correlation_id, email = await session(app)
    put = (
        "PUT",
        f"/client/users/{correlation_id}/profile",
        JSON,
        orjson.dumps(loyalty_body(email, True)),
    )
    status, body = await call(app, *put)
    assert status == 200, (status, body)
    await per_call_us(app, put, 1000)  # warm-up
    emu, raw = [], []
    for r in range(rounds):
        pair = [(emu, app), (raw, raw_asgi.app)]
        for out, target in pair if r % 2 == 0 else pair[::-1]:
            out.append(await per_call_us(target, put, calls))
    # The fastest round is the one the machine's other work disturbed least.
    print(
        f"in-process, {calls} calls x {rounds} rounds, valid loyalty PUT (15 fields), CPU time, fastest round:"
    )
    print(f"  emulator {min(emu):7.1f} us/call  rounds {[round(x, 1) for x in emu]}")
    print(f"  raw ASGI {min(raw):7.1f} us/call  rounds {[round(x, 1) for x in raw]}")
    print(f"  added by the emulator: {min(emu) - min(raw):.1f} us/call")


def routed_update(app):
    """The built app's routed updateProfile operation (what Connexion's routing calls for the
    valid PUT): the bench-only patches of `layers` and `serve-unrouted` call it directly."""
    from emulator import connexion_seam

    [validation] = [
        m for m in app.app.middleware_stack if isinstance(m, connexion_seam.ValidationMiddleware)
    ]
    [operation] = [
        op
        for api in validation.apis["/client"]
        for op in api.operations.values()
        if op.operation_id == "updateProfile"
    ]
    return operation


async def layers_main(calls: int) -> None:
    """CPU µs per call with the handler, then the spec checks, then Connexion's routing taken
    out (a bench-only patch of the built app; the emulator itself has no such switch)."""
    from emulator.app import create_app
    from emulator.reply import Reply

    app = create_app()
    correlation_id, email = await session(app)
    put = (
        "PUT",
        f"/client/users/{correlation_id}/profile",
        JSON,
        orjson.dumps(loyalty_body(email, True)),
    )
    operation = routed_update(app)
    dispatcher = operation.next_app

    async def same_reply(ctx):
        await ctx.checked()
        return Reply(200, {"debugMessage": "Profile Updated"})

    async def routed(scope, receive, send):  # what Connexion's routing leaves in the scope
        scope["path_params"] = {"correlation_id": correlation_id}
        await operation(scope, receive, send)

    async def cost() -> float:
        await per_call_us(app, put, 500)
        return min([await per_call_us(app, put, calls) for _ in range(3)])

    steps = [
        ("the whole call", lambda: None),
        (
            "handler (checks, state, EMD) out",
            lambda: dispatcher.handlers.__setitem__(("loyalty", "updateProfile"), same_reply),
        ),
        (
            "spec checks out",
            lambda: setattr(operation.checks, "failure", lambda ctx, headers: None),
        ),
        ("Connexion's routing out", lambda: setattr(app, "app", routed)),
    ]
    import raw_asgi

    raw = min([await per_call_us(raw_asgi.app, put, calls) for _ in range(3)])
    print(f"in-process CPU us per valid loyalty PUT, fastest of 3 x {calls} calls:")
    before = None
    for label, take_out in steps:
        take_out()
        now = await cost()
        part = "" if before is None else f"   (the part taken out: {before - now:5.1f} us)"
        print(f"  {label:34s} {now:6.1f} us{part}")
        before = now
    print(
        f"  {'raw ASGI app, same call':34s} {raw:6.1f} us   (what is left of ours: {before - raw:5.1f} us: "
        f"EmulatorApp, the routed operation, Dispatcher, reply, journal)"
    )


def loop_under_py_spy(out: Path, calls: int) -> None:
    argv = [
        str(PY_SPY),
        "record",
        "--format",
        "raw",
        "--rate",
        "1000",
        "-o",
        str(out),
        "--",
        sys.executable,
        __file__,
        "loop",
        "--calls",
        str(calls),
        "--rounds",
        "1",
    ]
    subprocess.run(pin(0) + argv, check=True)
    top(out, within="EmulatorApp.__call__")


def live(seconds: int, connections: int, out: Path, raw: bool = False) -> None:
    """The emulator (or, with `raw`, bench/raw_asgi.py on the same request) under py-spy."""
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        srv = servers.emulator(servers.DEFAULT_EMULATOR_CMD, Path(tmp)).start(timeout=60)
        target = servers.raw(Path(tmp)).start(timeout=30) if raw else srv
        try:
            import httpx

            with httpx.Client(base_url=srv.url, trust_env=False) as c:
                from harness.workloads import loyalty_put, loyalty_session

                email = f"ada-live-{uuid.uuid4().hex[:8]}@example.com"
                req = loyalty_put(loyalty_session(c, email), email, True)
            load.run(target.url, req, connections, 2)  # warm-up
            spy = subprocess.Popen(
                [
                    str(PY_SPY),
                    "record",
                    "--format",
                    "raw",
                    "--rate",
                    "1000",
                    "--nonblocking",
                    "-d",
                    str(seconds + 1),
                    "-o",
                    str(out),
                    "--pid",
                    str(target.proc.pid),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(0.5)
            cell = load.run(target.url, req, connections, seconds)
            spy.wait(timeout=seconds + 60)
            print(
                f"live: {cell['rps']:.0f} req/s, p50 {cell['p50_ms']} ms, p99 {cell['p99_ms']} ms "
                f"(under py-spy: slower than unprofiled)"
            )
        finally:
            srv.stop()
            target.stop()
    top(out)


def serve_unrouted(port: int) -> None:
    """`profile-emulator serve` with Connexion's routing replaced, for PUT
    /client/users/{correlation_id}/profile only, by a call of the operation it routes to
    (what the routing leaves in the scope is set by hand); every other call is routed."""
    from emulator import app as app_module
    from emulator import cli

    made = app_module.create_app

    def create_app(*args, **kwargs):
        app = made(*args, **kwargs)
        operation = routed_update(app)
        connexion = app.app

        async def unrouted(scope, receive, send):
            path = scope["path"]
            if (
                scope["method"] == "PUT"
                and path.startswith("/client/users/")
                and path.endswith("/profile")
            ):
                scope["path_params"] = {
                    "correlation_id": path[len("/client/users/") : -len("/profile")]
                }
                await operation(scope, receive, send)
            else:
                await connexion(scope, receive, send)

        app.app = unrouted
        return app

    app_module.create_app = create_app
    sys.exit(
        cli.main(["serve", "--port", str(port), "--fixtures", str(REPO / "fixtures"), "--quiet"])
    )


def routing(rounds: int, seconds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        made = {
            "routed": servers.emulator(servers.DEFAULT_EMULATOR_CMD, Path(tmp), "routed"),
            "unrouted": servers.emulator(
                f"{{python}} {__file__} serve-unrouted --port {{port}}", Path(tmp), "unrouted"
            ),
        }
        try:
            import httpx
            from harness.workloads import loyalty_put, loyalty_session

            reqs = {}
            for name, srv in made.items():
                srv.start(timeout=60)
                with httpx.Client(base_url=srv.url, trust_env=False) as c:
                    email = f"ada-routing-{uuid.uuid4().hex[:8]}@example.com"
                    reqs[name] = loyalty_put(loyalty_session(c, email), email, True)
                load.run(srv.url, reqs[name], 16, 2)  # warm-up
            cells: dict[str, list[tuple[float, float]]] = {name: [] for name in made}
            for r in range(rounds):
                for name in list(made) if r % 2 == 0 else list(made)[::-1]:
                    srv = made[name]
                    before = srv.cpu_seconds()
                    cell = load.run(srv.url, reqs[name], 16, seconds)
                    cpu_us = (srv.cpu_seconds() - before) / max(cell["requests"], 1) * 1e6
                    cells[name].append((cpu_us, cell["rps"]))
            print(
                f"live, valid loyalty PUT @16, {rounds} interleaved rounds of {seconds} s, "
                f"the least disturbed round (lowest CPU per request) of each:"
            )
            best = {name: min(rows) for name, rows in cells.items()}
            for name, (cpu_us, rps) in best.items():
                print(
                    f"  {name:9s} {cpu_us:6.1f} us CPU/request  {rps:8,.0f} req/s   "
                    f"rounds {[round(c, 1) for c, _ in cells[name]]}"
                )
            print(
                f"  Connexion's routing: {best['routed'][0] - best['unrouted'][0]:.1f} us CPU per request"
            )
        finally:
            for srv in made.values():
                srv.stop()


def frames(stack: str) -> list[str]:
    return stack.split(";")


def part_of(stack: list[str]) -> str:
    for frame in reversed(stack):
        for part, needles in PARTS:
            if any(n in frame for n in needles):
                return part
    return "other"


def top(path: Path, n: int = 25, within: str = "") -> None:
    """The summary of a py-spy raw file; `within`: only the samples with that frame
    (the loop's calls to the emulator, not its start-up or the raw app's calls)."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    parts: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        k, fs = int(count), frames(stack)
        if within and within not in stack:
            continue
        samples += k
        own[short(fs[-1])] += k
        for f in {short(f) for f in fs}:
            total[f] += k
        parts[part_of(fs)] += k
    print(f"{samples} samples" + (f" under {within}" if within else ""))
    print("by part of the request path (innermost frame that belongs to a part):")
    for part, k in parts.most_common():
        print(f"  {k / samples:6.1%}  {part}")
    print(f"top {n} by own samples:")
    for f, k in own.most_common(n):
        print(f"  {k / samples:6.1%}  {f}")
    print(f"top {n} by total samples (the function and what it calls):")
    for f, k in total.most_common(n):
        print(f"  {k / samples:6.1%}  {f}")


def short(frame: str) -> str:
    """'messages (emulator/reply.py:40)' -> 'messages (emulator/reply.py)': by function."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    file = where.rsplit(":", 1)[0]
    for marker in ("site-packages/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    file = file.replace(str(REPO) + "/", "")
    return f"{name} ({file})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="mode", required=True)
    lp = sub.add_parser("loop")
    lp.add_argument("--calls", type=int, default=20000)
    lp.add_argument("--rounds", type=int, default=5)
    lp.add_argument(
        "--py-spy", type=Path, default=None, help="profile the loop, raw stacks to this file"
    )
    ly = sub.add_parser("layers")
    ly.add_argument("--calls", type=int, default=4000)
    lv = sub.add_parser("live")
    lv.add_argument("--seconds", type=int, default=10)
    lv.add_argument("--connections", type=int, default=16)
    lv.add_argument(
        "--raw", action="store_true", help="profile bench/raw_asgi.py instead, on the same request"
    )
    lv.add_argument("--out", type=Path, default=REPO / "bench/results/profile-live.txt")
    rt = sub.add_parser("routing")
    rt.add_argument("--rounds", type=int, default=4)
    rt.add_argument("--seconds", type=int, default=3)
    su = sub.add_parser("serve-unrouted")
    su.add_argument("--port", type=int, required=True)
    tp = sub.add_parser("top")
    tp.add_argument("file", type=Path)
    tp.add_argument(
        "--within", default="", help="only samples with this frame, e.g. EmulatorApp.__call__"
    )
    args = p.parse_args(argv)
    if args.mode in ("live",) or (args.mode == "loop" and args.py_spy):
        if not PY_SPY.exists() or shutil.which("wrk") is None:
            print("needs py-spy in the venv (bash bench/setup.sh) and wrk", file=sys.stderr)
            return 2
    if args.mode == "loop" and args.py_spy:
        loop_under_py_spy(args.py_spy, args.calls)
    elif args.mode == "loop":
        asyncio.run(loop_main(args.calls, args.rounds))
    elif args.mode == "layers":
        sys.path.insert(0, str(REPO / "bench"))
        asyncio.run(layers_main(args.calls))
    elif args.mode == "live":
        args.out.parent.mkdir(parents=True, exist_ok=True)
        live(args.seconds, args.connections, args.out, args.raw)
    elif args.mode == "routing":
        if shutil.which("wrk") is None:
            print("needs wrk (bash bench/setup.sh)", file=sys.stderr)
            return 2
        routing(args.rounds, args.seconds)
    elif args.mode == "serve-unrouted":
        serve_unrouted(args.port)
    else:
        top(args.file, within=args.within)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    sys.exit(main())
