"""Request validation plugged into Connexion's ``validator_map``: compiled once, vendor formats.

Connexion 3.3 builds a new jsonschema validator for every request and checks formats
with Draft 4's checker (``format: date`` unchecked, ``email`` only wants an "@"). These
validators compile each schema once, check ``date`` and ``email`` the way the vendors
define them, parse JSON with orjson (bounded nesting, strict UTF-8) and raise
:class:`~emulator.errors.RequestInvalid` so each vendor renders the failure in its own
error shape.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qsl

import jsonschema_rs
import orjson
from connexion.datastructures import MediaTypeDict
from connexion.validators import AbstractRequestBodyValidator, FormDataValidator
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.validators import extend
from starlette.types import Scope

from emulator.errors import EmulatedError, RequestInvalid

# ES Loyalty: "Validation requires the '@' symbol and the '.' with characters".
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FORMATS = FormatChecker(formats=())


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


# The checks answer False rather than raise: a raised ValueError would be kept on the
# error as its cause, with a traceback whose frames point back at it (garbage in a cycle).
@FORMATS.checks("date")
def _is_date(value: object) -> bool:
    if not isinstance(value, str):
        return True
    if not DATE.fullmatch(value):
        return False
    try:
        datetime.date.fromisoformat(value)  # 1985-13-45 is not a date
    except ValueError:
        return False
    return True


@FORMATS.checks("email")
def _is_email(value: object) -> bool:
    return not isinstance(value, str) or bool(EMAIL.match(value))


@FORMATS.checks("date-time")
def _is_date_time(value: object) -> bool:
    if not isinstance(value, str):
        return True
    try:
        datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


_RS_FORMATS = {"date": _is_date, "email": _is_email, "date-time": _is_date_time}


def _nullable_type(validator: Any, types: Any, instance: Any, schema: dict) -> Any:
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


def _nullable_enum(validator: Any, enums: Any, instance: Any, schema: dict) -> Any:
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["enum"](validator, enums, instance, schema)


# OpenAPI 3.0 schemas: Draft 4 keywords plus `nullable`.
OpenAPIValidator = extend(Draft4Validator, {"type": _nullable_type, "enum": _nullable_enum})


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
    whole body (a test holds the two equal); one bad field costs one field's explanation.
    """

    def __init__(self, schema: dict, *, split: bool = True) -> None:
        self.schema = schema
        self.slow = OpenAPIValidator(schema, format_checker=FORMATS)
        try:
            self.fast = jsonschema_rs.Draft4Validator(
                _draft4(schema), validate_formats=True, formats=_RS_FORMATS)
        except Exception:  # noqa: BLE001 - a schema jsonschema-rs cannot take: Python only
            self.fast = None
        self.parts: tuple[Compiled, dict[str, Compiled]] | None = None
        properties = schema.get("properties")
        if split and self.fast is not None and isinstance(properties, dict) and properties \
                and "$ref" not in orjson.dumps(schema).decode():
            # The object's own keywords: `properties` kept by name only (additionalProperties
            # needs the names), each property's schema compiled on its own.
            shell = {**schema, "properties": {name: {} for name in properties}}
            self.parts = (Compiled(shell, split=False),
                          {name: Compiled(sub, split=False) for name, sub in properties.items()})

    def errors(self, instance: Any) -> list[Any]:
        if self.fast is not None and self.fast.is_valid(instance):
            return []
        return sorted(self._explain(instance), key=lambda e: [str(p) for p in e.path])

    def _explain(self, instance: Any) -> list[Any]:
        if self.parts is None or not isinstance(instance, dict):
            return list(self.slow.iter_errors(instance))
        shell, properties = self.parts
        found = shell._unsorted(instance)
        for name, part in properties.items():
            if name in instance:
                for error in part._unsorted(instance[name]):
                    error.path.appendleft(name)  # as the whole body's `properties` reports it
                    error.schema_path.extendleft((name, "properties"))
                    found.append(error)
        return found

    def _unsorted(self, instance: Any) -> list[Any]:
        if self.fast is not None and self.fast.is_valid(instance):
            return []
        return list(self.slow.iter_errors(instance))


def unlink(errors: list[Any]) -> None:
    """Once reported, cut the links from jsonschema's nested errors (an anyOf's) back to
    their parent: the errors then go by reference counting instead of as cyclic garbage."""
    stack = list(errors)
    while stack:
        error = stack.pop()
        for child in error.context:
            child.parent = None
            stack.append(child)


_COMPILED: dict[int, Compiled] = {}


def compiled(schema: dict) -> Compiled:
    """The validator for ``schema``, built once per schema object."""
    entry = _COMPILED.get(id(schema))
    if entry is None or entry.schema is not schema:
        entry = _COMPILED[id(schema)] = Compiled(schema)
    return entry


