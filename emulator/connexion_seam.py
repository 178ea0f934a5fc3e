"""The one place Connexion's internals are touched; tests/unit/test_connexion_seam.py checks
each touch against the installed Connexion, so an upgrade that moves one fails there, loudly.

1. ``CheckedSpecification``: overrides the classmethod ``OpenAPISpecification._validate_spec``
   and reads its ``openapi_schema``, to check a spec with a compiled validator.
2. ``SpecMiddleware.add_api``: builds ``connexion.middleware.main.API`` itself from
   ``self.options`` (a dataclass of the middleware's settings) so a dict spec becomes a
   ``CheckedSpecification``; refuses, as Connexion does, once ``middleware_stack`` is built.
3. ``build``: ``ConnexionMiddleware._build_middleware_stack()`` (Connexion builds it lazily on
   the first call; here at start-up, so its errors stop the start and the routers can be
   adjusted), and the Starlette routers of ``RoutingMiddleware.router`` told not to redirect.
4. ``ValidationOperation``: ``RequestValidationOperation`` with its per-request set-up done
   once; reads its ``_operation`` (parameters, consumes, body_schema, body_definition,
   request_body), ``_validator_map``, ``strict_validation`` and ``next_app``.
5. ``ValidationAPI.make_operation`` and ``ValidationMiddleware.api_cls``: how Connexion's
   request-validation middleware makes its per-operation apps.
6. ``routed_operation``: the operationId Connexion's routing leaves in the ASGI scope
   (``scope["extensions"]["connexion_routing"]["operation_id"]``).

(emulator/validation.py's validators use Connexion's custom-validator hooks, ``_parse`` and
``_validate`` of ``AbstractRequestBodyValidator``, as its validator_map documents.)
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema_rs
from connexion import ConnexionMiddleware
from connexion.datastructures import MediaTypeDict
from connexion.middleware.main import API
from connexion.middleware.request_validation import (RequestValidationAPI,
                                                     RequestValidationMiddleware,
                                                     RequestValidationOperation)
from connexion.middleware.routing import RoutingMiddleware
from connexion.spec import OpenAPISpecification
from connexion.utils import is_nullable, split_content_type
from starlette.types import Scope

from emulator.errors import RequestInvalid
from emulator.validation import BodyValidator, ParameterValidator


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


def routed_operation(scope: Scope) -> str | None:
    """The operationId of the route Connexion matched (None: no route)."""
    return scope.get("extensions", {}).get("connexion_routing", {}).get("operation_id")


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


class ValidationOperation(RequestValidationOperation):
    """Connexion's request validation for one operation, with the per-request set-up done once.

    Connexion 3.3 rebuilds the URI parser, the parameter validator, the media-type table
    and the body definition on every request; here they are built at start-up and the
    same validation runs against them.
    """

    def __init__(self, next_app: Any, *, operation: Any, strict_validation: bool = False,
                 validator_map: dict | None = None) -> None:
        super().__init__(next_app, operation=operation, strict_validation=strict_validation,
                         validator_map=validator_map)
        self._parameters = ParameterValidator(operation.parameters)
        self._accepts = MediaTypeDict([(c.lower(), None) for c in operation.consumes])
        self._bodies: dict[str, tuple[Any, dict, bool, bool]] = {}
        self._content_types: dict[bytes | None, tuple[str, str, bool]] = {}

    def _body(self, mime_type: str) -> tuple[Any, dict, bool, bool] | None:
        entry = self._bodies.get(mime_type)
        if entry is None:
            schema = self._operation.body_schema(mime_type)
            validator = self._validator_map["body"].get(mime_type) if schema else None
            if validator is None:
                return None
            entry = self._bodies[mime_type] = (
                validator, schema, self._operation.request_body.get("required", False),
                is_nullable(self._operation.body_definition(mime_type)))
        return entry

    def _content_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None]:
        """(mime type, charset) of the first Content-Type header, as Connexion reads it, with
        the answer for each header value kept (a client sends the same few)."""
        raw = next((value for key, value in headers if key.lower() == b"content-type"), None)
        entry = self._content_types.get(raw)
        if entry is None:
            mime_type, encoding = split_content_type(None if raw is None else raw.decode("latin-1"))
            if mime_type is None:  # no Content-Type: Connexion's best guess
                mime_type = self._operation.consumes[0] if self._operation.consumes else \
                    "application/octet-stream"
            mime_type = mime_type.lower()  # RFC 9110: media types are case-insensitive
            accepted = not self._operation.consumes or mime_type in self._accepts
            entry = (mime_type, encoding or "utf-8", accepted)
            if len(self._content_types) < 64:
                self._content_types[raw] = entry
        return entry

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        self._parameters.validate(scope)
        mime_type, encoding, accepted = self._content_type(scope["headers"])
        if not accepted:
            raise RequestInvalid(f"Invalid Content-type ({mime_type}), "
                                 f"expected {self._operation.consumes}")
        body = self._body(mime_type)
        if body is not None:
            validator_cls, schema, required, nullable = body
            validator = validator_cls(schema=schema, required=required, nullable=nullable,
                                      encoding=encoding, strict_validation=self.strict_validation)
            ctx = scope.get("emulator")
            if isinstance(validator, BodyValidator) and ctx is not None and ctx.body_parsed:
                # The emulator already read and parsed this body: validate it as Connexion's
                # wrap_receive would, without re-streaming it through a second receive.
                validator._ctx = ctx
                if not (ctx.body is None and nullable):
                    validator._validate(ctx.body)
            else:
                receive, scope = await validator.wrap_receive(receive, scope=scope)
        await self.next_app(scope, receive, send)


class ValidationAPI(RequestValidationAPI):
    def make_operation(self, operation: Any) -> ValidationOperation:
        return ValidationOperation(self.next_app, operation=operation,
                                   strict_validation=self.strict_validation,
                                   validator_map=self.validator_map)


class ValidationMiddleware(RequestValidationMiddleware):
    """Connexion's RequestValidationMiddleware, built on :class:`ValidationOperation`."""

    api_cls = ValidationAPI
