"""`profile-emulator` as a user runs it: real processes, real HTTP, real signals.

Its defaults and help, the port it says it listens on (and the port file), the start-ups it
refuses (exit 2, one line, no traceback), paths taken from the caller's working directory
(dev.py serve too), the access log, the control token a non-loopback host needs, and a
SIGTERM or Ctrl-C that ends it cleanly (exit 0, data file flushed) while a fault holds calls.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import httpx
import pytest

from emulator import app, cli, logs
from tests.processes import PROFILE, ROOT, SERVE, holds, refused, update, venv_is_current

pytestmark = pytest.mark.slow


def test_help_needs_no_server_and_prints_no_warning() -> None:
    done = subprocess.run([*SERVE, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for flag in ("--control-token", "--port-file", "--insecure-control", "--log-format", "--quiet"):
        assert flag in done.stdout
    assert done.stderr == ""


def test_version_is_the_installed_distributions() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0
    assert done.stdout == f"profile-emulator {version('profile-emulator')}\n"


def test_port_0_says_the_port_it_got_and_writes_it_to_the_port_file(serve) -> None:
    served = serve()
    assert served.port > 0
    assert httpx.get(served.url + "/_emulator/health").json() == {"status": "ok"}
    assert served.port_file.read_text() == f"{served.port}\n"
    for page in ("/_emulator/", "/_emulator/docs", "/_emulator/ui/"):  # what it names answers
        assert httpx.get(served.url + page).status_code == 200
    status, out, err = served.stop()
    assert status == 0
    url = f"http://127.0.0.1:{served.port}"
    assert out == (
        f"profile-emulator listening on {url}\n"
        f"  start:     {url}/_emulator/\n"
        f"  docs:      {url}/_emulator/docs\n"
        f"  dashboard: {url}/_emulator/ui/\n"
        f"  health:    {url}/_emulator/health\n"
    )
    assert "Warning" not in err and "Traceback" not in err, err
    assert not served.port_file.exists()  # removed at exit: no stale port for a script


def test_a_port_in_use_exits_2_naming_host_and_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = refused("--port", str(port))
    assert (
        done.stderr
        == f"profile-emulator: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    )


@pytest.mark.parametrize("kind", ["missing", "a file", "no vendor fixtures"])
def test_fixtures_it_cannot_use_exit_2_naming_the_folder(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "team-fixtures"
    if kind == "a file":
        folder.write_text("loyalty: {}\n")
    elif kind == "no vendor fixtures":
        (folder / "scenarios").mkdir(parents=True)
        (folder / "README.txt").write_text("nothing here\n")
    done = refused("--port", "0", "--fixtures", str(folder))
    expected = {
        "missing": "no such folder",
        "a file": "not a folder",
        "no vendor fixtures": "holds no vendor fixtures (none of loyalty.yaml, commerce.yaml)",
    }
    assert done.stderr == f"profile-emulator: --fixtures {folder}: {expected[kind]}\n"


@pytest.mark.parametrize("saved", [b'{"namespaces": {"default": {"x": NaN}}}', b"{", b"[]"])
def test_a_bad_data_file_stops_start_up_with_its_name_not_a_traceback(tmp_path, saved) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_bytes(saved)
    done = refused("--port", "0", "--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {data_file}: not a state file")


def test_main_called_in_process_puts_signal_handlers_and_logging_back(tmp_path, capsys) -> None:
    (tmp_path / "loyalty.yaml").write_text("accounts: 7\n")
    root = logging.getLogger()
    before = (
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
        root.handlers[:],
        root.level,
    )
    assert cli.main(["serve", "--port", "0", "--fixtures", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(
        f"profile-emulator: {tmp_path / 'loyalty.yaml'}: accounts"
    )
    assert (
        signal.getsignal(signal.SIGINT),
        signal.getsignal(signal.SIGTERM),
        root.handlers[:],
        root.level,
    ) == before


def test_a_log_level_it_does_not_know_is_refused_with_the_choices() -> None:
    done = refused("--log-level", "verbose")
    assert "invalid choice: 'verbose'" in done.stderr
    assert "'warning'" in done.stderr and "ValueError" not in done.stderr


def team_fixtures(folder: Path) -> Path:
    """A team's own fixtures: loyalty only, with a session of its own."""
    folder.mkdir(parents=True)
    text = (app.FIXTURES_DIR / "loyalty.yaml").read_text(encoding="utf-8")
    (folder / "loyalty.yaml").write_text(
        text.replace("seed-session-1", "team-session"), encoding="utf-8"
    )
    return folder


