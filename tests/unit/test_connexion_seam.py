"""Each touch of Connexion's internals (emulator/connexion_seam.py), checked against the
installed Connexion: an upgrade that moves one fails here, naming Connexion and its version,
before anything else does."""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import subprocess
import sys

import httpx
import pytest
from connexion import ConnexionMiddleware
from connexion.middleware.main import API
from connexion.middleware.request_validation import (
    RequestValidationAPI,
    RequestValidationMiddleware,
)
from connexion.middleware.routing import RoutingMiddleware
from connexion.spec import OpenAPISpecification

from emulator import connexion_seam, specs
from emulator.app import create_app

CONNEXION = f"Connexion {connexion_seam.VERSION}"


async def _app(scope: object, receive: object, send: object) -> None:
    """The app inside Connexion's stack (its building is what these tests check)."""


def test_the_specification_check_is_a_classmethod_over_openapi_schema() -> None:
    assert isinstance(
        inspect.getattr_static(OpenAPISpecification, "_validate_spec"), classmethod
    ), f"{CONNEXION}: OpenAPISpecification._validate_spec is no longer a classmethod"
    schema = getattr(OpenAPISpecification, "openapi_schema", None)
    assert isinstance(schema, dict) and schema.get("id", "").startswith(
        "https://spec.openapis.org/oas/3.0"
    ), f"{CONNEXION}: OpenAPISpecification.openapi_schema is not the OpenAPI 3.0 schema"


def test_add_api_builds_an_api_from_the_middlewares_options() -> None:
    middleware = connexion_seam.SpecMiddleware(_app, import_name=__name__)
    assert dataclasses.is_dataclass(middleware.options) and hasattr(
        middleware.options, "replace"
    ), f"{CONNEXION}: ConnexionMiddleware.options is no longer a dataclass with replace()"
    assert middleware.middleware_stack is None and middleware.apis == [], (
        f"{CONNEXION}: ConnexionMiddleware no longer starts with no stack and no apis"
    )
    assert list(inspect.signature(API).parameters)[:1] == ["specification"], (
        f"{CONNEXION}: connexion.middleware.main.API no longer takes the specification first"
    )
    middleware.add_api(specs.load("loyalty.yaml"), name="loyalty")
    [api] = middleware.apis
    assert isinstance(api.specification, connexion_seam.CheckedSpecification)


def test_connexion_is_given_a_copy_of_the_shared_parse() -> None:
    """create_app hands Connexion the parse every reader shares (specs.shared), and Connexion
    edits the spec it is given (defaults, resolved $refs): the seam's copy keeps the shared
    parse equal to the files."""
    names = ("loyalty.yaml", "commerce.yaml", "control.yaml")
    app = create_app()
    response = asyncio.run(_get(app, "/_emulator/health"))
    assert response.status_code == 200
    for name in names:
        assert specs.shared(name) == specs.parse(specs.OPENAPI_DIR / name), (
            f"{CONNEXION}: building the app changed the shared parse of {name}"
        )


async def _get(app: object, path: str) -> httpx.Response:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://emulator"
    ) as client:
        return await client.get(path)


def test_the_stack_is_built_at_start_up_with_routers_that_never_redirect() -> None:
    assert callable(getattr(ConnexionMiddleware, "_build_middleware_stack", None)), (
        f"{CONNEXION}: ConnexionMiddleware._build_middleware_stack is gone"
    )
    app = create_app()
    stack = app.app.middleware_stack
    routing = [m for m in stack if isinstance(m, RoutingMiddleware)]
    assert routing and hasattr(routing[0], "router"), (
        f"{CONNEXION}: RoutingMiddleware no longer keeps its Starlette router as .router"
    )
    assert routing[0].router.redirect_slashes is False
    assert all(
        getattr(route.app, "redirect_slashes", False) is False for route in routing[0].router.routes
    )
    validation = [m for m in stack if isinstance(m, connexion_seam.ValidationMiddleware)]
    assert validation, f"{CONNEXION}: the validation middleware is no longer made from our class"


