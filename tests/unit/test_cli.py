"""`profile-emulator` as a user runs it: its defaults, its help, and a clean start-up."""
from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest

from emulator import app, cli, runtime
from emulator.server import free_port


def test_light_defaults_agree_with_the_app() -> None:
    assert cli.FIXTURES_DIR == app.FIXTURES_DIR
    assert cli.JOURNAL_SIZE == runtime.JOURNAL_SIZE


def test_help_needs_no_server_and_prints_no_warning() -> None:
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--control-token" in done.stdout
    assert done.stderr == ""


def test_serve_starts_quietly_and_answers() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "emulator.cli", "serve", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/_emulator/health", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        assert answer.status_code == 200
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=30)
    assert f"listening on http://127.0.0.1:{port}" in out
    assert "Warning" not in err and "Traceback" not in err, err


@pytest.mark.parametrize("saved", [b'{"namespaces": {"default": {"x": NaN}}}', b"{", b"[]"])
def test_a_bad_data_file_stops_start_up_with_its_name_not_a_traceback(tmp_path, saved) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_bytes(saved)
    done = subprocess.run([sys.executable, "-m", "emulator.cli", "serve", "--port", "1",
                           "--data-file", str(data_file)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith(f"profile-emulator: {data_file}: not a state file")
    assert "Traceback" not in done.stderr
