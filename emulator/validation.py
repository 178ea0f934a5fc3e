"""A request checked against its operation in the spec: parameters, media type, body, each
operation's checks built once (:class:`RequestChecks`, made by emulator/connexion_seam.py for
each of Connexion's operations). The checks read the request and return what they found: a
failure is a value, :class:`~emulator.errors.RequestInvalid`, which the ``Dispatcher`` turns
into the API's own error, in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from fnmatch import fnmatch
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson

from emulator.errors import RequestInvalid
from emulator.schemas import Compiled, Schema, compiled


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


_COERCE: dict[str, Callable[[str], Any]] = {
    "integer": int,
    "number": float,
    "boolean": lambda v: {"true": True, "false": False}[v.lower()],
}


_ANNOTATIONS = {"description", "example", "examples", "deprecated", "title"}


def _any_string(schema: Schema) -> bool:
    """A schema every string meets (`{type: string}` and annotations): a parameter's value is
    a string, so there is nothing to check per request."""
    keywords = {k for k in schema if k not in _ANNOTATIONS and not k.startswith("x-")}
    return keywords <= {"type"} and schema.get("type", "string") == "string"


class ParameterValidator:
    """Path, query and header parameters, each schema compiled once per operation."""

    def __init__(self, parameters: list[Schema]) -> None:
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

    def validate(
        self,
        path_params: Mapping[str, str],
        headers: Mapping[str, str],
        query: Mapping[str, str],
    ) -> None:
        for where, name, required, schema, checks in self._params:
            value: Any
            if where == "path":
                value = path_params.get(name)
            elif where == "header":
                value = headers.get(name.lower())
            else:
                value = query.get(name)
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


class Facts(Protocol):
    """What the checks read of a request (``context.Request`` has it)."""

    @property
    def headers(self) -> Mapping[str, str]: ...
    @property
    def query(self) -> Mapping[str, str]: ...
    @property
    def raw_body(self) -> bytes: ...
    @property
    def body(self) -> Any: ...
    @property
    def parsed(self) -> bool: ...


class Body:
    """One media type's request body: JSON (parsed once, by the emulator) or a form."""

    def __init__(self, schema: Schema, *, form: bool, required: bool, nullable: bool) -> None:
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

    def check(self, request: Facts, encoding: str) -> tuple[RequestInvalid | None, Any]:
        """(The body's failure or None, the body as the checks read it: a form's fields, the
        JSON document). A failure before the body is read raises RequestInvalid."""
        if not request.raw_body:  # as Connexion: no body is the schema's default, if any
            if self.default is None and self.required:
                raise RequestInvalid("RequestBody is required")
            body = self.default if self.default is not None else {} if self.form else None
        elif self.form:
            body = parse_form(request.raw_body, encoding)
        else:
            body = request.body if request.parsed else parse_json(request.raw_body)
        if body is None:
            if self.nullable:
                return None, body
            raise RequestInvalid("Request body must not be empty")
        errors = self.checks.errors(body)
        return RequestInvalid(errors[0].message, errors, body) if errors else None, body


JSON_MEDIA_TYPES = "*/*json"  # the media types whose bodies are JSON (as Connexion's validator map)
FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"


class RequestChecks:
    """One operation's request against its spec: parameters, then the media type, then the body.

    ``bodies``: media type -> (schema, required, nullable), as the spec's requestBody says.
    """

    def __init__(
        self,
        parameters: list[Schema],
        consumes: list[str],
        bodies: Mapping[str, tuple[Schema, bool, bool]],
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

    def check(
        self,
        request: Facts,
        path_params: Mapping[str, str],
        headers: list[tuple[bytes, bytes]],
    ) -> tuple[RequestInvalid | None, dict[str, str] | None]:
        """(The first way the request fails its spec or None, a form body's fields as the
        checks read them or None). ``headers``: as the ASGI scope has them."""
        try:
            self.parameters.validate(path_params, request.headers, request.query)
            media_type, encoding, accepted = self._content_type(headers)
            if not accepted:
                return RequestInvalid(
                    f"Invalid Content-type ({media_type}), expected {self.consumes}"
                ), None
            body = self.bodies.get(media_type)
            if body is None:
                return None, None
            failure, read = body.check(request, encoding)
            return failure, read if body.form else None
        except RequestInvalid as exc:
            # A value from here on, without its traceback and the exception it replaced (a
            # JSON parse error): both hold these frames, and through them the call's
            # objects, in a cycle.
            exc.__traceback__ = exc.__context__ = None
            return exc, None

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