def test_request_validation_makes_its_operations_as_the_seam_expects() -> None:
    assert connexion_seam.ValidationMiddleware.api_cls is connexion_seam.ValidationAPI
    assert issubclass(connexion_seam.ValidationAPI, RequestValidationAPI)
    assert issubclass(connexion_seam.ValidationMiddleware, RequestValidationMiddleware)
    assert "make_operation" in vars(RequestValidationAPI), (
        f"{CONNEXION}: RequestValidationAPI no longer makes its operations with make_operation"
    )
    assert "api_cls" in vars(RequestValidationMiddleware), (
        f"{CONNEXION}: RequestValidationMiddleware no longer names its API class as api_cls"
    )
    app = create_app()
    apis = [
        api
        for m in app.app.middleware_stack
        if isinstance(m, connexion_seam.ValidationMiddleware)
        for by_path in m.apis.values()
        for api in by_path
    ]
    operations = [op for api in apis for op in api.operations.values()]
    assert operations and all(
        isinstance(op, connexion_seam.ValidationOperation) for op in operations
    ), f"{CONNEXION}: the validation middleware's operations are not ours"
    declared = sum(
        len(specs.operations(name)) for name in ("loyalty.yaml", "commerce.yaml", "control.yaml")
    )
    assert len(operations) == declared, f"{CONNEXION}: not every operation is checked by our class"
    # What ValidationOperation reads of Connexion's operation, on one with a body:
    assert {op.operation_id for op in operations} == {
        name
        for spec in ("loyalty.yaml", "commerce.yaml", "control.yaml")
        for name in specs.operations(spec)
    }, f"{CONNEXION}: operation.operation_id is no longer the spec's operationId"
    checks = {op.checks for op in operations}
    assert any(
        body.checks.schema.get("properties") for c in checks for body in c.bodies.values()
    ), f"{CONNEXION}: operation.body_schema() no longer gives the request body's schema"
    assert any(c.parameters._params for c in checks), (
        f"{CONNEXION}: operation.parameters no longer lists the spec's parameters"
    )
    assert any("application/x-www-form-urlencoded" in c.consumes for c in checks), (
        f"{CONNEXION}: operation.consumes no longer lists the request body's media types"
    )


def test_routing_names_the_operation_in_the_scope() -> None:
    app = create_app()

    async def call() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return (await client.get("/client/users/seed-session-1/profile")).status_code

    assert asyncio.run(call()) == 200
    [entry] = app.runtime.namespace().journal.entries()
    assert entry.operation == "getProfile", (
        f"{CONNEXION}: the validation middleware no longer calls the operation its routing matched"
    )


WARNINGS_ON_IMPORT = """
import json, sys, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as seen:
    __import__(sys.argv[1])
print(json.dumps([str(w.message) for w in seen]))
"""


def warnings_on_import(module: str) -> list[str]:
    """The warnings a fresh interpreter shows on importing ``module``."""
    done = subprocess.run(
        [sys.executable, "-c", WARNINGS_ON_IMPORT, module],
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(done.stdout))


@pytest.mark.slow  # fresh interpreters
def test_connexions_import_warnings_are_the_ones_silenced_and_none_escapes() -> None:
    """The server's import of Connexion raises no warning (a partner's ``-W error`` suite
    imports it), and each warning silenced is one Connexion's import still raises: once it
    stops, its silencing goes."""
    for ours in ("emulator.app", "emulator.middleware", "emulator.pytest_plugin"):
        raised = warnings_on_import(ours)
        assert raised == [], f"{CONNEXION}: warnings on importing {ours}: {raised}"
    for module, message in connexion_seam.IMPORT_WARNINGS:
        raised = warnings_on_import(module)
        assert any(text.startswith(message) for text in raised), (
            f"{CONNEXION}: importing {module} no longer warns {message!r}: "
            "drop it from connexion_seam.IMPORT_WARNINGS"
        )
