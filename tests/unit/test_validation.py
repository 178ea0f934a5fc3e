"""The compiled validators: narrowed explanations are exactly the whole-body explanations."""

from __future__ import annotations

import random
from typing import Any

import pytest
from connexion.json_schema import resolve_refs

from emulator import specs
from emulator.schemas import Compiled

BAD_VALUES: list[Any] = [
    None,
    7,
    -1.5,
    True,
    "",
    " ",
    "x" * 300,
    "nope",
    "1985-13-45",
    "not-an-email",
    [],
    ["a", 1],
    {},
    {"nested": {"deep": [None]}},
    "2020-02-30",
    "ada@example",
    "A1B 2C3",
    "en-CA",
    "WEBSITE",
]


def _body_schemas() -> list[tuple[str, dict]]:
    found = []
    for name in ("loyalty.yaml", "commerce.yaml", "control.yaml"):
        spec = resolve_refs(specs.load(name))
        for path, item in spec["paths"].items():
            for method, operation in item.items():
                content = (
                    operation.get("requestBody", {}).get("content", {})
                    if isinstance(operation, dict)
                    else {}
                )
                for media, entry in content.items():
                    schema = entry.get("schema", {})
                    if schema.get("properties"):
                        found.append((f"{name} {method.upper()} {path} {media}", schema))
    return found


BODY_SCHEMAS = _body_schemas()


def _variants(schema: dict, rng: random.Random) -> list[Any]:
    names = list(schema["properties"])
    bodies: list[Any] = [{}, [], "text", None, {"unknownField": 1}]
    for _ in range(300):
        body = {
            name: rng.choice(BAD_VALUES) for name in rng.sample(names, rng.randint(1, len(names)))
        }
        if rng.random() < 0.3:
            body[f"extra{rng.randint(0, 3)}"] = rng.choice(BAD_VALUES)
        bodies.append(body)
    return bodies


def _described(errors: list[Any]) -> list[tuple]:
    return [
        (list(e.absolute_path), list(e.schema_path), e.validator, e.message, repr(e.instance))
        for e in errors
    ]


def test_the_request_bodies_are_split() -> None:
    assert BODY_SCHEMAS, "no object request bodies found in the specs"
    assert all(Compiled(schema).parts is not None for _, schema in BODY_SCHEMAS)


@pytest.mark.parametrize(("where", "schema"), BODY_SCHEMAS, ids=[w for w, _ in BODY_SCHEMAS])
def test_narrowed_explanation_equals_the_whole_body_explanation(where: str, schema: dict) -> None:
    narrowed, whole = Compiled(schema), Compiled(schema, split=False)
    rng = random.Random(f"{where}-20261122")
    explained = 0
    for body in _variants(schema, rng):
        expected = _described(whole.errors(body))
        assert _described(narrowed.errors(body)) == expected, body
        explained += bool(expected)
    assert explained > 100  # the variants do reach the explanation path