def parse_json(raw: bytes) -> Any:
    """Strict JSON (orjson: UTF-8 only, no NaN, nesting capped at 1024)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestInvalid(f"Malformed JSON: {exc}") from None


def stashed_body(scope: Scope) -> tuple[bool, Any]:
    """The body the emulator middleware already read and parsed, if any."""
    ctx = scope.get("emulator")
    if ctx is None or not ctx.body_parsed:
        return False, None
    return True, ctx.body


class BodyValidator(AbstractRequestBodyValidator):
    """JSON request bodies: parsed once, validated by a validator compiled once."""

    async def _parse(self, stream: AsyncIterator[bytes], scope: Scope) -> Any:
        self._ctx = scope.get("emulator")
        found, body = stashed_body(scope)
        if found:
            async for _ in stream:  # keep the receive channel replayable
                pass
            return body
        raw = b"".join([chunk async for chunk in stream])
        body = parse_json(raw) if raw else None
        if self._ctx is not None:
            self._ctx.body, self._ctx.body_parsed = body, True
        return body

    def _validate(self, body: Any) -> None:
        if body is None and not self._nullable:
            raise RequestInvalid("Request body must not be empty")
        errors = compiled(self._schema).errors(body)
        if not errors:
            return
        exc = RequestInvalid(errors[0].message, errors, body)
        ctx = self._ctx
        if ctx is None or ctx.shape is None:
            raise exc
        error = ctx.shape.invalid_request(exc)
        if error is not None:
            unlink(errors)
            raise EmulatedError(error)
        ctx.deferred = errors  # the handler reports these in the vendor's check order


class FormValidator(FormDataValidator):
    """Form bodies (OCC login) with the compiled validator and our error type."""

    async def _parse(self, stream: AsyncIterator[bytes], scope: Scope) -> Any:
        raw = b"".join([chunk async for chunk in stream])
        try:
            return dict(parse_qsl(raw.decode(self._encoding), keep_blank_values=True))
        except UnicodeDecodeError:
            raise RequestInvalid("Form body is not valid UTF-8") from None

    def _validate(self, body: Any) -> None:
        errors = compiled(self._schema).errors(body)
        if errors:
            raise RequestInvalid(errors[0].message, errors, body)


_COERCE = {"integer": int, "number": float, "boolean": lambda v: {"true": True, "false": False}[v.lower()]}


class ParameterValidator:
    """Path, query and header parameters, each schema compiled once per operation."""

    def __init__(self, parameters: list[dict], uri_parser: Any = None,
                 strict_validation: bool = False, security_query_params: Any = None) -> None:
        self._params = [(p["in"], p["name"], p.get("required", False), p.get("schema", {}))
                        for p in parameters]

    def validate(self, scope: Scope) -> None:
        headers = query = None
        for where, name, required, schema in self._params:
            if where == "path":
                value = scope.get("path_params", {}).get(name)
            elif where == "header":
                if headers is None:
                    ctx = scope.get("emulator")  # the emulator decoded them once already
                    headers = ctx.headers if ctx is not None else {
                        k.decode("latin-1").lower(): v.decode("latin-1")
                        for k, v in scope.get("headers", [])}
                value = headers.get(name.lower())
            elif where == "query":
                if query is None:
                    query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                           keep_blank_values=True))
                value = query.get(name)
            else:
                continue
            if value is None:
                if required:
                    raise RequestInvalid(f"Missing {where} parameter '{name}'")
                continue
            coerce = _COERCE.get(schema.get("type", ""))
            if coerce is not None:
                try:
                    value = coerce(value)
                except (ValueError, KeyError):
                    raise RequestInvalid(f"{where} parameter '{name}': {value!r} is not of type "
                                         f"'{schema['type']}'") from None
            errors = compiled(schema).errors(value)
            if errors:
                raise RequestInvalid(f"{where} parameter '{name}': {errors[0].message}")


_PARAMETER_VALIDATORS: dict[int, ParameterValidator] = {}


def _parameter_validator(parameters: list[dict], **kwargs: Any) -> ParameterValidator:
    """Connexion asks for a new one on every request: hand back the one built first."""
    key = id(parameters)
    validator = _PARAMETER_VALIDATORS.get(key)
    if validator is None:
        validator = _PARAMETER_VALIDATORS[key] = ParameterValidator(parameters, **kwargs)
    return validator


VALIDATOR_MAP = {
    "parameter": _parameter_validator,
    "body": MediaTypeDict({
        "*/*json": BodyValidator,
        "application/x-www-form-urlencoded": FormValidator,
    }),
}
