"""Stoplight Spectral's OpenAPI rules (`spectral:oas`, ruleset .spectral.yaml) find no error
in any spec: what Spectral, Prism and code generators read is a well-formed contract.

Spectral comes from tools/setup-spectral.sh (`python3 dev.py test` runs it first); without
it the test skips, except under CI, where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "openapi").glob("*.yaml"))
SPECTRAL = ROOT / "tools" / ".spectral" / "node_modules" / ".bin" / "spectral"
RULESET = ROOT / ".spectral.yaml"
ERROR = 0  # Spectral's severities: 0 error, 1 warning, 2 info, 3 hint


@pytest.fixture(scope="module")
def findings() -> dict[str, list[dict[str, Any]]]:
    """Spectral's findings for every spec, by spec file name (one run for all of them)."""
    if not SPECTRAL.exists():
        message = f"Spectral is not installed ({SPECTRAL.relative_to(ROOT)}): run bash tools/setup-spectral.sh"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    result = subprocess.run(
        [
            str(SPECTRAL),
            "lint",
            "--ruleset",
            str(RULESET),
            "--format",
            "json",
            "--quiet",
            *map(str, SPECS),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    try:
        found = json.loads(result.stdout)
    except json.JSONDecodeError:
        pytest.fail(
            f"Spectral did not answer JSON (exit {result.returncode}): "
            f"{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    by_spec: dict[str, list[dict[str, Any]]] = {spec.name: [] for spec in SPECS}
    for finding in found:
        by_spec.setdefault(Path(finding.get("source", "?")).name, []).append(finding)
    return by_spec


def _line(finding: dict[str, Any]) -> str:
    line = finding.get("range", {}).get("start", {}).get("line", -1) + 1
    where = ".".join(str(part) for part in finding.get("path", []))
    return f"{finding.get('source')}:{line} {finding['code']}: {finding['message']} ({where})"


def test_spectral_sees_every_spec(findings):
    assert set(findings) == {spec.name for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_spectral_oas_finds_no_error(findings, spec: Path):
    errors = [_line(f) for f in findings[spec.name] if f.get("severity") == ERROR]
    assert errors == []