def write_and_read_back(url: str, email: str) -> None:
    with httpx.Client(base_url=url, timeout=10) as vendor:
        assert (
            vendor.put("/client/users/team-session/profile", json=update(email)).status_code == 200
        )
        assert vendor.get(PROFILE).status_code != 200  # not the shipped fixtures'
        assert vendor.get("/client/users/team-session/profile").json()["email"] == email


@pytest.mark.parametrize("through", ["profile-emulator", "dev.py serve"])
def test_relative_paths_are_the_callers(serve, tmp_path: Path, through: str) -> None:
    if through == "dev.py serve" and not venv_is_current() and not os.environ.get("CI"):
        pytest.skip(
            "dev.py would reinstall .venv first (pyproject.toml changed): "
            "python3 dev.py test does that before the tests"
        )
    here = tmp_path / "caller"
    team_fixtures(here / "team")
    command = (
        SERVE if through == "profile-emulator" else [sys.executable, str(ROOT / "dev.py"), "serve"]
    )
    served = serve(
        "--fixtures", "team", "--data-file", "state/emulator.json", cwd=here, command=command
    )
    write_and_read_back(served.url, "team@example.com")
    status, _, err = served.stop()
    assert status == 0, err
    assert holds(here / "state" / "emulator.json", "team@example.com")
    assert not (ROOT / "state").exists() and not (ROOT / "team").exists()


