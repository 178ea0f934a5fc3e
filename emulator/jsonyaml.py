"""JSON and YAML documents: the one YAML loader, JSON's equality, how deep a document nests,
where YAML holds what JSON cannot (NaN, Infinity), and how a message names a place in one."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

# libyaml when present (~20x faster than pure Python): specs, fixtures, scenario files and
# parity cases are all read through read_yaml.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_READER = f"PyYAML {yaml.__version__} {_YAML_LOADER.__name__}"  # what read_yaml parses with
MAX_NESTING = 64  # JSON depth of a rule, and of a vendor call's body (orjson writes <= 255)


def read_yaml(path: Path) -> Any:
    """A YAML file, parsed safely."""
    return load_yaml(path.read_text(encoding="utf-8"))


def load_yaml(text: str) -> Any:
    """A YAML document, parsed safely (read_yaml's parse of a file's text)."""
    return yaml.load(text, Loader=_YAML_LOADER)


def json_equal(a: Any, b: Any) -> bool:
    """Equality in JSON terms: true is not 1, but 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(json_equal, a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def json_path(parts: Iterable[str | int]) -> str:
    """A place in a JSON document as messages name it: ``a.b[0].c`` ('' for the top)."""
    where = ""
    for part in parts:
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    return where


def nested_too_deep(value: Any, limit: int = MAX_NESTING) -> list[str | int] | None:
    """The path to the first object or array nested deeper than ``limit`` (one at that depth
    or more), or None. Iterative (a deep document cannot exhaust the stack here), and only the
    containers are kept: a 40 MB snapshot is walked in a fraction of its parse time."""
    if not isinstance(value, (dict, list)):
        return None
    found: list[tuple[Any, int, str | int, int]] = [(value, 0, "", -1)]  # node, depth, key, parent
    at = 0
    while at < len(found):
        node, depth, _, _ = found[at]
        if depth >= limit:
            path: list[str | int] = []
            while found[at][3] >= 0:
                path.append(found[at][2])
                at = found[at][3]
            return path[::-1]
        for key, child in node.items() if type(node) is dict else enumerate(node):
            if type(child) is dict or type(child) is list:
                found.append((child, depth + 1, key, at))
        at += 1
    return None


def non_finite(node: Any, where: str = "") -> str | None:
    """The path of the first NaN or Infinity in a YAML document (`.nan`, `.inf`), if any."""
    if isinstance(node, float) and not math.isfinite(node):
        return where
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        found = non_finite(
            child,
            f"{where}[{key}]" if isinstance(key, int) else f"{where}.{key}" if where else str(key),
        )
        if found is not None:
            return found
    return None
