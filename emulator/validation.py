"""Request validation against the specs: each operation's checks built once, vendor formats.

Connexion 3.3 builds a new jsonschema validator for every request and checks formats
with Draft 4's checker (``format: date`` unchecked, ``email`` only wants an "@"). Here each
operation's parameters, media types and body schema are compiled once at start-up
(:class:`RequestChecks`, which emulator/connexion_seam.py makes for each of Connexion's
operations), ``date`` and ``email`` are checked the way the vendors define them, and a
failure is a value, :class:`~emulator.errors.RequestInvalid`, that the request path turns
into the API's own error in one place (``middleware.Dispatcher``).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from fnmatch import fnmatch
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import jsonschema_rs
import orjson
from jsonschema import Draft4Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend

from emulator.errors import RequestInvalid
from emulator.jsonschema_seam import as_property

if TYPE_CHECKING:
    from emulator.runtime import RequestContext

FORMATS = FormatChecker(formats=())


# Every check below reads the text a bounded number of times (plain string operations or the
# Rust `regex` crate's finite automata): no client-sent text can make one backtrack.
def is_email(value: str) -> bool:
    """REQUIREMENTS 5.3 (ES Loyalty: "Validation requires the '@' symbol and the '.' with
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


def _nullable_type(validator: Any, types: Any, instance: Any, schema: dict) -> Any:
    if instance is None and schema.get("nullable"):
        return
    yield from Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


def _nullable_enum(validator: Any, enums: Any, instance: Any, schema: dict) -> Any:
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


def _linear_pattern(validator: Any, pattern: str, instance: Any, schema: dict) -> Any:
    # jsonschema's own `pattern` keyword, words and all, with the `regex` crate for `re`.
    if isinstance(instance, str) and not pattern_matcher(pattern).is_valid(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


# OpenAPI 3.0 schemas: Draft 4 keywords plus `nullable`.
OpenAPIValidator = extend(
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
    whole body (a test holds the two equal); one bad field costs one field's explanation.
    """

    def __init__(self, schema: dict, *, split: bool = True) -> None:
        self.schema = schema
        self.slow = OpenAPIValidator(schema, format_checker=FORMATS)
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
                named.add(where[1])
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


def parse_urlencoded(text: str) -> dict[str, str]:
    """A query string or a form body (OCC login): the last value of each name, blanks kept
    (a blank is then refused or ignored by the parameter's schema, never silently dropped)."""
    return dict(parse_qsl(text, keep_blank_values=True))


def parse_form(raw: bytes, encoding: str) -> dict[str, str]:
    try:
        return parse_urlencoded(raw.decode(encoding))
    except UnicodeDecodeError:
        raise RequestInvalid("Form body is not valid UTF-8") from None


_COERCE = {
    "integer": int,
    "number": float,
    "boolean": lambda v: {"true": True, "false": False}[v.lower()],
}


_ANNOTATIONS = {"description", "example", "examples", "deprecated", "title"}


def _any_string(schema: dict) -> bool:
    """A schema every string meets (`{type: string}` and annotations): a parameter's value is
    a string, so there is nothing to check per request."""
    keywords = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")}
    return keywords <= {"type"} and schema.get("type", "string") == "string"


class ParameterValidator:
    """Path, query and header parameters, each schema compiled once per operation."""

    def __init__(self, parameters: list[dict]) -> None:
        self._params = []
        for p in parameters:
            schema = p.get("schema", {})
            plain = _any_string(schema)
            if p["in"] not in ("path", "header", "query") or (p["in"] == "path" and plain):
                continue  # a path parameter any string meets: a routed call has it, as it is
            self._params.append(
                (
                    p["in"],
                    p["name"],
                    p.get("required", False),
                    schema,
                    None if plain else compiled(schema),
                )
            )

    def validate(self, ctx: RequestContext) -> None:
        for where, name, required, schema, checks in self._params:
            if where == "path":
                value = ctx.path_params.get(name)
            elif where == "header":
                value = ctx.headers.get(name.lower())
            else:
                value = ctx.query.get(name)
            if value is None:
                if required:
                    raise RequestInvalid(f"Missing {where} parameter '{name}'")
                continue
            coerce = _COERCE.get(schema.get("type", ""))
            if coerce is not None:
                try:
                    value = coerce(value)
                except (ValueError, KeyError):
                    raise RequestInvalid(
                        f"{where} parameter '{name}': {value!r} is not of type '{schema['type']}'"
                    ) from None
            errors = checks.errors(value) if checks is not None else None
            if errors:
                raise RequestInvalid(f"{where} parameter '{name}': {errors[0].message}")


class Body:
    """One media type's request body: JSON (parsed once, by the emulator) or a form."""

    def __init__(self, schema: dict, *, form: bool, required: bool, nullable: bool) -> None:
        self.schema = schema
        self._checks: Compiled | None = None
        self.default = schema.get("default")
        self.form, self.required, self.nullable = form, required, nullable

    @property
    def checks(self) -> Compiled:
        """The body's validator, compiled on the operation's first body (as Connexion would:
        a start-up that compiles every operation's body costs ~50 ms for calls never made)."""
        if self._checks is None:
            self._checks = compiled(self.schema)
        return self._checks

    def failure(self, ctx: RequestContext, encoding: str) -> RequestInvalid | None:
        if not ctx.raw_body:  # as Connexion: no body is the schema's default, if any
            if self.default is None and self.required:
                raise RequestInvalid("RequestBody is required")
            body = self.default if self.default is not None else {} if self.form else None
        elif self.form:
            body = parse_form(ctx.raw_body, encoding)
        else:
            body = ctx.body if ctx.body_parsed else parse_json(ctx.raw_body)
        if self.form:
            ctx.body = body  # the handler reads the form there
        if body is None:
            if self.nullable:
                return None
            raise RequestInvalid("Request body must not be empty")
        errors = self.checks.errors(body)
        return RequestInvalid(errors[0].message, errors, body) if errors else None


JSON_MEDIA_TYPES = "*/*json"  # the media types whose bodies are JSON (as Connexion's validator map)
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class RequestChecks:
    """One operation's request against its spec: parameters, then the media type, then the body.

    ``bodies``: media type -> (schema, required, nullable), as the spec's requestBody says.
    """

    def __init__(
        self,
        parameters: list[dict],
        consumes: list[str],
        bodies: Mapping[str, tuple[dict, bool, bool]],
    ) -> None:
        self.parameters = ParameterValidator(parameters)
        self.consumes = consumes
        self.bodies: dict[str, Body] = {}
        for media_type, (schema, required, nullable) in bodies.items():
            form = media_type.lower() == FORM_MEDIA_TYPE
            if schema and (form or fnmatch(media_type.lower(), JSON_MEDIA_TYPES)):
                self.bodies[media_type.lower()] = Body(
                    schema, form=form, required=required, nullable=nullable
                )
        self._accepts = {media_type.lower() for media_type in consumes}
        self._content_types: dict[bytes | None, tuple[str, str, bool]] = {}

    def failure(
        self, ctx: RequestContext, headers: list[tuple[bytes, bytes]]
    ) -> RequestInvalid | None:
        """The first way the request fails its spec, or None."""
        try:
            self.parameters.validate(ctx)
            media_type, encoding, accepted = self._content_type(headers)
            if not accepted:
                return RequestInvalid(
                    f"Invalid Content-type ({media_type}), expected {self.consumes}"
                )
            body = self.bodies.get(media_type)
            return body.failure(ctx, encoding) if body is not None else None
        except RequestInvalid as exc:
            return exc

    def _content_type(self, headers: list[tuple[bytes, bytes]]) -> tuple[str, str, bool]:
        """(media type, charset, accepted) of the first Content-Type header, as Connexion reads
        it, with the answer for each header value kept (a client sends the same few)."""
        raw = next((value for key, value in headers if key.lower() == b"content-type"), None)
        entry = self._content_types.get(raw)
        if entry is None:
            media_type, encoding = _split_content_type(raw)
            if media_type is None:  # no Content-Type: Connexion's best guess
                media_type = self.consumes[0] if self.consumes else "application/octet-stream"
            media_type = media_type.lower()  # RFC 9110: media types are case-insensitive
            accepted = not self.consumes or media_type in self._accepts
            entry = (media_type, encoding or "utf-8", accepted)
            if len(self._content_types) < 64:
                self._content_types[raw] = entry
        return entry


def _split_content_type(raw: bytes | None) -> tuple[str | None, str | None]:
    """(media type, charset) of a Content-Type value, read as Connexion 3.3's
    ``split_content_type`` reads it (a ``charset=`` right after a ``;``, else none)."""
    if raw is None:
        return None, None
    media_type, _, parameters = raw.decode("latin-1").partition(";")
    encoding = None
    for parameter in parameters.split(";") if parameters else ():
        if parameter.startswith("charset="):
            encoding = parameter[len("charset=") :]
    return media_type, encoding
