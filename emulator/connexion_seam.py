"""The one place Connexion's internals are touched; tests/unit/test_connexion_seam.py checks
each touch against the installed Connexion, so an upgrade that moves one fails there, loudly,
naming Connexion and its version.

1. ``CheckedSpecification``: overrides the classmethod ``OpenAPISpecification._validate_spec``
   and reads its ``openapi_schema``, to check a spec with a compiled validator.
2. ``SpecMiddleware.add_api``: builds ``connexion.middleware.main.API`` itself from
   ``self.options`` (a dataclass of the middleware's settings) so a dict spec becomes a
   ``CheckedSpecification``; refuses, as Connexion does, once ``middleware_stack`` is built.
3. ``build``: ``ConnexionMiddleware._build_middleware_stack()`` (Connexion builds it lazily on
   the first call; here at start-up, so its errors stop the start and the routers can be
   adjusted), and the Starlette routers of ``RoutingMiddleware.router`` told not to redirect.
4. ``ValidationAPI.make_operation`` and ``ValidationMiddleware.api_cls``: how Connexion's
   request-validation middleware makes its per-operation apps; ours is
   :class:`ValidationOperation`, built from the operation's ``parameters``, ``consumes``,
   ``request_body``, ``body_schema()``, ``body_definition()`` and ``operation_id``; it is called
   with the scope's ``path_params`` that Connexion's routing filled.

5. ``IMPORT_WARNINGS``: the warnings Connexion's own import raises, whatever is used of it
   (``connexion.apps.abstract`` imports ``starlette.testclient``, which warns that it wants
   ``httpx2``; ``connexion.json_schema`` imports jsonschema's ``RefResolver`` and
   ``RefResolutionError``, deprecated since jsonschema 4.18). Connexion is imported here, first
   (the rest of the package imports its names from this module, or after it), with exactly
   those warnings silenced, so a partner's suite run with ``-W error`` sees none of ours; the
   test fails once Connexion stops raising one, so the silencing goes with it.

Connexion's own validators (its ``validator_map``) are not used: they are rebuilt on every
request in Connexion 3.3; emulator/validation.py checks requests without Connexion.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from importlib.metadata import version
from typing import Any

import jsonschema_rs
from starlette.types import Scope

from emulator.context import Route, outcome_of, request_of
from emulator.errors import RequestInvalid
from emulator.validation import RequestChecks

# (the module that raises it, the start of its message)
IMPORT_WARNINGS = (
    ("connexion.apps.abstract", "Using `httpx` with `starlette.testclient` is deprecated"),
    ("connexion.json_schema", "jsonschema.RefResolver is deprecated"),
    ("connexion.json_schema", "jsonschema.exceptions.RefResolutionError is deprecated"),
)
with warnings.catch_warnings():
    for module, message in IMPORT_WARNINGS:
        warnings.filterwarnings("ignore", re.escape(message), module=re.escape(module) + "$")
    from connexion import ConnexionMiddleware

    # (also the middleware's: the exception type it words as the API's error)
    from connexion.exceptions import ProblemException as ProblemException
    from connexion.middleware.main import API
    from connexion.middleware.request_validation import (
        RequestValidationAPI,
        RequestValidationMiddleware,
    )

    # (also the app's: its stack is built with them, imported from here, after the guard)
    from connexion.middleware.routing import RoutingMiddleware as RoutingMiddleware
    from connexion.resolver import Resolver as Resolver
    from connexion.spec import OpenAPISpecification
    from connexion.utils import is_nullable


VERSION = version("connexion")  # named by the seam test when a touch moves


class CheckedSpecification(OpenAPISpecification):  # type: ignore[misc]
    """Connexion's OpenAPI 3 specification, checked against the same OpenAPI 3.0 schema by a
    compiled validator: ~0.2 ms a spec instead of ~50 ms with Python jsonschema (a cold start
    takes ~23% more CPU with Connexion's own check). When the check fails, Connexion's own check runs and raises its
    usual InvalidSpecification. (Connexion also checks each `default` against its schema;
    openapi-spec-validator does that in tests/unit/test_specs.py.)"""

    _checker: Any = None

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        if cls._checker is None:
            cls._checker = jsonschema_rs.validator_for(cls.openapi_schema)
        if not cls._checker.is_valid(spec):
            super()._validate_spec(spec)


class SpecMiddleware(ConnexionMiddleware):  # type: ignore[misc]
    """ConnexionMiddleware whose dict specs are built as :class:`CheckedSpecification`; the
    rest is Connexion's add_api (a spec path, Jinja `arguments`, everything it passes on).
    A dict spec is copied first (Connexion edits what it is given), so the parse that
    ``specs.shared`` hands every reader can be passed as it is."""

    def add_api(
        self,
        specification: Any,
        *,
        name: str | None = None,
        base_path: str | None = None,
        arguments: dict[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(specification, dict) or arguments is not None:
            super().add_api(
                specification, name=name, base_path=base_path, arguments=arguments, **options
            )
            return
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add api after an application has started")
        known = {f.name for f in dataclasses.fields(self.options)}
        settings = self.options.replace(**{k: v for k, v in options.items() if k in known})
        extra = {k: v for k, v in options.items() if k not in known}
        self.apis.append(
            API(
                CheckedSpecification(_string_keys(specification)),
                base_path=base_path,
                name=name,
                **settings.__dict__,
                **extra,
            )
        )


def _string_keys(obj: Any) -> Any:
    """A copy of a parsed spec (every dict and list new) whose keys are strings: YAML keys
    such as `200:` are ints; OpenAPI's are strings (as Connexion's from_dict)."""
    if isinstance(obj, dict):
        return {str(key): _string_keys(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [_string_keys(value) for value in obj]
    return obj


def build(connexion: ConnexionMiddleware) -> None:
    """Build the middleware stack now (not on the first call), with no slash redirects."""
    connexion.app, connexion.middleware_stack = connexion._build_middleware_stack()
    _no_slash_redirects(connexion)


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


class ValidationOperation:
    """One routed operation, in the place of Connexion's RequestValidationOperation (which
    rebuilds its validators on every request, Connexion 3.3): it runs the operation's request
    checks (emulator/validation.py's :class:`RequestChecks`, built once from Connexion's
    operation) and leaves the call's :class:`~emulator.context.Route` on its outcome: the
    operation, its path parameters, and the failure as a value (never raised), for the
    Dispatcher to turn into the API's error. Connexion's validation middleware calls it only
    for the operation its routing matched, so its operationId is known at start-up."""

    def __init__(self, next_app: Any, operation: Any) -> None:
        self.next_app = next_app
        self.operation_id = operation.operation_id
        request_body = operation.request_body
        bodies = {
            media_type: (
                operation.body_schema(media_type),
                request_body.get("required", False),
                is_nullable(operation.body_definition(media_type)),
            )
            for media_type in operation.consumes
        }
        self.checks = RequestChecks(operation.parameters, operation.consumes, bodies)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        request = request_of(scope)
        path_params = dict(scope.get("path_params", {}))
        failure: RequestInvalid | None = request.too_deep
        form = None
        if failure is None:  # (one nested too deep is refused unchecked: the checks would walk it)
            failure, form = self.checks.check(request, path_params, scope["headers"])
        outcome_of(scope).route = Route(self.operation_id, path_params, failure, form)
        await self.next_app(scope, receive, send)


class ValidationAPI(RequestValidationAPI):  # type: ignore[misc]
    def make_operation(self, operation: Any) -> ValidationOperation:
        return ValidationOperation(self.next_app, operation)


class ValidationMiddleware(RequestValidationMiddleware):  # type: ignore[misc]
    r"""Connexion's RequestValidationMiddleware, making :class:`ValidationOperation`\ s."""

    api_cls = ValidationAPI
