"""Each touch of Connexion's internals (emulator/connexion_seam.py), checked against the
installed Connexion: an upgrade that moves one fails here, by name, before anything else."""
from __future__ import annotations

import dataclasses
import inspect

from connexion import ConnexionMiddleware
from connexion.middleware.main import API
from connexion.middleware.request_validation import (RequestValidationAPI,
                                                     RequestValidationMiddleware,
                                                     RequestValidationOperation)
from connexion.middleware.routing import RoutingMiddleware
from connexion.spec import OpenAPISpecification

from emulator import connexion_seam, specs
from emulator.app import create_app
from emulator.middleware import Dispatcher


def test_the_specification_check_is_a_classmethod_over_openapi_schema() -> None:
    assert isinstance(inspect.getattr_static(OpenAPISpecification, "_validate_spec"), classmethod)
    assert isinstance(OpenAPISpecification.openapi_schema, dict)
    assert OpenAPISpecification.openapi_schema["id"].startswith("https://spec.openapis.org/oas/3.0")


def test_add_api_builds_an_api_from_the_middlewares_options() -> None:
    middleware = connexion_seam.SpecMiddleware(Dispatcher({}), import_name=__name__)
    assert dataclasses.is_dataclass(middleware.options) and hasattr(middleware.options, "replace")
    assert middleware.middleware_stack is None and middleware.apis == []
    assert list(inspect.signature(API).parameters)[:1] == ["specification"]
    middleware.add_api(specs.load("loyalty.yaml"), name="loyalty")
    [api] = middleware.apis
    assert isinstance(api.specification, connexion_seam.CheckedSpecification)


def test_the_stack_is_built_at_start_up_with_routers_that_never_redirect() -> None:
    assert callable(ConnexionMiddleware._build_middleware_stack)
    app = create_app()
    stack = app.app.middleware_stack
    routing = [m for m in stack if isinstance(m, RoutingMiddleware)]
    assert routing and routing[0].router.redirect_slashes is False
    assert all(getattr(route.app, "redirect_slashes", False) is False
               for route in routing[0].router.routes)
    validation = [m for m in stack if isinstance(m, connexion_seam.ValidationMiddleware)]
    assert validation, "Connexion no longer makes its validation middleware from our class"


def test_request_validation_makes_its_operations_as_the_seam_expects() -> None:
    assert connexion_seam.ValidationMiddleware.api_cls is connexion_seam.ValidationAPI
    assert issubclass(connexion_seam.ValidationAPI, RequestValidationAPI)
    assert issubclass(connexion_seam.ValidationMiddleware, RequestValidationMiddleware)
    assert "make_operation" in vars(RequestValidationAPI)
    init = inspect.getsource(RequestValidationOperation.__init__)
    for attribute in ("self._operation", "self._validator_map", "self.strict_validation",
                      "self.next_app"):
        assert attribute in init, f"RequestValidationOperation no longer sets {attribute}"
    app = create_app()
    apis = [api for m in app.app.middleware_stack
            if isinstance(m, connexion_seam.ValidationMiddleware)
            for by_path in m.apis.values() for api in by_path]
    operations = [op for api in apis for op in api.operations.values()]
    assert operations and all(isinstance(op, connexion_seam.ValidationOperation) for op in operations)
    for op in operations:
        for attribute in ("parameters", "consumes", "body_schema", "body_definition", "request_body"):
            assert hasattr(op._operation, attribute), attribute


def test_routing_names_the_operation_in_the_scope() -> None:
    import asyncio

    import httpx

    app = create_app()

    async def call() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return (await client.get("/client/users/seed-session-1/profile")).status_code

    assert asyncio.run(call()) == 200
    [entry] = app.runtime.namespace().journal.entries()
    assert entry.operation == "getProfile"
