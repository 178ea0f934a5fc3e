"""Helpers for tests that run `profile-emulator serve` as a real process (the `serve`
fixture is in tests/conftest.py)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVE = [sys.executable, "-m", "emulator.cli", "serve"]
START_TIMEOUT = 60
PROFILE = "/client/users/seed-session-1/profile"


def update(email: str = "ada@example.com") -> dict[str, str]:
    return {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "dateOfBirth": "1985-12-10",
        "gender": "F",
        "email": email,
        "postalZipCode": "H0H 0H0",
    }


@dataclass
class Served:
    proc: subprocess.Popen
    port_file: Path
    out: Path
    err: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> tuple[int, str, str]:
        """Send the signal, wait (generously) for the exit; (status, stdout, stderr)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {timeout} s after signal {sig}") from None
        return self.proc.returncode, self.out.read_text(), self.err.read_text()


def refused(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*SERVE, *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "listening" not in done.stdout
    return done


def venv_is_current() -> bool:
    """dev.py's own test: would it reinstall .venv before serving (pyproject.toml changed)?"""
    import dev

    return dev.venv_ready("serve")


def holds(data_file: Path, text: str) -> bool:
    """Whether a document in a data file (a SQLite database, read as the sqlite3 tool would)
    holds ``text``."""
    with sqlite3.connect(f"file:{data_file}?mode=ro", uri=True) as db:
        query = "SELECT count(*) FROM documents WHERE document LIKE ?"
        return db.execute(query, (f"%{text}%",)).fetchone()[0] > 0
