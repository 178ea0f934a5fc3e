"""Schemathesis fuzzes openapi/loyalty.yaml against a live emulator, all checks, zero failures.

Runs the schemathesis CLI (examples, coverage, fuzzing and stateful phases; the stateful
phase follows the spec's OpenAPI links enrol -> startSession -> updateProfile/getProfile,
and the correlation_id example is the seeded session `seed-session-1`, so 2xx paths are
reached rather than every call ending in a 4xx).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from emulator.specs import OPENAPI_DIR

pytestmark = pytest.mark.fuzz

ROOT = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


def run_schemathesis(
    spec: str, base_url: str, config: Path, *extra: str
) -> subprocess.CompletedProcess:
    cmd = [
        str(SCHEMATHESIS),
        "--config-file",
        str(config),
        "run",
        str(OPENAPI_DIR / spec),
        "--url",
        base_url,
        "--checks",
        "all",
        "--max-examples",
        os.environ.get("FUZZ_MAX_EXAMPLES", "40"),
        "--seed",
        "20261122",
        "--request-timeout",
        "10",
        "--no-color",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=ROOT)


def test_loyalty_spec_fuzzed_with_zero_failures(server):
    namespace = f"fuzz-{uuid.uuid4().hex[:8]}"
    result = run_schemathesis(
        "loyalty.yaml",
        f"{server.url}/client",
        ROOT / "tests/fuzz/loyalty.toml",
        "-H",
        f"X-Emulator-Namespace: {namespace}",
    )
    summary = result.stdout[-3000:]
    print(summary)
    assert result.returncode == 0, summary + result.stderr[-2000:]
    assert "No issues found" in result.stdout or " passed" in result.stdout
