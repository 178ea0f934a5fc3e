"""The Testcontainers modules without a container (tests/product/test_testcontainers.py runs
them against the image): the Python one without its optional dependency, the Node.js one's
declarations and pin."""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULE = ROOT / "testcontainers-node"


def test_the_python_module_imports_without_testcontainers_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in [
        n for n in sys.modules if n == "testcontainers" or n.startswith("testcontainers.")
    ]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "testcontainers", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "emulator.testcontainers", raising=False)
    module = importlib.import_module("emulator.testcontainers")
    with pytest.raises(
        ImportError, match=re.escape("pip install 'profile-emulator[testcontainers]'")
    ):
        module.EmulatorContainer()


def test_the_node_modules_types_declare_each_export_and_its_dependency_is_pinned() -> None:
    code = (NODE_MODULE / "index.js").read_text(encoding="utf-8")
    types = (NODE_MODULE / "index.d.ts").read_text(encoding="utf-8")
    exported = set(re.findall(r"^export (?:class|const|function) (\w+)", code, re.M))
    declared = set(re.findall(r"^export declare (?:class|const|function) (\w+)", types, re.M))
    assert exported and exported == declared
    methods = set(re.findall(r"^  (?:async )?(\w+)\(", code, re.M)) - {"constructor"}
    assert {m for m in methods if not re.search(rf"\b{m}\(", types)} == set()
    package = json.loads((NODE_MODULE / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((NODE_MODULE / "package-lock.json").read_text(encoding="utf-8"))
    pinned = package["dependencies"]["testcontainers"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), "the testcontainers package is pinned exactly"
    assert lock["packages"]["node_modules/testcontainers"]["version"] == pinned
    assert not any("resolved" in entry for entry in lock["packages"].values())  # no hosts
