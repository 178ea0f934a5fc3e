"""HTTP limits and HEAD, over real sockets, as a client on the wire sees them.

- A request head (request line, header fields, the empty line) over 64 KiB is answered 431
  in its API's error shape (the specs' `HeaderFieldsTooLarge`) and the connection closed:
  an endless header, 100,000 headers; a head of exactly 64 KiB is served.
- A head not whole in time closes the connection (a small bound here; 10 s by default).
- A connection over the cap is answered 503 in its API's shape (the specs'
  `ServiceUnavailable`, with `Retry-After: 1`) and closed; those under the cap are served.
- HEAD is served wherever GET is, with no body on the wire; the journal records what was
  sent (no body); a 405's Allow lists what is served, HEAD beside GET.
- `profile-emulator serve` takes the limits as options.

The expected bodies are the examples of the specs in openapi/. No test here times anything:
waits are bounded only so that a hang fails the test instead of the run
(`python3 dev.py bench http-abuse` measures what the limits do for other clients).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from emulator.server import EmulatorServer
from tests.processes import PROFILE, ROOT, SERVE
from tests.wire import HANG_GUARD, Wire, close_all

KIB = 1024
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
APIS = [  # a spec, and a call of its API
    ("loyalty.yaml", "PUT", PROFILE),
    ("commerce.yaml", "GET", "/ccadmin/v1/profiles/se-570031"),
    ("control.yaml", "GET", "/_emulator/health"),
]


def spec(name: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "openapi" / name).read_text(encoding="utf-8"))


def resolved(doc: dict[str, Any], node: Any) -> Any:
    """`node`, its `$ref`s followed from the top of `doc`."""
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def documented(name: str, status: str) -> Any:
    """The example body `name` gives for `status`: the same for every one of its operations."""
    doc = spec(name)
    bodies = set()
    for item in doc["paths"].values():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            media = resolved(doc, operation["responses"][status])["content"]["application/json"]
            example = media.get("example")
            if example is None:
                example = resolved(doc, next(iter(media["examples"].values())))["value"]
            bodies.add(json.dumps(example, sort_keys=True))
    assert len(bodies) == 1, f"{name}: the {status} of its operations differ: {bodies}"
    return json.loads(bodies.pop())


@pytest.fixture(autouse=True)
def wires_closed() -> Iterator[None]:
    yield
    close_all()


def request(method: str, path: str, namespace: str = "default", extra: bytes = b"") -> bytes:
    length = b"Content-Length: 0\r\n" if method in ("PUT", "POST") else b""
    return (
        (
            f"{method} {path} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: {namespace}\r\n"
        ).encode()
        + length
        + extra
        + b"\r\n"
    )


def head_of(size: int, method: str, path: str) -> bytes:
    """A request head of exactly `size` bytes, padded with one header."""
    bare = request(method, path, extra=b"X-Pad: \r\n")
    return request(method, path, extra=b"X-Pad: " + b"p" * (size - len(bare)) + b"\r\n")


def refused_431(port: int, start: bytes, chunks: Iterator[bytes]) -> tuple[int, Any, int]:
    """Sends `start`, then `chunks` until the server answers (or closes); (status, body,
    bytes sent)."""
    wire = Wire(port)
    wire.sock.sendall(start)
    sent = len(start)
    wire.sock.settimeout(0)
    for chunk in chunks:
        try:
            wire.sock.sendall(chunk)
            sent += len(chunk)
            wire.buffer += wire.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            pass
        except (BrokenPipeError, ConnectionResetError):
            break  # the server closed: its answer is in the socket's buffer
        if wire.buffer:
            break
    wire.sock.settimeout(HANG_GUARD)
    status, headers, body = wire.response()
    assert headers.get("connection") == "close"
    assert wire.closed(), "the connection stayed open after the 431"
    return status, json.loads(body), sent


# --- a head over its bound: 431 in the API's shape


@pytest.mark.parametrize(("name", "method", "path"), APIS)
def test_a_head_over_64_kib_is_the_apis_431_and_the_connection_closes(
    server: EmulatorServer, name: str, method: str, path: str
) -> None:
    wire = Wire(server.port)
    status, _, _ = wire.send(head_of(64 * KIB, "GET", "/_emulator/health")).response()
    assert status == 200, "a head of exactly 64 KiB is served"
    status, headers, body = wire.send(head_of(64 * KIB + 1, method, path)).response()
    assert (status, json.loads(body)) == (431, documented(name, "431"))
    assert headers["connection"] == "close"
    assert wire.closed(), "the connection stayed open after the 431"


def test_a_path_of_no_api_gets_the_plain_431(server: EmulatorServer) -> None:
    wire = Wire(server.port).send(head_of(64 * KIB + 1, "GET", "/nothing/here"))
    status, _, body = wire.response()
    assert (status, json.loads(body)) == (
        431,
        {"error": "headers_too_large", "detail": "Request header fields too large"},
    )


def test_an_endless_header_is_cut_off_with_a_431(server: EmulatorServer) -> None:
    start = f"PUT {PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Endless: ".encode()
    chunks = (b"e" * (64 * KIB) for _ in range(512))  # 32 MiB of one header's value
    status, body, sent = refused_431(server.port, start, chunks)
    assert (status, body) == (431, documented("loyalty.yaml", "431"))
    assert sent < 32 * KIB * KIB, "the server read the whole 32 MiB before answering"


def test_a_hundred_thousand_headers_are_a_431(server: EmulatorServer) -> None:
    start = f"GET {PROFILE} HTTP/1.1\r\nHost: emulator\r\n".encode()
    headers = b"".join(b"X-H%d: 1\r\n" % n for n in range(100_000)) + b"\r\n"
    chunks = (headers[at : at + 16 * KIB] for at in range(0, len(headers), 16 * KIB))
    status, body, _ = refused_431(server.port, start, chunks)
    assert (status, body) == (431, documented("loyalty.yaml", "431"))


# --- a head not whole in time


@pytest.fixture(scope="module")
def timed() -> Iterator[EmulatorServer]:
    with EmulatorServer(head_seconds=0.5) as running:
        yield running


def test_a_head_not_whole_within_the_bound_closes_the_connection(timed: EmulatorServer) -> None:
    slow = Wire(timed.port).send(f"GET {PROFILE} HTTP/1.1\r\nHost: emulator\r\n".encode())
    silent = Wire(timed.port)
    assert slow.closed(), "a head that never ends kept its connection"
    assert silent.closed(), "a connection that sent nothing was kept"
    # Others are served all along; a keep-alive connection waits for its next head as long.
    idle = Wire(timed.port)
    assert idle.send(request("GET", PROFILE)).response()[0] == 200
    assert idle.closed(), "an idle keep-alive connection was kept"


# --- the connection cap: 503 in the API's shape


@pytest.fixture(scope="module")
def capped() -> Iterator[EmulatorServer]:
    with EmulatorServer(max_connections=3) as running:
        yield running


def test_a_connection_over_the_cap_is_the_apis_503_and_those_under_it_are_served(
    capped: EmulatorServer,
) -> None:
    namespace = f"cap-{uuid.uuid4().hex[:8]}"
    held = [Wire(capped.port) for _ in range(3)]
    for wire in held:  # answered, then idle keep-alive: they count
        assert wire.send(request("GET", "/_emulator/health", namespace)).response()[0] == 200
    for name, method, path in APIS:
        over = Wire(capped.port).send(request(method, path, namespace))
        status, headers, body = over.response()
        assert (status, json.loads(body)) == (503, documented(name, "503")), name
        assert (headers["retry-after"], headers["connection"]) == ("1", "close")
        assert over.closed()
    for wire in held:  # under the cap: served, and nothing of the refused calls journaled
        status, _, body = wire.send(request("GET", "/_emulator/requests", namespace)).response()
        assert (status, json.loads(body)["requests"]) == (200, [])
    held[0].close()
    deadline = time.monotonic() + HANG_GUARD
    while (answer := Wire(capped.port).send(request("GET", PROFILE, namespace)).response())[
        0
    ] == 503:
        assert time.monotonic() < deadline, "the place of a closed connection never came free"
    assert answer[0] == 200


# --- HEAD


def get_operations() -> list[tuple[str, str]]:
    """(spec, a concrete path) of every GET operation of every spec, its path parameters
    filled with their examples."""
    found = []
    for name in ("loyalty.yaml", "commerce.yaml", "control.yaml"):
        doc = spec(name)
        base = doc["servers"][0]["url"].rstrip("/")
        for template, item in doc["paths"].items():
            if "get" not in item:
                continue
            path = base + template
            for parameter in [*item.get("parameters", []), *item["get"].get("parameters", [])]:
                parameter = (
                    doc["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
                    if "$ref" in parameter
                    else parameter
                )
                if parameter["in"] == "path":
                    schema = parameter.get("schema", {})
                    example = parameter.get("example", schema.get("example"))
                    if example is None:
                        example = 1 if schema.get("type") == "integer" else "x"
                    path = path.replace(f"{{{parameter['name']}}}", str(example))
            found.append((name, path))
    return found


@pytest.mark.parametrize(("name", "path"), get_operations())
def test_head_is_served_wherever_get_is_with_no_body_on_the_wire(
    server: EmulatorServer, namespace: str, name: str, path: str
) -> None:
    wire = Wire(server.port)
    status, headers, _ = wire.send(request("HEAD", path, namespace)).response(to_head=True)
    # The next response on the connection starts right after the HEAD's head: no body came.
    got, got_headers, _ = wire.send(request("GET", path, namespace)).response()
    assert status == got != 405, (name, path, status, got)
    assert headers.get("content-type") == got_headers.get("content-type")


def test_a_head_call_is_journaled_as_sent_with_no_body(
    server: EmulatorServer, http: httpx.Client
) -> None:
    got = http.get(PROFILE)
    head = http.head(PROFILE)
    assert (head.status_code, head.content) == (200, b"")
    entries = http.get("/_emulator/requests").json()["requests"]
    assert [(e["method"], e["status"]) for e in entries] == [("GET", 200), ("HEAD", 200)]
    sent_get, sent_head = (e["response"] for e in entries)
    assert sent_get["body"] == got.json()
    assert (sent_head["status"], sent_head["body"], sent_head["size"]) == (200, None, 0)
    assert sent_head["headers"]["content-length"] == got.headers["content-length"]
    assert sent_head["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(("name", "path"), get_operations())
def test_a_405_allows_head_and_every_method_it_allows_is_served(
    server: EmulatorServer, namespace: str, name: str, path: str
) -> None:
    with httpx.Client(
        base_url=server.url, headers={"X-Emulator-Namespace": namespace}, timeout=10
    ) as http:
        r = http.request("PATCH", path)
        if r.status_code != 405:  # the path serves PATCH: TRACE is not served anywhere
            r = http.request("TRACE", path)
        assert r.status_code == 405, (path, r.status_code)
        allowed = r.headers["allow"].split(", ")
        assert "HEAD" in allowed and "GET" in allowed, allowed
        for method in allowed:
            assert http.request(method, path).status_code != 405, (path, method)


# --- profile-emulator serve


def test_serve_help_names_the_limits() -> None:
    done = subprocess.run([*SERVE, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for flag in ("--max-head-bytes", "--head-timeout", "--max-connections"):
        assert flag in done.stdout


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--max-head-bytes", "0"), ("--head-timeout", "0"), ("--head-timeout", "nan")],
)
def test_serve_refuses_a_limit_that_is_no_bound(flag: str, value: str) -> None:
    done = subprocess.run([*SERVE, flag, value], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert f"argument {flag}: not a" in done.stderr


def test_serve_takes_the_limits_as_options(serve) -> None:
    served = serve("--max-head-bytes", "2048", "--head-timeout", "0.5", "--max-connections", "2")
    port = served.port
    status, _, body = Wire(port).send(head_of(2049, "PUT", PROFILE)).response()
    assert (status, json.loads(body)) == (431, documented("loyalty.yaml", "431"))
    assert Wire(port).closed(), "a connection that sent nothing was kept"
    # Two calls whose bodies have not come (no head timeout: their heads are whole).
    pending = b"Content-Type: application/json\r\nContent-Length: 100\r\n"
    held = [
        Wire(port).send(
            f"PUT {PROFILE} HTTP/1.1\r\nHost: emulator\r\n".encode() + pending + b"\r\n"
        )
        for _ in range(2)
    ]
    deadline = time.monotonic() + HANG_GUARD
    while (answer := Wire(port).send(request("GET", "/_emulator/health")).response())[0] != 503:
        assert time.monotonic() < deadline, "the cap of 2 connections never held"
    assert json.loads(answer[2]) == documented("control.yaml", "503")
    status, _, err = served.stop()  # with calls under way: still a clean stop
    assert status == 0, err
    assert "Traceback" not in err, err
    for wire in held:
        wire.close()


def test_a_cap_the_open_files_limit_cannot_hold_is_lowered_and_kept(serve) -> None:
    command = ["sh", "-c", 'ulimit -n 100 && exec "$0" "$@"', *SERVE]
    served = serve(command=command)
    warning = served.err.read_text()
    said = "profile-emulator: warning: --max-connections 1000 lowered to "
    assert warning.startswith(said) and warning.endswith(
        ": the open-files limit is 100 (ulimit -n)\n"
    ), warning
    cap = int(warning.removeprefix(said).split(":")[0])
    assert 0 < cap < 100
    held = [Wire(served.port) for _ in range(cap)]
    for wire in held:
        assert wire.send(request("GET", "/_emulator/health")).response()[0] == 200
    status, _, body = Wire(served.port).send(request("GET", "/_emulator/health")).response()
    assert (status, json.loads(body)) == (503, documented("control.yaml", "503"))
    for wire in held:
        wire.close()
    assert served.stop()[0] == 0
