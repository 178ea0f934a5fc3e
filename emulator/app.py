"""create_app(): one ASGI app serving every vendor API (and the control API) from its spec."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from connexion import ConnexionMiddleware
from connexion.middleware.request_validation import RequestValidationMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.resolver import Resolver

from emulator.errors import RequestInvalid, VendorError
from emulator.middleware import Dispatcher, EmulatorApp, ErrorShape, OperationMiddleware
from emulator.runtime import Runtime
from emulator.validation import VALIDATOR_MAP
from emulator.vendors import VENDORS

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_DIR = ROOT / "openapi"
FIXTURES_DIR = ROOT / "fixtures"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


class PlainErrors:
    """Paths that belong to no API: a small JSON error, never problem+json."""

    too_large = VendorError(413, {"error": "payload_too_large", "detail": "Request body too large"})
    internal_error = VendorError(500, {"error": "internal_error", "detail": "Internal error"})

    def invalid_request(self, exc: RequestInvalid) -> VendorError:
        return VendorError(400, {"error": "invalid_request", "detail": exc.detail})

    def unrouted(self, method: str, path: str, method_not_allowed: bool) -> VendorError:
        if method_not_allowed:
            return VendorError(405, {"error": "method_not_allowed", "detail": f"{method} {path}"})
        return VendorError(404, {"error": "not_found", "detail": f"{method} {path}"})


def route_table(spec_files: list[Path]) -> Callable[[str], list[str]]:
    """path -> the methods its spec declares (for the Allow header of a 405)."""
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for spec_file in spec_files:
        spec = yaml.safe_load(spec_file.read_text(encoding="utf-8"))
        base = spec.get("servers", [{"url": ""}])[0]["url"].rstrip("/")
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(base + template))
            methods = [m.upper() for m in item if m in HTTP_METHODS]
            routes.append((re.compile(f"^{pattern}/?$"), methods))

    def allowed(path: str) -> list[str]:
        return next((methods for regex, methods in routes if regex.match(path)), [])
    return allowed


def create_app(fixtures_dir: Path = FIXTURES_DIR, data_file: Path | None = None) -> EmulatorApp:
    runtime = Runtime(VENDORS, fixtures_dir, data_file)
    handlers: dict[tuple[str, str], Any] = {}
    shapes: dict[str, ErrorShape] = {}
    prefixes: dict[str, str] = {}

    def resolver_for(api: str, module_handler: Any) -> Resolver:
        def resolve(operation_id: str) -> Any:
            handlers[(api, operation_id)] = module_handler(operation_id)
            return handlers[(api, operation_id)]
        return Resolver(function_resolver=resolve)

    connexion = ConnexionMiddleware(
        Dispatcher(handlers), import_name=__name__, specification_dir=OPENAPI_DIR,
        middlewares=[RoutingMiddleware, OperationMiddleware, RequestValidationMiddleware],
        validator_map=VALIDATOR_MAP)
    for vendor in VENDORS:
        connexion.add_api(vendor.spec, name=vendor.name,
                          resolver=resolver_for(vendor.name, vendor.handler))
        shapes[vendor.name] = vendor
        prefixes[vendor.prefix] = vendor.name
    specs = [OPENAPI_DIR / vendor.spec for vendor in VENDORS]
    app = EmulatorApp(connexion, runtime, shapes, prefixes, PlainErrors(), route_table(specs))
    connexion.app, connexion.middleware_stack = connexion._build_middleware_stack()
    return app
