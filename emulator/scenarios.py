"""Scenario files (fixtures/scenarios/<name>.yaml): a named, described list of fault rules,
checked whole when read and parsed again when activated."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator

from emulator.errors import echo
from emulator.jsonyaml import read_yaml
from emulator.rules import NAME_PATTERN, FaultRule, RuleError, check, location, refusal

SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Scenario",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "description", "rules"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "description": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "object"}},
    },
}
_SCENARIO_VALIDATOR = Draft7Validator(SCENARIO_SCHEMA)


@dataclass
class Scenario:
    """A named, described list of rules from fixtures/scenarios/<name>.yaml (parsed on activation)."""

    name: str
    description: str
    rules: list[dict[str, Any]]

    def parse_rules(self, *, known_errors: Container[str], where: str = "") -> list[FaultRule]:
        prefix = where or f"scenario {self.name}: "
        return [
            FaultRule.parse(r, known_errors=known_errors, where=location(prefix, ["rules", i]))
            for i, r in enumerate(self.rules)
        ]


def load_scenario_file(path: Path, *, known_errors: Container[str]) -> Scenario:
    """Read and fully validate one scenario file; errors name the file and the field."""
    where = f"{path}: "
    try:
        data = read_yaml(path)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: not UTF-8 text: {exc}") from exc
    check(_SCENARIO_VALIDATOR, data, where)
    if data["name"] != path.stem:
        raise refusal(
            where, ["name"], f"{echo(data['name'])} must equal the file name {path.stem!r}"
        )
    scenario = Scenario(name=data["name"], description=data["description"], rules=data["rules"])
    scenario.parse_rules(known_errors=known_errors, where=where)
    return scenario


def load_scenarios(directory: Path, *, known_errors: Container[str]) -> dict[str, Scenario]:
    """Every *.yaml / *.yml scenario in a folder by name ({} when the folder does not exist)."""
    if not directory.is_dir():
        return {}
    scenarios: dict[str, Scenario] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        scenario = load_scenario_file(path, known_errors=known_errors)
        if scenario.name in scenarios:
            raise RuleError(
                f"{path}: name: scenario {scenario.name!r} is defined twice in {directory}"
            )
        scenarios[scenario.name] = scenario
    return scenarios
