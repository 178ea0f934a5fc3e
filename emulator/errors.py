"""Vendor errors as data, the exception that carries one, the shared error catalogue, and how
a message repeats what a client sent (`echo`, one limit per kind of message)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class VendorError:
    """One vendor error response, copied from the vendor docs.

    String values of ``body`` may hold ``{placeholders}``; :meth:`fill` renders them.
    ``example`` fills the placeholders when the error is injected by name.
    """

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] = field(default_factory=dict)
    fidelity: str = "documented"  # or "inferred"
    example: Mapping[str, Any] = field(default_factory=dict)

    def fill(self, **params: Any) -> VendorError:
        body = {
            key: value.format_map(params) if isinstance(value, str) else value
            for key, value in self.body.items()
        }
        return VendorError(self.status, body, self.headers, self.fidelity)

    def filled_example(self) -> VendorError:
        return self.fill(**self.example)


class EmulatedError(Exception):
    """Raise it anywhere in the request path: the vendor error is sent as is."""

    def __init__(self, error: VendorError, **params: Any) -> None:
        self.error = error.fill(**params) if params else error
        super().__init__(self.error.body)


class Answered(Exception):
    """A fault rule has already answered the call (or broken its connection): the handler
    stops here and nothing more is sent."""


class RequestInvalid(Exception):
    """The request did not match the spec; the vendor decides how to say so.

    ``errors`` are jsonschema ValidationErrors (body) and ``detail`` a plain reason
    (unparseable JSON, a bad parameter, a missing body).
    """

    def __init__(self, detail: str, errors: list[Any] | None = None, body: Any = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.body = body


class Catalogue(Mapping[str, VendorError]):
    """Every error the emulator can send by name: ``<vendor>.<NAME>``."""

    def __init__(self) -> None:
        self._entries: dict[str, VendorError] = {}

    def register(self, vendor: str, errors: Mapping[str, VendorError]) -> None:
        for name, error in errors.items():
            self._entries[f"{vendor}.{name}"] = error

    def __getitem__(self, name: str) -> VendorError:
        return self._entries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def listing(self) -> list[dict[str, Any]]:
        """The public view: each entry with its placeholders filled by its example."""
        out = []
        for name, error in self._entries.items():
            filled = error.filled_example()
            out.append(
                {
                    "name": name,
                    "status": filled.status,
                    "body": dict(filled.body),
                    "fidelity": error.fidelity,
                }
            )
        return out


class ErrorShape(Protocol):
    """How an API words a refusal. The request path asks it in one place each (the
    ``Dispatcher`` and ``RequestContext.checked``), never a handler:

    - ``invalid_request(failure)``: the error for a request that fails the spec, or None to
      leave the failure's schema errors to the handler, which reports them in the vendor's
      documented check order (a failure without schema errors is never left);
    - ``unreported(errors)``: the error for schema errors still unreported when the handler
      declares its checks passed, or None when they are the handler's to judge (e.g.
      loyalty's mandatory fields, which the configuration names);
    - ``unrouted(method, path, method_not_allowed)``: a path or method the spec lacks;
    - ``too_large`` (a body over its cap, 413) and ``internal_error``;
    - ``head_too_large`` (a request head over its bound, 431) and ``unavailable`` (503: the
      server's connection cap), which the server sends before the app sees the request.
    """

    @property
    def too_large(self) -> VendorError: ...
    @property
    def internal_error(self) -> VendorError: ...
    @property
    def head_too_large(self) -> VendorError: ...
    @property
    def unavailable(self) -> VendorError: ...

    def invalid_request(self, failure: RequestInvalid) -> VendorError | None: ...
    def unreported(self, errors: list[Any]) -> VendorError | None: ...
    def unrouted(self, method: str, path: str, method_not_allowed: bool) -> VendorError: ...


class PlainErrors:
    """Paths that belong to no API: a small JSON error, never problem+json."""

    too_large = VendorError(413, {"error": "payload_too_large", "detail": "Request body too large"})
    internal_error = VendorError(500, {"error": "internal_error", "detail": "Internal error"})
    head_too_large = VendorError(
        431, {"error": "headers_too_large", "detail": "Request header fields too large"}
    )
    unavailable = VendorError(503, {"error": "unavailable", "detail": "Too many connections"})

    def invalid_request(self, failure: RequestInvalid) -> VendorError | None:
        return VendorError(
            400, {"error": "invalid_request", "detail": echo(failure.detail, DETAIL)}
        )

    def unreported(self, errors: list[Any]) -> VendorError | None:
        return VendorError(
            400, {"error": "invalid_request", "detail": echo(errors[0].message, DETAIL)}
        )

    def unrouted(self, method: str, path: str, method_not_allowed: bool) -> VendorError:
        if method_not_allowed:
            return VendorError(405, {"error": "method_not_allowed", "detail": f"{method} {path}"})
        return VendorError(404, {"error": "not_found", "detail": f"{method} {path}"})


@dataclass(frozen=True)
class Quoting:
    """How one kind of message repeats what a client sent, whatever its size: in quotes (its
    repr) or as it is, whole up to ``whole`` characters, else its first ``head`` characters,
    '...', and its last ``tail`` (where a checker's words say what is wrong with the value
    they quote)."""

    whole: int
    head: int
    tail: int = 0
    quotes: bool = False


# The kinds of message, each with its one limit:
# a value an emulator message names: a rule's error, a near miss, a control or data-file error
VALUE = Quoting(80, 80, quotes=True)
# a value a vendor's error repeats, written as the vendor writes it (OCC: JSON)
VENDOR_VALUE = Quoting(100, 100)
# a detail: the control API's, a vendor error's, a rule's or state's refusal, a checker's words
DETAIL = Quoting(400, 100, 100)
# what a report shows of a value: the client's failed assertions, parity's differences
REPORT = Quoting(120, 120)


def echo(value: object, kind: Quoting = VALUE) -> str:
    """``value`` as ``kind`` of message repeats it (:class:`Quoting`)."""
    if kind.quotes:  # (a huge string is cut before its repr, not after)
        text = repr(value[: kind.whole + 1] if isinstance(value, str) else value)
    else:
        text = value if isinstance(value, str) else repr(value)
    if len(text) <= kind.whole:
        return text
    return f"{text[: kind.head]}...{text[len(text) - kind.tail :] if kind.tail else ''}"


def bad_request(detail: str) -> EmulatedError:
    """The control API's 400, in PlainErrors' shape."""
    return EmulatedError(
        VendorError(400, {"error": "invalid_request", "detail": echo(detail, DETAIL)})
    )


def not_found(detail: str) -> EmulatedError:
    """The control API's 404, in PlainErrors' shape."""
    return EmulatedError(VendorError(404, {"error": "not_found", "detail": echo(detail, DETAIL)}))
