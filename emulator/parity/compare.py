"""An emulator's answer against the vendor's recorded one, path by path, labels bound as they
come (``<id:1>`` is whatever the emulator answered there first, and that value everywhere
after)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from emulator.parity.placeholders import LABEL, kind_of

_TYPES = {"num": (int, float), "bool": (bool,), "id": (str,), "time": (str,)}


class _Absent:
    def __repr__(self) -> str:
        return "(absent)"


ABSENT: Any = _Absent()  # where one side has nothing


@dataclass(frozen=True)
class Difference:
    path: str  # "status", "headers.content-type", "body.items[0].id"
    vendor: Any
    emulator: Any
    note: str = ""


def dotted(parts: Iterable[str | int]) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _key(value: Any) -> tuple[str, Any]:
    return type(value).__name__, value


class Bindings:
    """Which value each label stands for in this run, and the label of each value."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.labels: dict[tuple[str, Any], str] = {}

    def bind(self, label: str, value: Any) -> str | None:
        """None when ``label`` may stand for ``value``; else why not."""
        if label in self.values:
            if _key(self.values[label]) == _key(value):
                return None
            return f"{label} stands for another value here"
        other = self.labels.get(_key(value))
        if other is not None:
            return f"the vendor answers a value other than {other}'s here"
        self.values[label] = value
        self.labels[_key(value)] = label
        return None


def match(expected: str, actual: Any, bindings: Bindings) -> str | None:
    """None when ``actual`` fits ``expected`` (a string holding labels), binding them."""
    whole = LABEL.fullmatch(expected)
    if whole:
        kind = kind_of(expected)
        if kind in _TYPES and not (
            isinstance(actual, _TYPES[kind]) and not (kind == "num" and isinstance(actual, bool))
        ):
            return f"the vendor answers a {kind} here"
        if kind == "secret" and isinstance(actual, (dict, list)):
            return "the vendor answers a single value here"
        return bindings.bind(expected, actual)
    if not isinstance(actual, str):
        return "the vendor answers a string here"
    pattern = ""
    groups: list[str] = []
    seen: dict[str, str] = {}
    at = 0
    for found in LABEL.finditer(expected):
        pattern += re.escape(expected[at : found.start()])
        label = found.group(0)
        if label in bindings.values:
            pattern += re.escape(str(bindings.values[label]))
        elif label in seen:
            pattern += f"(?P={seen[label]})"
        else:
            seen[label] = f"g{len(groups)}"
            groups.append(label)
            pattern += f"(?P<{seen[label]}>.+?)"
        at = found.end()
    pattern += re.escape(expected[at:])
    fit = re.fullmatch(pattern, actual, re.S)
    if fit is None:
        return "different text"
    for label in groups:
        reason = bindings.bind(label, fit.group(seen[label]))
        if reason:
            return reason
    return None


def compare(
    vendor: dict[str, Any],
    emulator: dict[str, Any],
    bindings: Bindings,
    unstable: Iterable[str] = (),
) -> tuple[list[Difference], int]:
    """The differences of two answers (``{"status", "headers", "body" | "text"}``) and the
    number of values compared."""
    walk = _Walk(bindings, tuple(unstable))
    walk.node(vendor["status"], emulator["status"], "status")
    theirs = emulator.get("headers", {})
    for name, value in vendor.get("headers", {}).items():
        walk.node(value, theirs.get(name, ABSENT), f"headers.{name}")
    for name in theirs.keys() - vendor.get("headers", {}).keys():
        walk.node(ABSENT, theirs[name], f"headers.{name}")
    for part in ("body", "text"):
        if part in vendor or part in emulator:
            walk.node(vendor.get(part, ABSENT), emulator.get(part, ABSENT), part)
    return walk.differences, walk.checked


class _Walk:
    def __init__(self, bindings: Bindings, unstable: tuple[str, ...]) -> None:
        self.bindings = bindings
        self.unstable = unstable
        self.differences: list[Difference] = []
        self.checked = 0

    def _skipped(self, path: str) -> bool:
        return any(path == u or path.startswith((f"{u}.", f"{u}[")) for u in self.unstable)

    def node(self, vendor: Any, emulator: Any, path: str) -> None:
        if self._skipped(path):
            return
        if isinstance(vendor, dict) and isinstance(emulator, dict):
            for key, value in vendor.items():
                self.node(value, emulator.get(key, ABSENT), f"{path}.{key}")
            for key in emulator.keys() - vendor.keys():
                self.node(ABSENT, emulator[key], f"{path}.{key}")
            return
        if isinstance(vendor, list) and isinstance(emulator, list):
            for index in range(max(len(vendor), len(emulator))):
                self.node(
                    vendor[index] if index < len(vendor) else ABSENT,
                    emulator[index] if index < len(emulator) else ABSENT,
                    f"{path}[{index}]",
                )
            return
        self.checked += 1
        if vendor is ABSENT or emulator is ABSENT:
            self.differences.append(Difference(path, vendor, emulator))
        elif isinstance(vendor, str) and LABEL.search(vendor):
            reason = match(vendor, emulator, self.bindings)
            if reason is not None:
                self.differences.append(Difference(path, vendor, emulator, reason))
        elif _key(vendor) != _key(emulator):  # (300 and 300.0 differ: users see the text)
            self.differences.append(Difference(path, vendor, emulator))
