"""What a vendor plug-in declares: its spec, handlers, errors, state and fixtures."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from emulator.errors import RequestInvalid, VendorError
from emulator.specs import handler_name
from emulator.state_schema import Documents, IndexKey


@dataclass(frozen=True)
class Vendor:
    """A vendor API: adding one is a package under ``emulator/vendors`` and a line in VENDORS.

    - ``prefix``: the URL path prefix that is this vendor's alone (e.g. ``/client/``).
    - ``errors``: the catalogue entries, by name (``<vendor>.<name>`` in the catalogue).
    - ``collections``: state collections with their unique secondary indexes.
    - ``documents``: what each collection's documents must be for the handlers to use them
      and for the vendor's reads to answer them as its spec says (the state schema
      snapshots, the data file and the fixtures' seeds are checked against); a collection
      of id counters is declared by ``state_schema.Counters`` (``Counters.documents()``), and
      handlers make ids of the numbers ``Store.issue`` gives.
    - ``load_fixtures(doc)``: a validated fixture document -> (state, config).
    - ``fixture_schema``: the fixture file's schema; ``config_schema``: the configuration's
      (a fixture's ``config`` and ``PATCH /_emulator/config``'s entry for the vendor).
    - ``invalid_request(exc)``: the vendor's error for a request that fails the spec, or
      None to let the handler report it in the vendor's own check order.
    - ``unrouted(method, path, allowed)``: the error for a path or method the spec lacks.
    - ``unreported(errors)``: the error for spec failures a handler left unreported when it
      declares its checks passed (``RequestContext.checked``), or None when the remaining
      ones are the vendor's configuration to judge (e.g. loyalty's mandatory fields).
    """

    name: str
    spec: str
    prefix: str
    handlers: ModuleType
    errors: Mapping[str, VendorError]
    collections: Mapping[str, Mapping[str, IndexKey]]
    load_fixtures: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]
    fixture_schema: Mapping[str, Any]
    config_schema: Mapping[str, Any]
    invalid_request: Callable[[RequestInvalid], VendorError | None]
    unrouted: Callable[[str, str, bool], VendorError]
    unreported: Callable[[list[Any]], VendorError | None]
    too_large: VendorError
    internal_error: VendorError
    head_too_large: VendorError  # 431: a request head over the server's bound
    unavailable: VendorError  # 503: the server's connection cap reached
    documents: Mapping[str, Documents] = field(default_factory=dict)

    def handler(self, operation_id: str) -> Callable[..., Any]:
        """operationId (the vendor's camelCase name) -> the snake_case handler function."""
        handler: Callable[..., Any] = getattr(self.handlers, handler_name(operation_id))
        return handler
