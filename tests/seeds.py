"""The vendor documents the tests take their expected values from (000_: ES Loyalty, 002_:
Oracle Commerce Cloud), kept beside the checkout in ../shared/seeds. Where they are missing a
test that needs them skips, except under CI (env CI set), where that fails: CI never passes
without them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"
LOYALTY = "000_53df60a23fd2b759.txt"  # ES Loyalty, Update Profile with Extended Data
COMMERCE = "002_c90269b00c162954.txt"  # Oracle Commerce Cloud, updateProfile


def seed_text(name: str) -> str:
    """The text of one vendor document (LOYALTY or COMMERCE)."""
    path = SEEDS / name
    if not path.exists():
        reason = f"the vendor documents are not beside this checkout ({path})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set: {reason}")
        pytest.skip(reason)
    return path.read_text(encoding="utf-8")
