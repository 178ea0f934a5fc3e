"""Each edit of jsonschema's errors (emulator/jsonschema_seam.py), checked against the installed
jsonschema: an upgrade that changes what one relies on fails here, naming jsonschema and its
version."""

from __future__ import annotations

import gc
from collections import deque

from jsonschema import Draft4Validator

from emulator import jsonschema_seam

JSONSCHEMA = f"jsonschema {jsonschema_seam.VERSION}"
SCHEMA = {
    "type": "object",
    "properties": {
        "a": {"type": "object", "properties": {"b": {"type": "integer", "minimum": 3}}},
        "c": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    },
}
BODY = {"a": {"b": 1}, "c": None}


def described(errors: list) -> list[tuple]:
    return sorted((list(e.path), list(e.schema_path), e.validator, e.message) for e in errors)


def test_a_property_explained_alone_is_addressed_as_the_whole_object_addresses_it() -> None:
    whole = list(Draft4Validator(SCHEMA).iter_errors(BODY))
    alone = [
        jsonschema_seam.as_property(error, name)
        for name, sub in SCHEMA["properties"].items()
        for error in Draft4Validator(sub).iter_errors(BODY[name])
    ]
    assert all(isinstance(e.path, deque) and isinstance(e.schema_path, deque) for e in alone), (
        f"{JSONSCHEMA}: ValidationError.path / schema_path are no longer deques"
    )
    assert described(alone) == described(whole), (
        f"{JSONSCHEMA}: the properties keyword no longer addresses its errors as (name, 'properties')"
    )


def test_unlinked_errors_leave_no_cycle() -> None:
    [error] = [e for e in Draft4Validator(SCHEMA).iter_errors(BODY) if e.validator == "anyOf"]
    assert error.context and all(child.parent is error for child in error.context), (
        f"{JSONSCHEMA}: an anyOf's nested errors no longer point back through .parent"
    )
    gc.collect()
    gc.disable()
    try:
        jsonschema_seam.unlink([error])
        assert all(child.parent is None for child in error.context)
        del error
        assert gc.collect() == 0, f"{JSONSCHEMA}: unlinked errors are still in a cycle"
    finally:
        gc.enable()
