"""The fixtures folder: each vendor's seed state and configuration (``<vendor>.yaml``, checked
by its fixture schema and by the state schema) and the named fault scenarios
(``scenarios/*.yaml``). A namespace starts from the seed, and goes back to it on reset."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from emulator.jsonyaml import json_path, non_finite, read_yaml
from emulator.rules import Contract, RuleError
from emulator.scenarios import Scenario, load_scenarios
from emulator.state_schema import StateError, StateSchema

if TYPE_CHECKING:
    from emulator.vendors.base import Vendor


class FixtureError(ValueError):
    """A fixture file does not match its schema; the message names the file and the field."""


@dataclass(frozen=True)
class Seed:
    """What every namespace starts from: the vendors' state (``{collection: {key: document}}``)
    and configuration (``{"seed": n, vendor: {...}}``)."""

    state: dict[str, Any]
    config: dict[str, Any]


def seed(vendors: Iterable[Vendor], folder: Path, schema: StateSchema) -> Seed:
    """Each vendor's ``<name>.yaml`` of ``folder`` (none: the vendor's empty seed), checked by
    its fixture schema, then its state by the state schema; :class:`FixtureError` names the
    file and the field."""
    state: dict[str, Any] = {}
    config: dict[str, Any] = {"seed": 0}
    for vendor in vendors:
        path = folder / f"{vendor.name}.yaml"
        doc = load_fixture_file(path, dict(vendor.fixture_schema)) if path.exists() else {}
        own, config[vendor.name] = vendor.load_fixtures(doc)
        try:  # a seed is state as a snapshot is (e.g. YAML's 2**64 is refused)
            schema.check(own)
        except StateError as exc:
            raise FixtureError(f"{path}: {exc}") from None
        state.update(own)
    return Seed(state, config)


def scenarios(folder: Path, contract: Contract) -> dict[str, Scenario]:
    """The scenarios of ``folder``/scenarios, their rules checked against ``contract``."""
    try:
        return load_scenarios(folder / "scenarios", known_errors=contract)
    except RuleError as exc:
        raise FixtureError(str(exc)) from None


def load_fixture_file(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """Read a YAML fixture safely and validate it, naming the file and field on error."""
    try:
        doc: dict[str, Any] = read_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(doc))
    if error is not None:
        where = json_path(error.absolute_path) or "(top level)"
        raise FixtureError(f"{path}: {where}: {error.message}")
    found = non_finite(doc)
    if found is not None:
        raise FixtureError(
            f"{path}: {found or '(top level)'}: NaN and Infinity are not JSON numbers"
        )
    return doc
