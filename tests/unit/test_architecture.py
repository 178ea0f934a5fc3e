"""ARCHITECTURE.md is true: its module table names every module of the package, and each
module opens with a docstring saying what it is (its import rules:
tests/process/test_import_contracts.py)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_module_table_names_every_module() -> None:
    text = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(emulator/[\w/]+\.py)` \|", text, re.M))
    on_disk = {
        str(p.relative_to(ROOT))
        for folder in ("emulator", "emulator/parity")
        for p in (ROOT / folder).glob("*.py")
        if p.name != "__init__.py"
    } | {"emulator/vendors/base.py"}
    assert on_disk - listed == set(), "ARCHITECTURE.md's table lacks these modules"
    assert listed - on_disk == set(), "ARCHITECTURE.md's table names modules that are gone"


# Words that tell a module's history rather than what it is.
HISTORY = re.compile(
    r"\b(used to|moved (from|out of|into) |formerly|no longer|split (from|out))", re.I
)


def test_every_module_says_what_it_is() -> None:
    """Each module of the package opens with a docstring about what it is, not its past."""
    for path in sorted((ROOT / "emulator").rglob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        where = path.relative_to(ROOT)
        assert doc, f"{where} has no module docstring"
        assert not HISTORY.search(doc), f"{where}'s docstring tells its history: {doc!r}"
