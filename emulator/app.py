"""create_app(): one ASGI app serving every vendor API (and the control API) from its spec."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jsonschema_rs
from connexion import ConnexionMiddleware
from connexion.middleware.main import API
from connexion.middleware.routing import RoutingMiddleware
from connexion.resolver import Resolver
from connexion.spec import OpenAPISpecification

from emulator import control, resources, specs
from emulator.middleware import (Dispatcher, EmulatorApp, ErrorShape, Guard, OperationMiddleware,
                                 PlainErrors)
from emulator.runtime import HOLD_SECONDS, JOURNAL_SIZE, Runtime
from emulator.validation import VALIDATOR_MAP, ValidationMiddleware
from emulator.vendors import VENDORS

OPENAPI_DIR = specs.OPENAPI_DIR
FIXTURES_DIR = resources.FIXTURES_DIR


class CheckedSpecification(OpenAPISpecification):
    """Connexion's OpenAPI 3 specification, checked against the same OpenAPI 3.0 schema by a
    compiled validator: ~0.2 ms a spec instead of ~50 ms with Python jsonschema, which was a
    quarter of the start-up. When the check fails, Connexion's own check runs and raises its
    usual InvalidSpecification. (Connexion also checks each `default` against its schema;
    openapi-spec-validator does that in tests/unit/test_specs.py.)"""

    _checker: Any = None

    @classmethod
    def _validate_spec(cls, spec: dict) -> None:
        if cls._checker is None:
            cls._checker = jsonschema_rs.validator_for(cls.openapi_schema)
        if not cls._checker.is_valid(spec):
            super()._validate_spec(spec)


class SpecMiddleware(ConnexionMiddleware):
    """ConnexionMiddleware whose dict specs are built as :class:`CheckedSpecification`; the
    rest is Connexion's add_api (a spec path, Jinja `arguments`, everything it passes on)."""

    def add_api(self, specification: Any, *, name: str | None = None,
                base_path: str | None = None, arguments: dict | None = None,
                **options: Any) -> None:
        if not isinstance(specification, dict) or arguments is not None:
            super().add_api(specification, name=name, base_path=base_path,
                            arguments=arguments, **options)
            return
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add api after an application has started")
        known = {f.name for f in dataclasses.fields(self.options)}
        settings = self.options.replace(**{k: v for k, v in options.items() if k in known})
        extra = {k: v for k, v in options.items() if k not in known}
        self.apis.append(API(CheckedSpecification(_string_keys(specification)),
                             base_path=base_path, name=name, **settings.__dict__, **extra))


def _string_keys(obj: Any) -> Any:
    """YAML keys such as `200:` are ints; OpenAPI's are strings (as Connexion's from_dict)."""
    if isinstance(obj, dict):
        return {str(key): _string_keys(value) for key, value in obj.items()}
    return obj


def create_app(fixtures_dir: Path = FIXTURES_DIR, data_file: Path | None = None, *,
               control_token: str | None = None, journal_size: int = JOURNAL_SIZE,
               hold_seconds: float = HOLD_SECONDS) -> EmulatorApp:
    """The emulator: every vendor API, and the control API under /_emulator/.

    ``control_token``: when set, control calls (health excepted) need it. ``journal_size``:
    vendor calls kept per namespace. ``hold_seconds``: the `timeout` fault's cap.
    """
    runtime = Runtime(VENDORS, fixtures_dir, data_file, journal_size=journal_size,
                      hold_seconds=hold_seconds)
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
    connexion.app, connexion.middleware_stack = connexion._build_middleware_stack()
    _no_slash_redirects(connexion)
    return app


def _no_slash_redirects(connexion: ConnexionMiddleware) -> None:
    """Starlette answers `/profiles/` with a 307 to `/profiles`; no vendor documents that,
    so a path with a trailing slash is simply not a route (the API's own 404, or 22000
    for OCC's blank profile id)."""
    for middleware in connexion.middleware_stack or ():
        if isinstance(middleware, RoutingMiddleware):
            middleware.router.redirect_slashes = False
            for route in middleware.router.routes:
                if hasattr(route.app, "redirect_slashes"):
                    route.app.redirect_slashes = False
