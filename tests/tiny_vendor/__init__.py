"""A third vendor that exists only in the tests: a package and one entry in the served vendors
are all it takes (tests/vendors/test_third_vendor.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from emulator.errors import RequestInvalid, VendorError
from emulator.vendors.base import Vendor
from tests.tiny_vendor import errors, handlers

CONFIG_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"prefix": {"type": "string"}},
}
FIXTURE_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "config": CONFIG_SCHEMA,
        "items": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def load_fixtures(doc: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    items = {key: {"name": name} for key, name in doc.get("items", {"seed": "Seed"}).items()}
    return {"tiny.items": items}, {"prefix": "", **doc.get("config", {})}


def invalid_request(failure: RequestInvalid) -> VendorError | None:
    return errors.INVALID.fill(detail=failure.detail)


def unreported(errs: list[Any]) -> VendorError | None:
    return errors.INVALID.fill(detail=errs[0].message)


def unrouted(method: str, path: str, method_not_allowed: bool) -> VendorError:
    return (errors.NO_METHOD if method_not_allowed else errors.NO_ROUTE).fill(
        method=method, path=path
    )


VENDOR = Vendor(
    name="tiny",
    spec=str(Path(__file__).with_name("tiny.yaml")),
    prefix="/tiny/",
    handlers=handlers,
    errors=errors.CATALOGUE,
    collections={"tiny.items": {}},
    load_fixtures=load_fixtures,
    fixture_schema=FIXTURE_SCHEMA,
    config_schema=CONFIG_SCHEMA,
    invalid_request=invalid_request,
    unrouted=unrouted,
    unreported=unreported,
    too_large=errors.TOO_LARGE,
    internal_error=errors.INTERNAL,
    head_too_large=errors.HEAD_TOO_LARGE,
    unavailable=errors.BUSY,
)
