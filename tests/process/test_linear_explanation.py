"""The Python explanation of a pattern failure does not backtrack either: it runs in a
process of its own, so that a match holding the GIL can be given up on (a hang guard)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import ROOT

pytestmark = pytest.mark.slow

GUARD = 20.0  # seconds: a hang guard, never a duration


def test_the_explanation_of_a_failure_does_not_backtrack() -> None:
    """`^(a|aa)+$` takes Python's `re` exponential time on "aaa...b"; the regex crate, linear.
    jsonschema-rs finds the value invalid, then the Python validator explains why. (In a
    process of its own: a backtracking match holds the GIL, so no thread could time it out.)"""
    script = (
        "from emulator.schemas import Compiled\n"
        "checks = Compiled({'type': 'object', 'properties': {'x': {'pattern': '^(a|aa)+$'}}})\n"
        "[error] = checks.errors({'x': 'a' * 64 + 'b'})\n"
        "print(list(error.path), error.validator, error.message)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=GUARD, cwd=ROOT
        )
    except subprocess.TimeoutExpired:
        raise AssertionError(f"the explanation still ran after {GUARD} s: it backtracks") from None
    assert done.returncode == 0, done.stderr
    # jsonschema's own words for a `pattern` failure
    assert done.stdout == f"['x'] pattern {'a' * 64 + 'b'!r} does not match '^(a|aa)+$'\n"
