"""Namespaces (isolated state and config, seeded from fixtures) and the per-request context."""
from __future__ import annotations

import copy
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import yaml

from emulator.errors import Catalogue
from emulator.state import DataFile, Store

if TYPE_CHECKING:
    from emulator.vendors.base import Vendor

DEFAULT_NAMESPACE = "default"
NAMESPACE_HEADER = "x-emulator-namespace"
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class FixtureError(ValueError):
    """A fixture file does not match its schema; the message names the file and the field."""


@dataclass
class Namespace:
    """Everything one test (or one team) sees: state, configuration, counters."""

    name: str
    store: Store
    config: dict[str, Any]


@dataclass
class RequestContext:
    """What the emulator knows about one vendor call as it travels through the stack."""

    namespace: Namespace
    api: str | None
    method: str
    path: str
    headers: dict[str, str]
    query_string: bytes = b""
    raw_body: bytes = b""
    body: Any = None
    body_parsed: bool = False
    operation: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    deferred: list[Any] = field(default_factory=list)  # spec failures a handler reports itself
    shape: Any = None  # the API's ErrorShape (a Vendor for vendor calls)

    @property
    def store(self) -> Store:
        return self.namespace.store

    def config(self, vendor: str) -> dict[str, Any]:
        return self.namespace.config[vendor]


def _field_path(error: jsonschema.ValidationError) -> str:
    parts = ""
    for part in error.absolute_path:
        parts += f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else str(part))
    return parts or "(top level)"


def load_fixture_file(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """Read a YAML fixture safely and validate it, naming the file and field on error."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(doc))
    if error is not None:
        raise FixtureError(f"{path}: {_field_path(error)}: {error.message}")
    return doc


class Runtime:
    """The namespaces of one server, their fixture seed, and the optional data file."""

    def __init__(self, vendors: tuple[Vendor, ...], fixtures_dir: Path,
                 data_file: Path | None = None) -> None:
        self.vendors = {vendor.name: vendor for vendor in vendors}
        self.fixtures_dir = fixtures_dir
        self.catalogue = Catalogue()
        self._schema: dict[str, Any] = {}
        self._seed_state: dict[str, Any] = {}
        self._seed_config: dict[str, Any] = {"seed": 0}
        for vendor in vendors:
            self.catalogue.register(vendor.name, vendor.errors)
            self._schema.update(vendor.collections)
            path = fixtures_dir / f"{vendor.name}.yaml"
            doc = load_fixture_file(path, dict(vendor.fixture_schema)) if path.exists() else {}
            state, config = vendor.load_fixtures(doc)
            self._seed_state.update(state)
            self._seed_config[vendor.name] = config
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.Lock()
        self.data_file = DataFile(data_file, self.persisted) if data_file else None
        if self.data_file is not None:
            saved = self.data_file.load() or {}
            for name, state in saved.get("namespaces", {}).items():
                self.namespace(name).store.restore(state)
            self.data_file.start()

    def _mark_dirty(self) -> None:
        if self.data_file is not None:
            self.data_file.mark_dirty()

    def namespace(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        namespace = self._namespaces.get(name)
        if namespace is None:
            with self._lock:
                namespace = self._namespaces.get(name)
                if namespace is None:
                    store = Store(self._schema, on_write=self._mark_dirty)
                    store.restore(self._seed_state)
                    namespace = Namespace(name, store, copy.deepcopy(self._seed_config))
                    self._namespaces[name] = namespace
        return namespace

    def reset(self, name: str) -> Namespace:
        """The namespace back to its fixture seed: state and configuration."""
        namespace = self.namespace(name)
        namespace.store.restore(self._seed_state)
        namespace.config = copy.deepcopy(self._seed_config)
        return namespace

    def persisted(self) -> dict[str, Any]:
        return {"version": 1, "namespaces": {name: ns.store.snapshot()
                                             for name, ns in list(self._namespaces.items())}}

    def close(self) -> None:
        if self.data_file is not None:
            self.data_file.close()
