"""Specs, fixtures and scenarios mean the same to a YAML 1.2 reader (Prism, Spectral, code
generators) as to the emulator's own YAML 1.1 reader (PyYAML/libyaml): docs/decisions.md#14."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from ruamel.yaml import YAML

from emulator.jsonyaml import read_yaml

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "openapi").glob("*.yaml"))
FILES = (
    SPECS
    + sorted((ROOT / "fixtures").glob("*.yaml"))
    + sorted((ROOT / "fixtures" / "scenarios").glob("*.yaml"))
)
MERGE_TAG = "tag:yaml.org,2002:merge"


def _yaml12(path: Path) -> Any:
    reader = YAML(typ="safe", pure=True)
    reader.version = (1, 2)
    return reader.load(path.read_text(encoding="utf-8"))


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_the_files_are_found():
    names = {_relative(path) for path in FILES}
    assert {
        "openapi/loyalty.yaml",
        "openapi/commerce.yaml",
        "openapi/control.yaml",
        "fixtures/loyalty.yaml",
        "fixtures/commerce.yaml",
    } <= names
    assert any(name.startswith("fixtures/scenarios/") for name in names)


def _differences(a: Any, b: Any, where: str = "#") -> Iterator[str]:
    if type(a) is not type(b):
        yield f"{where}: {a!r} (YAML 1.2) != {b!r} (emulator)"
    elif isinstance(a, dict):
        for key in a.keys() | b.keys():
            if key not in a or key not in b:
                yield f"{where}/{key}: only in {'YAML 1.2' if key in a else 'the emulator'}'s reading"
            else:
                yield from _differences(a[key], b[key], f"{where}/{key}")
    elif isinstance(a, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{where}/{index}")
    elif a != b:
        yield f"{where}: {a!r} (YAML 1.2) != {b!r} (emulator)"


@pytest.mark.parametrize("path", FILES, ids=_relative)
def test_a_yaml_1_2_reader_reads_what_the_emulator_reads(path: Path):
    assert list(_differences(_yaml12(path), read_yaml(path))) == []


def _merge_keys(node: yaml.Node, where: str = "") -> Iterator[str]:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.tag == MERGE_TAG:
                yield f"line {key.start_mark.line + 1}{where and ' under ' + where}"
            yield from _merge_keys(
                value, f"{where}/{key.value}" if isinstance(key, yaml.ScalarNode) else where
            )
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _merge_keys(item, f"{where}/{index}")


@pytest.mark.parametrize("path", FILES, ids=_relative)
def test_no_merge_keys(path: Path):
    """YAML 1.2 has no `<<` merge key: tools that follow it see a key named "<<"."""
    node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    assert list(_merge_keys(node)) == []


def _string_schema_values(node: Any, where: str = "#") -> Iterator[tuple[str, Any]]:
    """(location, value) of every enum member, example and default that a `type: string`
    schema (or a parameter or header whose schema is one) gives."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            yield from _string_schema_values(item, f"{where}/{index}")
        return
    if not isinstance(node, dict):
        return
    if node.get("type") == "string":
        nullable = node.get("nullable") is True
        for index, member in enumerate(node.get("enum") or []):
            if not (member is None and nullable):
                yield f"{where}/enum/{index}", member
        for key in ("example", "default"):
            if key in node and not (node[key] is None and nullable):
                yield f"{where}/{key}", node[key]
    schema = node.get("schema")
    if isinstance(schema, dict) and schema.get("type") == "string" and "content" not in node:
        if "example" in node:  # a parameter's or header's own example
            yield f"{where}/example", node["example"]
        for name, example in (node.get("examples") or {}).items():
            if isinstance(example, dict) and "value" in example:
                yield f"{where}/examples/{name}/value", example["value"]
    for key, value in node.items():
        yield from _string_schema_values(value, f"{where}/{key}")


def test_the_walk_finds_string_values():
    """The walk below does look where the values are (a guard against a walk that finds nothing)."""
    spec = read_yaml(ROOT / "openapi" / "loyalty.yaml")
    found = dict(_string_schema_values(spec))
    assert "ON" in [
        value
        for where, value in found.items()
        if where.startswith("#/components/schemas/ProfileUpdate/properties/provinceState/enum/")
    ]
    assert found["#/paths//users/{identifier}/sessions/post/parameters/1/example"] == "1000000001"


@pytest.mark.parametrize("path", SPECS, ids=_relative)
def test_string_schemas_give_strings(path: Path):
    """An enum member, example or default of a string schema that a reader takes for a
    boolean, a number or a date (unquoted ON, NO, 1.0, 2024-01-01...) is a contract bug."""
    wrong = {
        where: value
        for where, value in _string_schema_values(read_yaml(path))
        if not isinstance(value, str)
    }
    assert wrong == {}
