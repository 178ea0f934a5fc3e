"""create_app(): one ASGI app serving every vendor API (and the control API) from its spec."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from connexion.middleware.routing import RoutingMiddleware
from connexion.resolver import Resolver

from emulator import connexion_seam, control, resources, specs
from emulator.clock import Clock
from emulator.connexion_seam import SpecMiddleware, ValidationMiddleware
from emulator.middleware import (Dispatcher, EmulatorApp, ErrorShape, Guard, OperationMiddleware,
                                 PlainErrors)
from emulator.runtime import HOLD_SECONDS, JOURNAL_SIZE, Runtime
from emulator.validation import VALIDATOR_MAP
from emulator.vendors import VENDORS

OPENAPI_DIR = specs.OPENAPI_DIR
FIXTURES_DIR = resources.FIXTURES_DIR


def create_app(fixtures_dir: Path = FIXTURES_DIR, data_file: Path | None = None, *,
               control_token: str | None = None, journal_size: int = JOURNAL_SIZE,
               hold_seconds: float = HOLD_SECONDS, clock: Clock | None = None) -> EmulatorApp:
    """The emulator: every vendor API, and the control API under /_emulator/.

    ``control_token``: when set, control calls (health excepted) need it. ``journal_size``:
    vendor calls kept per namespace. ``hold_seconds``: the `timeout` fault's cap.
    ``clock``: the fault engine's time (a ``clock.ManualClock`` in tests of delays).
    """
    runtime = Runtime(VENDORS, fixtures_dir, data_file, journal_size=journal_size,
                      hold_seconds=hold_seconds, clock=clock)
    handlers: dict[tuple[str, str], Any] = {}
    shapes: dict[str, ErrorShape] = {}
    prefixes: dict[str, str] = {}

    def resolver_for(api: str, module_handler: Any) -> Resolver:
        def resolve(operation_id: str) -> Any:
            handlers[(api, operation_id)] = module_handler(operation_id)
            return handlers[(api, operation_id)]
        return Resolver(function_resolver=resolve)

    connexion = SpecMiddleware(
        Dispatcher(handlers), import_name=__name__, specification_dir=OPENAPI_DIR,
        middlewares=[RoutingMiddleware, OperationMiddleware, ValidationMiddleware],
        validator_map=VALIDATOR_MAP)
    for vendor in VENDORS:
        connexion.add_api(specs.load(vendor.spec), name=vendor.name,
                          resolver=resolver_for(vendor.name, vendor.handler))
        shapes[vendor.name] = vendor
        prefixes[vendor.prefix] = vendor.name
    # The control API is one more API beside the vendors: its own prefix, error shape and
    # handler table; EmulatorApp keeps it out of the journal and the fault rules.
    controls = control.ControlAPI(runtime)
    connexion.add_api(specs.load(control.SPEC), name="control", resolver=resolver_for("control", controls.handler))
    shapes["control"] = control.ControlErrors()
    prefixes[control.PREFIX] = "control"
    guards: dict[str, Guard] = {"control": control.token_guard(control_token)} if control_token else {}
    allowed = specs.route_table([vendor.spec for vendor in VENDORS] + [control.SPEC])
    app = EmulatorApp(connexion, runtime, shapes, prefixes, PlainErrors(), allowed,
                      guards=guards, body_limits={"control": control.MAX_BODY_BYTES})
    connexion_seam.build(connexion)
    return app