def test_relative_port_file_is_the_callers(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [*SERVE, "--port", "0", "--port-file", "port.txt"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        port = int(
            re.fullmatch(r"profile-emulator listening on http://127\.0\.0\.1:(\d+)\n", line)[1]
        )
        assert (tmp_path / "port.txt").read_text() == f"{port}\n"
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
    assert proc.returncode == 0


def access_lines(err: str) -> list[str]:
    return [
        line
        for line in err.splitlines()
        if re.match(r"\d{4}-\d\d-\d\dT[\d:.]+Z \S+ \S", line)
        and " emulator" not in line
        and " uvicorn" not in line
    ]


def drive(url: str, namespace: str = "logged") -> str:
    """A control call, a refused vendor call, one a rule answers, one a transport fault drops;
    returns the error rule's id."""
    headers = {"X-Emulator-Namespace": namespace}
    with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
        assert http.get("/_emulator/health").status_code == 200
        assert http.put(PROFILE, json={"firstName": "Ada"}).status_code == 400
        rule = http.post(
            "/_emulator/faults",
            json={
                "match": {"operation": "getProfile"},
                "error": "loyalty.UNKNOWN_SESSION",
                "times": 1,
            },
        ).json()["id"]
        assert http.get(PROFILE).status_code == 404
        http.post(
            "/_emulator/faults",
            json={"match": {"operation": "getProfile"}, "fault": "connection_reset", "times": 1},
        )
        with pytest.raises(httpx.TransportError):
            http.get(PROFILE)
    return rule


def test_the_access_log_has_a_line_per_vendor_call(serve) -> None:
    served = serve()
    rule = drive(served.url)
    status, _, err = served.stop()
    assert status == 0
    lines = access_lines(err)
    assert len(lines) == 3, err  # vendor calls only: no control call, no uvicorn access log
    assert re.fullmatch(r"\S+Z logged loyalty\.updateProfile 400 \d+\.\dms", lines[0]), lines
    assert re.fullmatch(rf"\S+Z logged loyalty\.getProfile 404 \d+\.\dms rule={rule}", lines[1]), (
        lines
    )
    assert re.fullmatch(
        r"\S+Z logged loyalty\.getProfile - \d+\.\dms rule=\S+ fault=connection_reset", lines[2]
    ), lines
    assert "HTTP/1.1" not in err


def test_the_access_log_in_json_one_object_a_line(serve) -> None:
    served = serve("--log-format", "json", "--log-level", "info")
    rule = drive(served.url)
    status, _, err = served.stop()
    assert status == 0
    records = [json.loads(line) for line in err.splitlines()]  # every line, uvicorn's too
    calls = [r for r in records if r["logger"] == "emulator.access"]
    assert [
        (c["namespace"], c["api"], c["operation"], c["method"], c["status"], c["rule"], c["fault"])
        for c in calls
    ] == [
        ("logged", "loyalty", "updateProfile", "PUT", 400, None, None),
        ("logged", "loyalty", "getProfile", "GET", 404, rule, None),
        ("logged", "loyalty", "getProfile", "GET", None, calls[2]["rule"], "connection_reset"),
    ]
    assert all(c["path"] == PROFILE and c["ms"] >= 0 and c["time"].endswith("Z") for c in calls)
    assert any(r["logger"].startswith("uvicorn") and r["level"] == "info" for r in records)
    assert not any("HTTP/1.1" in r.get("message", "") for r in records)


# The emulator whose access log is written only at the stop: its writer's thread waits an
# hour between batches, so every line the log has at the end was written by the stop.
LOG_AT_STOP = (
    "import sys\n"
    "from emulator import logs\n"
    "logs.WRITE_EVERY = 3600.0\n"
    "from emulator.cli import run\n"
    "sys.argv[0] = 'profile-emulator'\n"
    "run()\n"
)


def test_no_access_line_is_lost_at_a_clean_stop(serve) -> None:
    """The access log is written in batches, off the request path: the lines still waiting
    when the server is told to stop are written before it exits."""
    served = serve(command=[sys.executable, "-c", LOG_AT_STOP, "serve"])
    with httpx.Client(base_url=served.url, headers={"X-Emulator-Namespace": "kept"}) as http:
        for _ in range(200):
            assert http.get(PROFILE).status_code == 200
    status, _, err = served.stop()
    assert status == 0
    lines = access_lines(err)
    assert len(lines) == 200, err[-2000:]
    assert all(re.fullmatch(r"\S+Z kept loyalty\.getProfile 200 \d+\.\dms", line) for line in lines)


def test_quiet_turns_the_access_log_off(serve) -> None:
    served = serve("--quiet")
    drive(served.url)
    status, _, err = served.stop()
    assert status == 0
    assert err == ""


def raw_get(url: str, path: str, headers: str) -> tuple[int, bytes]:
    """One HTTP/1.1 GET over a socket with the headers as given: (status, body)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade, close\r\n"
            f"{headers}\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_websocket_handshake_is_answered_as_the_http_request_it_is(serve) -> None:
    """No API the emulator serves speaks WebSocket: a handshake gets the call's own answer
    (not a 500 for a websocket the app cannot accept), and nothing is logged for it."""
    served = serve("--quiet")
    handshake = (
        "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        "Sec-WebSocket-Version: 13\r\n"
    )
    assert raw_get(served.url, "/_emulator/health", handshake) == (200, b'{"status":"ok"}')
    plain = httpx.get(served.url + PROFILE)
    assert plain.status_code == 200
    assert raw_get(served.url, PROFILE, handshake) == (200, plain.content)
    status, _, err = served.stop()
    assert status == 0
    assert err == ""


def test_the_log_level_and_the_access_log_are_apart() -> None:
    """--log-level warning shows warnings and the access log; info records are not shown."""
    root = logging.getLogger()
    before = root.handlers[:], root.level, logging.getLogger(logs.ACCESS).level
    stream = io.StringIO()
    for quiet in (False, True):
        restore = logs.configure("warning", "text", quiet=quiet, stream=stream)
        try:
            logging.getLogger("emulator").warning("a warning %s", quiet)
            logging.getLogger("emulator").info("an info record")
            logging.getLogger(logs.ACCESS).info(
                "call",
                extra={
                    "access": {
                        "at": 0.0,
                        "namespace": "ns",
                        "api": "commerce",
                        "operation": None,
                        "method": "GET",
                        "path": "/ccadmin/v1/nope",
                        "status": 404,
                        "ms": 1.26,
                        "rule": None,
                        "fault": None,
                    }
                },
            )
        finally:
            restore()
    assert (root.handlers[:], root.level, logging.getLogger(logs.ACCESS).level) == before
    lines = [line.split(" ", 1)[1] for line in stream.getvalue().splitlines()]
    assert lines == [
        "WARNING emulator: a warning False",
        "ns commerce GET /ccadmin/v1/nope 404 1.3ms",  # unrouted: what was asked
        "WARNING emulator: a warning True",
    ]


def test_a_non_loopback_host_needs_a_control_token() -> None:
    done = refused("--host", "0.0.0.0", "--port", "0")
    assert done.stderr.startswith(
        "profile-emulator: --host 0.0.0.0 is reachable from other machines: give --control-token"
    )
    assert "--insecure-control" in done.stderr


@pytest.mark.parametrize("how", ["--control-token", "EMULATOR_CONTROL_TOKEN", "--insecure-control"])
def test_a_non_loopback_host_starts_with_a_token_or_when_told_insecure(serve, how: str) -> None:
    env = dict(os.environ)
    args = ["--host", "0.0.0.0", "--quiet"]
    if how == "--control-token":
        args += ["--control-token", "s3cret"]
    elif how == "EMULATOR_CONTROL_TOKEN":
        env["EMULATOR_CONTROL_TOKEN"] = "s3cret"
    else:
        args.append("--insecure-control")
    served = serve(*args, env=env)
    rules = httpx.get(served.url + "/_emulator/faults")
    status, out, err = served.stop()
    assert status == 0
    assert out.startswith(f"profile-emulator listening on http://0.0.0.0:{served.port}\n")
    if how == "--insecure-control":
        assert rules.status_code == 200
        assert err.startswith("profile-emulator: warning: 0.0.0.0 is reachable from other machines")
    else:
        assert rules.status_code == 401 and err == ""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_a_signal_ends_it_cleanly_while_faults_hold_calls(serve, tmp_path: Path, sig: int) -> None:
    """A `timeout` fault holds one call (up to 300 s) and a delay another (up to an hour); a
    write lands just before the signal. Exit 0, the write in the data file, the held calls
    dropped without an answer, no traceback."""
    data_file = tmp_path / "state.json"
    served = serve("--data-file", str(data_file))
    held = {"X-Emulator-Namespace": "held"}
    httpx.post(
        served.url + "/_emulator/faults", json={"fault": "timeout"}, headers=held
    ).raise_for_status()
    httpx.post(
        served.url + "/_emulator/faults",
        json={"delayMs": 3_600_000, "match": {"api": "commerce"}},
        headers={"X-Emulator-Namespace": "slow"},
    ).raise_for_status()
    outcomes: dict[str, str] = {}

    def call(name: str, path: str, headers: dict[str, str]) -> None:
        try:
            answer = httpx.get(served.url + path, headers=headers, timeout=60)
            outcomes[name] = f"answered {answer.status_code}"
        except httpx.HTTPError as exc:
            outcomes[name] = type(exc).__name__

    callers = [
        threading.Thread(target=call, args=("timeout", PROFILE, held)),
        threading.Thread(
            target=call,
            args=("delay", "/ccadmin/v1/profiles/se-570031", {"X-Emulator-Namespace": "slow"}),
        ),
    ]
    for caller in callers:
        caller.start()
    time.sleep(0.2)  # let both calls reach the server before the write (not a timing assert)
    email = f"sig-{uuid.uuid4().hex[:8]}@example.com"
    assert httpx.put(served.url + PROFILE, json=update(email)).status_code == 200
    status, _, err = served.stop(sig)
    for caller in callers:
        caller.join(timeout=10)
    assert status == 0, err
    assert holds(data_file, email)
    # Both were held by the server (not refused) and dropped without an answer.
    assert outcomes == {"timeout": "RemoteProtocolError", "delay": "RemoteProtocolError"}, outcomes
    assert "Traceback" not in err and "ERROR" not in err, err
    assert re.search(r" held loyalty\.getProfile - \S+ms rule=\S+ fault=timeout$", err, re.M), err
