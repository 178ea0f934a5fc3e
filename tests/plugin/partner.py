"""A partner's own test session run in a pytester subprocess: its tests record what they saw
as JSON files in $PLUGIN_OUT, which the outer test then reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def partner_session(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **files: str
) -> Path:
    """Write the partner's test files and return the folder they record into."""
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("PLUGIN_OUT", str(out))
    monkeypatch.delenv("EMULATOR_URL", raising=False)
    pytester.makepyfile(**files)
    return out


def recorded(out: Path) -> dict[str, dict]:
    """What the partner's tests recorded, by file name (sorted)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(out.glob("*.json"))}
