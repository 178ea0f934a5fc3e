"""Stopping the emulator while faults hold calls: SIGTERM and Ctrl-C end it (exit status 0,
the process gone, the data file flushed) whatever `timeout` faults hold; a normal call under
way finishes first; a second signal is heard; `python3 dev.py serve` passes signals on.

No test here times anything: waits have generous bounds only so that a hang fails the test
instead of the run (bench/memory.py measures how long the exit takes)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import httpx
import pytest
import uvicorn

from emulator.app import create_app
from emulator.server import Server, free_port
from tests.processes import ROOT, holds, update, venv_is_current

pytestmark = pytest.mark.slow

PROFILE = "/client/users/seed-session-1/profile"
HANG_GUARD = 30  # seconds: far beyond any grace; reaching it means the server hung


def hold_calls(url: str, port: int, count: int) -> list[socket.socket]:
    """`count` connections, each with a call a `timeout` fault holds (answered never)."""
    httpx.post(
        url + "/_emulator/faults",
        json={"fault": "timeout"},
        headers={"X-Emulator-Namespace": "held"},
    ).raise_for_status()
    request = (
        f"GET {PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: held\r\n\r\n"
    ).encode()
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
        sock.sendall(request)
        held.append(sock)
    return held


def start_slow_put(port: int, body: bytes) -> socket.socket:
    """A normal call under way: headers sent with `Expect: 100-continue`, and the server's
    100 Continue read back (it comes once the emulator reads the body: the call is running).
    The body is still to be sent."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)
    sock.sendall(
        (
            f"PUT {PROFILE} HTTP/1.1\r\nHost: emulator\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        ).encode()
    )
    assert sock.recv(4096).startswith(b"HTTP/1.1 100 ")
    return sock


def finish(sock: socket.socket, body: bytes) -> bytes:
    sock.sendall(body)
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_ends_it_with_300_held_calls_after_a_normal_call_finishes(
    serve, tmp_path: Path, sig: int
) -> None:
    data_file = tmp_path / "state.json"
    served = serve("--data-file", str(data_file), "--quiet")
    held = hold_calls(served.url, served.port, 300)
    email = f"stop-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps(update(email)).encode()
    slow = start_slow_put(served.port, body)
    served.proc.send_signal(sig)
    answer = finish(slow, body)  # the call under way is let finish
    status = served.proc.wait(timeout=HANG_GUARD)  # one signal only
    err = served.err.read_text()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"debugMessage": "Profile Updated"}
    assert status == 0, err
    assert gone(served.proc.pid)
    assert holds(data_file, email)  # flushed
    assert "Traceback" not in err and "ERROR" not in err, err
    for sock in held:  # every held call was dropped: the connection closed, nothing answered
        assert sock.recv(65536) == b""
        sock.close()
    slow.close()


def test_a_second_signal_ends_the_grace_at_once_and_the_state_is_still_flushed(
    tmp_path: Path,
) -> None:
    """The grace a normal call gets is an hour here: only the second signal can end the
    server before the hang guard. The data file is flushed all the same (uvicorn's own
    second Ctrl-C skips the lifespan shutdown, which flushes it)."""
    data_file = tmp_path / "state.json"
    port = free_port()
    app = create_app(data_file=data_file)
    server = Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"),
        grace=3600,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    for _ in range(HANG_GUARD * 50):
        if server.started:
            break
        threading.Event().wait(0.02)
    email = f"again-{uuid.uuid4().hex[:8]}@example.com"
    assert httpx.put(url + PROFILE, json=update(email)).status_code == 200
    slow = start_slow_put(port, b"{}")  # under way, and never finished
    server.handle_exit(signal.SIGINT, None)
    assert thread.is_alive()  # the first signal waits for the call under way
    server.handle_exit(signal.SIGINT, None)
    thread.join(timeout=HANG_GUARD)
    assert not thread.is_alive()
    assert slow.recv(65536) == b""  # dropped, unanswered
    slow.close()
    assert holds(data_file, email)


@pytest.fixture
def dev_serve_ready() -> None:
    if not venv_is_current() and not os.environ.get("CI"):
        pytest.skip(
            "dev.py would reinstall .venv first (pyproject.toml changed): "
            "python3 dev.py test does that before the tests"
        )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_dev_py_serve_stops_on_a_signal_with_no_traceback(
    serve, dev_serve_ready, tmp_path: Path, sig: int
) -> None:
    data_file = tmp_path / "state.json"
    served = serve(
        "--data-file", str(data_file), command=[sys.executable, str(ROOT / "dev.py"), "serve"]
    )
    held = hold_calls(served.url, served.port, 5)
    email = f"dev-{uuid.uuid4().hex[:8]}@example.com"
    assert httpx.put(served.url + PROFILE, json=update(email)).status_code == 200
    status, _, err = served.stop(sig)
    assert status == 0, err
    assert gone(served.proc.pid)
    assert holds(data_file, email)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    for sock in held:
        sock.close()


def test_dev_py_passes_a_sigterm_on_to_its_child(tmp_path: Path) -> None:
    """Where dev.py runs a child rather than becoming it (the tests, the bench, Windows'
    serve, pip while it installs), a SIGTERM reaches the child: none is left orphaned."""
    script = tmp_path / "child.py"
    ready = tmp_path / "ready"
    script.write_text(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, lambda *_: sys.exit(7))\n"
        f"pathlib.Path({str(ready)!r}).write_text('x')\n"
        "time.sleep(3600)\n"
    )
    runner = (
        "import sys; sys.path.insert(0, sys.argv[1]); import dev; "
        "sys.exit(dev.run([sys.executable, sys.argv[2]]))"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", runner, str(ROOT), str(script)], stderr=subprocess.PIPE, text=True
    )
    for _ in range(HANG_GUARD * 50):
        if ready.exists():
            break
        threading.Event().wait(0.02)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=HANG_GUARD)
    assert proc.returncode == 7  # the child's own exit, on the signal passed on
    assert "Traceback" not in err


def test_uvicorns_exit_signal_handling_that_server_builds_on_is_still_there() -> None:
    """emulator/server.py's Server overrides uvicorn.Server.handle_exit(sig, frame) and reads
    its should_exit and force_exit: uvicorn sets should_exit on a signal and force_exit on a
    second Ctrl-C (which skips the lifespan shutdown, the data file's flush). If an upgrade
    moves any of that, this fails, not the flush."""
    plain = uvicorn.Server(uvicorn.Config(app=None))
    plain.handle_exit(signal.SIGINT, None)
    assert (plain.should_exit, plain.force_exit) == (True, False), uvicorn.__version__
    plain.handle_exit(signal.SIGINT, None)
    assert plain.force_exit, uvicorn.__version__
    ours = Server(uvicorn.Config(app=None))
    ours.handle_exit(signal.SIGTERM, None)
    assert (ours.should_exit, ours.hurry) == (True, False)
    ours.handle_exit(signal.SIGINT, None)
    assert (ours.hurry, ours.force_exit) == (True, False)  # heard, and the flush still runs
