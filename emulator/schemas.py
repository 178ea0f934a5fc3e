"""JSON Schemas compiled once, in the specs' dialect (OpenAPI 3.0: Draft 4 and ``nullable``):
jsonschema-rs says whether a value is valid, Python jsonschema explains a failure (the paths
and keywords the vendors word their errors from). ``format: date`` and ``format: email`` are
checked the way the vendors define them, and every ``pattern`` runs on the Rust ``regex`` crate
(time linear in the text)."""

from __future__ import annotations

import datetime
from typing import Any

import jsonschema_rs
import orjson
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from emulator.jsonschema_seam import as_property

FORMATS = FormatChecker(formats=())
Schema = dict[str, Any]  # a JSON Schema (an OpenAPI 3.0 one: Draft 4 and `nullable`)


# Every check below reads the text a bounded number of times (plain string operations or the
# Rust `regex` crate's finite automata): no client-sent text can make one backtrack.
def is_email(value: str) -> bool:
    """docs/decisions.md#3 (ES Loyalty: "Validation requires the '@' symbol and the '.' with
    characters"): characters, '@', characters, '.', characters, where a character is
    anything but '@' and whitespace. OCC's profile email is held to the same rule
    (emulator/vendors/commerce/checks.py)."""
    local, at, domain = value.partition("@")
    return (
        bool(local)
        and bool(at)
        and "@" not in domain
        and "." in domain[1:-1]  # characters on both sides of it
        and value.split(None, 1) == [value]  # no whitespace (str.isspace, as a pattern's \s)
    )


# The checks answer False rather than raise: a raised ValueError would be kept on the
# error as its cause, with a traceback whose frames point back at it (garbage in a cycle).
@FORMATS.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not (len(value) == 10 and value[4] == value[7] == "-"):
        return False  # YYYY-MM-DD
    if not (value[:4] + value[5:7] + value[8:]).isdecimal():
        return False
    try:
        datetime.date.fromisoformat(value)  # 1985-13-45 is not a date
    except ValueError:
        return False
    return True


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or is_email(value)


_RS_FORMATS = {"date": _is_date, "email": _is_email}


def _nullable_type(validator: Any, types: Any, instance: Any, schema: Schema) -> Any:
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


def _nullable_enum(validator: Any, enums: Any, instance: Any, schema: Schema) -> Any:
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["enum"](validator, enums, instance, schema)


# A spec's `pattern`s run on the Rust `regex` crate, in jsonschema-rs and in the Python
# explanation alike: finite automata, time linear in the text, one verdict for both (Python's
# `re` backtracks, and its `$` also matches before a final newline). A pattern that needs
# backtracking (look-around, backreferences) is refused when its schema is compiled.
LINEAR = jsonschema_rs.RegexOptions()
_PATTERNS: dict[str, jsonschema_rs.Draft4Validator] = {}


def pattern_matcher(pattern: str) -> jsonschema_rs.Draft4Validator:
    """``pattern`` compiled once by the `regex` crate; ValueError when it needs backtracking."""
    matcher = _PATTERNS.get(pattern)
    if matcher is None:
        try:
            matcher = jsonschema_rs.Draft4Validator({"pattern": pattern}, pattern_options=LINEAR)
        except jsonschema_rs.ValidationError as exc:
            raise ValueError(f"pattern {pattern!r} needs a backtracking engine: {exc}") from None
        _PATTERNS[pattern] = matcher
    return matcher


def _linear_pattern(validator: Any, pattern: str, instance: Any, schema: Schema) -> Any:
    # jsonschema's own `pattern` keyword, words and all, with the `regex` crate for `re`.
    if isinstance(instance, str) and not pattern_matcher(pattern).is_valid(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# OpenAPI 3.0 schemas: Draft 4 keywords plus `nullable`.
OpenAPIValidator = extend(  # type: ignore[no-untyped-call]
    Draft4Validator,
    {"type": _nullable_type, "enum": _nullable_enum, "pattern": _linear_pattern},
)


def _draft4(schema: Any) -> Any:
    """The same schema in plain Draft 4 (`nullable` spelled as a null type), for jsonschema-rs."""
    if isinstance(schema, list):
        return [_draft4(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _draft4(value) for key, value in schema.items()}
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
    return out


class Compiled:
    """A schema compiled twice: jsonschema-rs answers "valid?" fast; on failure the Python
    validator explains why (paths and keywords the vendors map to their own messages).

    For an object schema the explanation is narrowed: the object's own keywords (required,
    anyOf, additionalProperties...) and each property are compiled apart, and only the
    parts jsonschema-rs finds invalid are explained by the slower Python validator. The
    errors are the same ones, with the same paths, in the same order, as explaining the
    whole body (a test holds the two equal); one bad field costs one field's explanation
    (explaining the whole body made the invalid PUT cost ~1.7x the CPU).
    """

    def __init__(self, schema: Schema, *, split: bool = True) -> None:
        self.schema = schema
        self.slow = OpenAPIValidator(schema, format_checker=FORMATS)
        self.fast: jsonschema_rs.Draft4Validator | None
        try:
            self.fast = jsonschema_rs.Draft4Validator(
                _draft4(schema), validate_formats=True, formats=_RS_FORMATS, pattern_options=LINEAR
            )
        except Exception:
            self.fast = None
        self.parts: tuple[Compiled, dict[str, Compiled]] | None = None
        properties = schema.get("properties")
        if (
            split
            and self.fast is not None
            and isinstance(properties, dict)
            and properties
            and "$ref" not in orjson.dumps(schema).decode()
        ):
            # The object's own keywords: `properties` kept by name only (additionalProperties
            # needs the names), each property's schema compiled on its own.
            shell = {**schema, "properties": {name: {} for name in properties}}
            self.parts = (
                Compiled(shell, split=False),
                {name: Compiled(sub, split=False) for name, sub in properties.items()},
            )

    def errors(self, instance: Any) -> list[Any]:
        if self.fast is None:
            return _sorted(self.slow.iter_errors(instance))
        if self.parts is None or not isinstance(instance, dict):
            return [] if self.fast.is_valid(instance) else _sorted(self.slow.iter_errors(instance))
        # One pass of jsonschema-rs says whether the body is valid and, when not, which parts
        # failed: an error of the `properties` keyword names its property (only that
        # property's part can fail for it); any other keyword's error is the shell's.
        named: set[str] = set()
        shell_faulted = False
        for error in self.fast.iter_errors(instance):
            where = error.schema_path
            if len(where) > 1 and where[0] == "properties":
                named.add(str(where[1]))
            else:
                shell_faulted = True
        if not named and not shell_faulted:
            return []
        shell, properties = self.parts
        found = list(shell.slow.iter_errors(instance)) if shell_faulted else []
        for name, part in properties.items():
            if name in named and name in instance:
                found.extend(
                    as_property(error, name) for error in part.slow.iter_errors(instance[name])
                )
        return _sorted(found)


def _sorted(errors: Any) -> list[Any]:
    return sorted(errors, key=lambda e: [str(p) for p in e.path])


_COMPILED: dict[int, Compiled] = {}


def compiled(schema: Schema) -> Compiled:
    """The validator for ``schema``, built once per schema object."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry.schema is not schema:
        entry = _COMPILED[id(schema)] = Compiled(schema)
    return entry
