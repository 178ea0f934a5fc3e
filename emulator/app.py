"""create_app(): one ASGI app serving every vendor API (and the control API) from its spec."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import emulator.vendors
from emulator import connexion_seam, control, docs, resources, specs
from emulator.api import API
from emulator.clock import Clock
from emulator.connexion_seam import (
    Resolver,
    RoutingMiddleware,
    SpecMiddleware,
    ValidationMiddleware,
)
from emulator.context import Handler
from emulator.dispatcher import Dispatcher
from emulator.engine import MAX_RULES
from emulator.errors import PlainErrors
from emulator.journal import JOURNAL_BYTES, JOURNAL_SIZE
from emulator.metrics import Metrics
from emulator.middleware import EmulatorApp
from emulator.runtime import HOLD_SECONDS, MAX_NAMESPACES, Runtime
from emulator.vendors import VENDORS
from emulator.vendors.base import Vendor

OPENAPI_DIR = specs.OPENAPI_DIR
FIXTURES_DIR = resources.FIXTURES_DIR


def create_app(
    fixtures_dir: Path = FIXTURES_DIR,
    data_file: Path | None = None,
    *,
    control_token: str | None = None,
    journal_size: int = JOURNAL_SIZE,
    journal_bytes: int = JOURNAL_BYTES,
    max_namespaces: int = MAX_NAMESPACES,
    max_rules: int = MAX_RULES,
    hold_seconds: float = HOLD_SECONDS,
    clock: Clock | None = None,
    vendors: tuple[Vendor, ...] | None = None,
    fsync: str = "batch",
    cors_origins: tuple[str, ...] = (),
    webhook_hosts: frozenset[str] = frozenset(),
) -> EmulatorApp:
    """The emulator: every vendor API, and the control API under /_emulator/.

    ``control_token``: when set, control calls (health excepted) need it. ``journal_size``
    and ``journal_bytes``: vendor calls, and bytes, kept per namespace. ``max_namespaces``:
    namespaces kept at once (0: no cap). ``max_rules``: fault rules each namespace holds
    at once (0: no cap). ``hold_seconds``: the `timeout` fault's cap.
    ``clock``: the fault engine's time and the journal's durations (a ``clock.ManualClock``
    in tests of delays).
    ``vendors``: the vendor APIs to serve (all the emulator ships, ``VENDORS``, by default).
    ``fsync``: ``batch`` (the data file's writes fsynced, an fsync starting within 10 ms) or
    ``always`` (a write is answered once it is on disk). ``cors_origins``: browser origins
    answered CORS preflights and given ``Access-Control-Allow-Origin`` (none: CORS off).
    ``webhook_hosts``: hosts beside loopback that webhook subscribers may be on (``*``: any).
    """
    vendors = VENDORS if vendors is None else vendors
    runtime = Runtime(
        vendors,
        fixtures_dir,
        data_file,
        journal_size=journal_size,
        journal_bytes=journal_bytes,
        max_namespaces=max_namespaces,
        max_rules=max_rules,
        hold_seconds=hold_seconds,
        clock=clock,
        fsync=fsync,
        webhook_hosts=webhook_hosts,
        shipped=tuple(vendor.name for vendor in emulator.vendors.VENDORS),
    )
    metrics = Metrics(runtime.namespaces)  # this server's own registry
    controls = control.ControlAPI(runtime, metrics)
    # One record per API: the vendors, then the control API (its own prefix, error shape,
    # token guard and body caps; EmulatorApp keeps it out of the journal and the fault rules).
    apis = [
        API(
            vendor.name,
            vendor.prefix,
            vendor,
            _handlers(vendor.spec, vendor.handler),
            max_body=specs.body_limits(vendor.spec),
        )
        for vendor in vendors
    ]
    apis.append(
        API(
            "control",
            control.PREFIX,
            control.ControlErrors(),
            _handlers(control.SPEC, controls.handler),
            vendor=False,
            guard=control.token_guard(control_token) if control_token else None,
            max_body=specs.body_limits(control.SPEC),
            too_large=control.too_large,
            nesting={"/_emulator/state": control.STATE_NESTING},
        )
    )
    connexion = SpecMiddleware(
        Dispatcher(apis, runtime),
        import_name=__name__,
        specification_dir=OPENAPI_DIR,
        middlewares=[RoutingMiddleware, ValidationMiddleware],
    )
    specs_by_api = {vendor.name: vendor.spec for vendor in vendors} | {"control": control.SPEC}
    # Connexion's router tries the APIs' mounts last added first: the vendors go in last, the
    # first vendor last of all, so its calls match the first mount (and control calls, the
    # rarest under load, the last one). The prefixes are disjoint: only the speed changes.
    # add_api is given the shared parse: it builds Connexion's spec from a copy.
    for api in reversed(apis):
        connexion.add_api(
            specs.shared(specs_by_api[api.name]),
            name=api.name,
            resolver=Resolver(function_resolver=api.handlers.__getitem__),
        )
    allowed = specs.route_table(specs_by_api.values())
    app = EmulatorApp(
        connexion, runtime, apis, PlainErrors(), allowed, metrics, docs.ALIASES, cors_origins
    )
    connexion_seam.build(connexion)
    return app


def _handlers(spec: str, handler_for: Callable[[str], Handler]) -> dict[str, Handler]:
    """The handler of each operation the spec declares (the spec is the list of operations)."""
    return {operation_id: handler_for(operation_id) for operation_id in specs.operations(spec)}
