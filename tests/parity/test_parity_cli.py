"""`profile-emulator parity` as users run it: what it refuses (exit 2, one line, no
traceback), a target it cannot reach (exit 1), cases whose credentials are unset (skipped,
said), and `serve` never paying for the kit."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.parity.conftest import clean_env, parity

pytestmark = pytest.mark.slow


def refused(*args: str) -> str:
    done = parity(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    return done.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_what_it_cannot_use_is_refused_with_one_line(tmp_path: Path) -> None:
    assert "no such folder" in refused("verify", "--snapshots", str(tmp_path / "none"))
    (tmp_path / "loyalty.x.json").write_text("{}")
    assert "loyalty.x.json: not a snapshot of format 1" in refused(
        "verify", "--snapshots", str(tmp_path)
    )
    (tmp_path / "case.yaml").write_text("api: loyalty\nsteps: []\n")
    assert "case.yaml: steps: [] should be non-empty" in refused(
        "record",
        "--api",
        "loyalty",
        "--target",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "o"),
        "--cases",
        str(tmp_path / "case.yaml"),
    )
    assert "--redact '[': not a JSON path" in refused(
        "record",
        "--api",
        "loyalty",
        "--target",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "o"),
        "--redact",
        "[",
    )
    assert "not loyalty cases" in refused(
        "record",
        "--api",
        "loyalty",
        "--target",
        "http://127.0.0.1:9",
        "--out",
        str(tmp_path / "o"),
        "--cases",
        str(Path(__file__).resolve().parents[2] / "emulator/parity/shipped/commerce/login.yaml"),
    )


def test_a_skip_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    (snapshots / "loyalty.c.json").write_text(
        json.dumps(
            {
                "snapshot": 1,
                "target": "http://x",
                "recordedAt": "2026-12-01T00:00:00+00:00",
                "source": "record",
                "vars": {},
                "steps": [],
                "definition": {
                    "name": "c",
                    "api": "loyalty",
                    "steps": [
                        {"name": "s", "operation": "getProfile", "method": "GET", "path": "/p"}
                    ],
                },
            }
        )
    )
    (snapshots / "skip.yaml").write_text("- {case: c, step: s}\n")
    assert "skip.yaml: [0]: 'reason' is a required property" in refused(
        "verify", "--snapshots", str(snapshots)
    )


def test_a_target_it_cannot_reach_is_exit_1(tmp_path: Path) -> None:
    done = parity(
        "record",
        "--api",
        "loyalty",
        "--target",
        f"http://127.0.0.1:{closed_port()}",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.startswith(
        "profile-emulator parity record: enrolment-errors/enrol: POST /client/users: "
    )
    assert "Traceback" not in done.stderr


def test_cases_whose_credentials_are_unset_are_skipped_and_said(tmp_path: Path) -> None:
    done = parity(
        "record",
        "--api",
        "commerce",
        "--target",
        f"http://127.0.0.1:{closed_port()}",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "skipped commerce.login: login: set OCC_APP_KEY in the environment",
        "skipped commerce.profile-errors: profile-errors: set OCC_APP_KEY in the environment",
        "skipped commerce.profiles: profiles: set OCC_APP_KEY in the environment",
        "skipped commerce.user-login: user-login: set OCC_USERNAME, OCC_PASSWORD in the environment",
    ]


def test_serve_does_not_import_the_kit_and_help_lists_it() -> None:
    code = "import sys, emulator.cli; print(sorted(m for m in sys.modules if m.startswith('emulator.parity')))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=clean_env()
    )
    assert done.stdout.strip() == "[]"
    helped = subprocess.run(
        [sys.executable, "-m", "emulator.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert "{serve,parity," in helped.stdout
