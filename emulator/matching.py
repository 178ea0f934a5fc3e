"""Which vendor calls a fault rule applies to: a rule's `Match`, a `Call` as matching sees it,
and the match result, every way a match differs from a call (`differences`; none: the rule
matches). The engine reads the first difference, the near-miss explanation all of them."""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import echo
from emulator.jsonyaml import json_equal

ABSENT: Any = object()  # a mismatch's expected or actual value that it does not name


@dataclass(frozen=True)
class Match:
    """Which vendor calls a rule applies to; an empty Match applies to every call."""

    api: str | None = None
    operation: str | None = None
    path_params: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None
    # An `error` rule naming no operation applies only where its API's spec documents the
    # error (None: no such narrowing). Not part of the rule's JSON: derived from the specs.
    documented_on: frozenset[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "api": self.api,
            "operation": self.operation,
            "pathParams": dict(self.path_params) or None,
            "headers": dict(self.headers) or None,
            "body": copy.deepcopy(self.body),
        }
        return {key: value for key, value in out.items() if value is not None}


@dataclass
class Call:
    """A vendor call as the engine sees it (header names lower-cased)."""

    api: str
    operation: str | None
    path_params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def __post_init__(self) -> None:
        self.headers = {k.lower(): v for k, v in self.headers.items()}


# Each kind of difference: the reason a near miss gives, the place its detail names, and
# what it shows besides (openapi/control.yaml, NearMiss).
_KINDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "unrouted": ("operation", "", ()),
    "api": ("api", "", ("expected", "actual")),
    "operation": ("operation", "", ("expected", "actual")),
    "documented": ("operation", "", ("actual",)),
    "pathParams": ("pathParams", "path parameter", ("path", "expected", "actual")),
    "headerMissing": ("headerMissing", "header", ("path", "expected")),
    "headerDiffers": ("headerDiffers", "header", ("path", "expected", "actual")),
    "bodyShape": ("body", "body", ("path",)),
    "bodyMissing": ("body", "body", ("path", "expected")),
    "body": ("body", "body", ("path", "expected", "actual")),  # actual: a scalar only
}


@dataclass(slots=True)
class Mismatch:
    """One way a rule's match differs from a call: which field (``kind``, one of _KINDS),
    where (a path parameter, a header, a place in the body), what the rule expects and what
    the call has."""

    kind: str
    path: str | None = None
    expected: Any = ABSENT
    actual: Any = ABSENT

    @property
    def detail(self) -> str:
        """The difference in words."""
        kind, expected, actual = self.kind, self.expected, self.actual
        if kind == "unrouted":
            return (
                f"the call matched no operation of the {actual} spec "
                "(rules act on vendor operations only)"
            )
        if kind == "api":
            return f"the rule is for the {expected} API, the call went to {actual}"
        if kind == "operation":
            return f"the rule is for {expected}, the call was {actual}"
        if kind == "documented":
            return (
                f"the rule's error is documented only for {', '.join(sorted(expected))}, "
                f"the call was {actual}"
            )
        place = f"{_KINDS[kind][1]} {self.path}"
        if kind == "bodyShape":
            got = "no JSON body" if actual is None else f"{type(actual).__name__} {echo(actual)}"
            return f"{place}: the rule expects an object, the call has {got}"
        if actual is ABSENT:  # headerMissing, bodyMissing
            return f"{place}: missing (the rule expects {echo(expected)})"
        return f"{place}: the rule expects {echo(expected)}, the call has {echo(actual)}"

    def to_dict(self) -> dict[str, Any]:
        """The difference as a near miss gives it: reason, detail, then what _KINDS shows."""
        reason, _, shown = _KINDS[self.kind]
        out: dict[str, Any] = {"reason": reason, "detail": self.detail}
        for name in shown:
            value = getattr(self, name)
            if not (name == "actual" and isinstance(value, (dict, list))):
                out[name] = value
        return out


def differences(match: Match, call: Call) -> Iterator[Mismatch]:
    """The match result: each way ``match`` differs from ``call``, in the order of the match's
    fields; none, and the rule applies to the call. Lazy: the engine stops at the first."""
    if call.operation is None:  # rules act on vendor operations only
        yield Mismatch("unrouted", None, ABSENT, call.api)
        return
    if match.api is not None and call.api != match.api:
        yield Mismatch("api", None, match.api, call.api)
    if match.operation is not None and call.operation != match.operation:
        yield Mismatch("operation", None, match.operation, call.operation)
    elif match.documented_on is not None and call.operation not in match.documented_on:
        yield Mismatch("documented", None, match.documented_on, call.operation)
    for key, expected in match.path_params.items():
        got = call.path_params.get(key)
        if key not in call.path_params or str(got) != expected:
            yield Mismatch("pathParams", key, expected, got)
    for name, expected in match.headers.items():
        got = call.headers.get(name.lower())
        if got is None:
            yield Mismatch("headerMissing", name, expected)
        elif got != expected:
            yield Mismatch("headerDiffers", name, expected, got)
    if match.body is not None:
        yield from _body(match.body, call.body, "")


def _body(pattern: Any, value: Any, path: str) -> Iterator[Mismatch]:
    """A body pattern against the call's body: objects key by key (the pattern's keys a subset
    of the call's), recursively; anything else equal as JSON (lists whole)."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            yield Mismatch("bodyShape", path or "(top level)", ABSENT, value)
            return
        for key, expected in pattern.items():
            sub = f"{path}.{key}" if path else key
            if key not in value:
                yield Mismatch("bodyMissing", sub, expected)
            else:
                yield from _body(expected, value[key], sub)
    elif not json_equal(pattern, value):
        yield Mismatch("body", path or "(top level)", pattern, value)


def matches(match: Match, call: Call) -> bool:
    """Whether ``match`` applies to ``call``: no difference (the first one ends the search)."""
    for _ in differences(match, call):
        return False
    return True


def mismatches(match: Match, call: Call) -> list[dict[str, Any]]:
    """Every way a rule's match differs from a call, as a near miss names each."""
    return [mismatch.to_dict() for mismatch in differences(match, call)]
