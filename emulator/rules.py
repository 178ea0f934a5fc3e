"""Fault rules as data: the rule schema (every check it can say, each worded once), a rule
parsed from its JSON (`FaultRule.parse`), the `Contract` of what the vendor specs let a rule
name, and `RuleError`, which names the place and the problem."""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

from emulator.errors import DETAIL, VALUE, echo
from emulator.jsonyaml import MAX_NESTING, json_path, nested_too_deep
from emulator.matching import Match

FAULTS = ("connection_reset", "empty_response", "malformed_body", "timeout")
ACTIONS = ("error", "respond", "fault")
# When a rule acts (docs/decisions.md#11): `checked` once the vendor's own token, body and
# session checks have passed (the default of `error` and `respond`: a call without a token
# still gets its 401), `arrival` before any check (the default of delays; transport faults
# always). Each stage has its own first match: a rule waiting for the checks never keeps a
# delay or a transport fault from acting on arrival.
STAGES = ("arrival", "checked")
BODILESS = (204, 304)  # RFC 9110: these statuses carry neither content nor Content-Length
NO_CONTENT = (*BODILESS, 205)  # 205 Reset Content: no content either (Content-Length 0)
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CR, LF or NUL; latin-1 only
FRAMING_HEADERS = ("content-length", "transfer-encoding")  # the emulator frames the body
MAX_DELAY_MS = 3_600_000  # an hour: a longer wait is a mistake (and overflows timers)
MAX_COUNT = 1_000_000_000  # times / after: JSON integers stay exact and 64-bit
MAX_SIGMA = 10  # exp(sigma * z) stays a finite float for any z the RNG can draw

_STR_MAP: dict[str, Any] = {"type": "object", "additionalProperties": {"type": "string"}}
_DELAY: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "uniform": {
            "type": "array",
            "minItems": 2,
            "maxItems": 2,
            "items": {"type": "number", "minimum": 0, "maximum": MAX_DELAY_MS},
        },
        "lognormal": {
            "type": "object",
            "additionalProperties": False,
            "required": ["median", "sigma", "maxMs"],
            "properties": {
                "median": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DELAY_MS},
                "sigma": {"type": "number", "minimum": 0, "maximum": MAX_SIGMA},
                "maxMs": {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_DELAY_MS},
            },
        },
    },
}
# Checks across fields: the schema of each (RULE_SCHEMA's `allOf`, in this order), the place
# its refusal names and its words ({actions}: the actions given; {status}: respond's status).
_ACROSS: tuple[tuple[dict[str, Any], tuple[str, ...], str], ...] = (
    (
        {"not": {"anyOf": [{"required": list(pair)} for pair in combinations(ACTIONS, 2)]}},
        (),
        f"give exactly one of {', '.join(ACTIONS)} (got {{actions}})",
    ),
    ({"not": {"required": ["delayMs", "delay"]}}, (), "give delayMs or delay, not both"),
    (
        {"anyOf": [{"required": [key]} for key in (*ACTIONS, "delayMs", "delay")]},
        (),
        "a rule needs an action (error, respond or fault) or a delay (delayMs or delay)",
    ),
    (
        {
            "not": {
                "required": ["respond"],
                "properties": {
                    "respond": {
                        "required": ["status", "body"],
                        "properties": {"status": {"enum": list(NO_CONTENT)}},
                    }
                },
            }
        },
        ("respond", "body"),
        "a {status} response has no body",
    ),
    (
        {"not": {"required": ["stage", "fault"], "properties": {"stage": {"const": "checked"}}}},
        ("stage",),
        "transport faults act on arrival",
    ),
)
RULE_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "FaultRule",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "id": {"type": "string", "pattern": ID_PATTERN},
        "description": {"type": "string"},
        "match": {
            "type": "object",
            "additionalProperties": False,
            # `api`: one of the server's APIs, which the Contract knows (checked in parse).
            "properties": {
                "api": {"type": "string"},
                "operation": {"type": "string"},
                "pathParams": _STR_MAP,
                "headers": _STR_MAP,
                "body": {"type": "object"},
            },
        },
        "error": {"type": "string", "minLength": 1},
        "respond": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {
                "status": {"type": "integer", "minimum": 200, "maximum": 599},
                "headers": _STR_MAP,
                "body": {},
            },
        },
        "stage": {"enum": list(STAGES)},
        "fault": {"enum": list(FAULTS)},
        "delayMs": {"type": "number", "minimum": 0, "maximum": MAX_DELAY_MS},
        "delay": _DELAY,
        "times": {"type": "integer", "minimum": 1, "maximum": MAX_COUNT},
        "after": {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
        "probability": {"type": "number", "minimum": 0, "maximum": 1},
        "ttlSeconds": {"type": "number", "exclusiveMinimum": 0},
    },
    "allOf": [schema for schema, _, _ in _ACROSS],
}
_RULE_VALIDATOR = Draft7Validator(RULE_SCHEMA)


class RuleError(ValueError):
    """A fault rule or scenario file is invalid; the message names the place and the problem."""


def location(where: str, path: Iterable[str | int]) -> str:
    """``where`` (a file's 'path: ', a list's 'faults[2]', or '') and a place within it."""
    parts = list(path)
    joined = where and parts and isinstance(parts[0], str) and not where.endswith(": ")
    return f"{where}.{json_path(parts)}" if joined else where + json_path(parts)


def refusal(where: str, path: Iterable[str | int], message: str) -> RuleError:
    """The RuleError naming a place (``where`` and ``path`` within it) and its problem."""
    loc = location(where, path).removesuffix(": ")
    message = echo(message, DETAIL)  # e.g. jsonschema's words around a huge value
    return RuleError(f"{echo(loc, DETAIL)}: {message}" if loc else message)


def _refusal_of(error: ValidationError, where: str) -> RuleError:
    path = list(error.absolute_path)
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    instance: Any = error.instance
    wanted: Any = error.validator_value
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        return refusal(
            where, [*path, extra[0]], f"unknown field; expected one of: {', '.join(allowed)}"
        )
    if error.validator == "required":
        missing = [k for k in wanted if k not in instance]
        return refusal(where, [*path, missing[0]], "required field is missing")
    if error.validator in ("minProperties", "maxProperties"):
        return refusal(
            where, path, f"give exactly one of: {', '.join(sorted(schema['properties']))}"
        )
    return refusal(where, path, error.message)


def describe(error: ValidationError, where: str = "") -> str:
    """A jsonschema error as `field.path: what is wrong`, in the words rules use."""
    return str(_refusal_of(error, where))


def check(validator: Draft7Validator, data: Any, where: str) -> None:
    """Refuse ``data`` that ``validator``'s schema refuses: a field's own error first (the
    best), else the first cross-field check of RULE_SCHEMA that fails, in its words."""
    errors = list(validator.iter_errors(data))
    fields = [e for e in errors if list(e.schema_path)[:1] != ["allOf"]]
    if fields:
        raise _refusal_of(best_match(fields), where)
    if errors:  # RULE_SCHEMA's allOf: its checks across fields
        _, place, words = _ACROSS[min(int(e.schema_path[1]) for e in errors)]
        respond = data.get("respond", {})
        actions = ", ".join(key for key in ACTIONS if key in data)
        raise refusal(where, place, words.format(actions=actions, status=respond.get("status")))


def _close(value: str, known: Iterable[str]) -> str:
    """'; did you mean ...?' for a short value with close matches, else ''."""
    short = len(value) <= VALUE.whole
    close = difflib.get_close_matches(value, list(known), n=3) if short else []
    return f"; did you mean {', '.join(close)}?" if close else ""


@dataclass
class FaultRule:
    """One rule: what it matches, what it does, and its live counters."""

    match: Match = field(default_factory=Match)
    error: str | None = None
    respond: dict[str, Any] | None = None
    fault: str | None = None
    delay_ms: float | None = None
    delay: dict[str, Any] | None = None
    times: int | None = None
    after: int = 0
    probability: float = 1.0
    ttl_seconds: float | None = None
    id: str | None = None
    description: str | None = None
    stage: str = "arrival"
    scenario: str | None = None
    matched: int = 0
    fired: int = 0
    spent: bool = False  # fired `times` times: listed with its counters, never matched again
    expires_at: float | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, data: Any, *, known_errors: Container[str], where: str = "") -> FaultRule:
        """Validate one rule in its JSON form; raise RuleError naming the bad field.

        RULE_SCHEMA says all it can; the checks it cannot say follow (a delay's bounds in
        order, response headers as HTTP writes them, the error's name). ``known_errors``: the
        catalogue names a rule may use. When it is a :class:`Contract`, the rule is also held
        to the vendor specs (docs/decisions.md#12): an operation its API has, an error its
        matched operations document."""
        deep = nested_too_deep(data)
        if deep is not None:
            raise refusal(where, deep[:2], f"nested deeper than {MAX_NESTING} levels")
        check(_RULE_VALIDATOR, data, where)
        uniform = data.get("delay", {}).get("uniform")
        if uniform and uniform[0] > uniform[1]:
            raise refusal(
                where,
                ["delay", "uniform"],
                f"lower bound {uniform[0]} is greater than upper bound {uniform[1]}",
            )
        _check_headers(data.get("respond", {}).get("headers", {}), where)
        error = data.get("error")
        if error is not None and error not in known_errors:
            hint = _close(error, known_errors) if isinstance(known_errors, Iterable) else ""
            raise refusal(
                where, ["error"], f"unknown error {echo(error)} (see GET /_emulator/errors){hint}"
            )
        m = data.get("match", {})
        api, operation = m.get("api"), m.get("operation")
        if error is not None:  # an error belongs to its API (docs/decisions.md#12)
            owner = error.partition(".")[0]
            if api is not None and api != owner:
                raise refusal(
                    where, ["match", "api"], f"{error} is an error of the {owner} API, not of {api}"
                )
            api = owner
        documented_on = None
        if isinstance(known_errors, Contract):
            documented_on = known_errors.check(api, operation, error, where)
        respond = data.get("respond")
        stage = data.get(
            "stage", "checked" if error is not None or respond is not None else "arrival"
        )
        return cls(
            match=Match(
                api=api,
                operation=operation,
                path_params=dict(m.get("pathParams", {})),
                headers=dict(m.get("headers", {})),
                body=copy.deepcopy(m.get("body")),
                documented_on=documented_on,
            ),
            error=error,
            respond=copy.deepcopy(respond),
            fault=data.get("fault"),
            delay_ms=data.get("delayMs"),
            delay=copy.deepcopy(data.get("delay")),
            times=data.get("times"),
            after=data.get("after", 0),
            probability=data.get("probability", 1.0),
            ttl_seconds=data.get("ttlSeconds"),
            id=data.get("id"),
            description=data.get("description"),
            stage=stage,
        )

    def to_dict(self, *, counters: bool = True) -> dict[str, Any]:
        """The rule's public JSON (with id); with counters, also matched, fired and scenario."""
        out = {
            "id": self.id,
            "description": self.description,
            "match": self.match.to_dict(),
            "error": self.error,
            "respond": copy.deepcopy(self.respond),
            "fault": self.fault,
            "delayMs": self.delay_ms,
            "delay": copy.deepcopy(self.delay),
            "times": self.times,
            "after": self.after,
            "probability": self.probability,
            "ttlSeconds": self.ttl_seconds,
            "stage": self.stage,
        }
        if counters:
            out |= {
                "matched": self.matched,
                "fired": self.fired,
                "spent": self.spent,
                "scenario": self.scenario,
            }
        return {key: value for key, value in out.items() if value is not None}


def _check_headers(headers: Mapping[str, str], where: str) -> None:
    """A respond rule's headers as HTTP writes them: names are tokens (each once, whatever
    its case; never a framing header, which the emulator sets), values latin-1 text."""
    seen: set[str] = set()
    for name, value in headers.items():
        if name.lower() in seen:
            raise refusal(
                where,
                ["respond", "headers"],
                f"{echo(name)} is given twice (header names are case-insensitive)",
            )
        seen.add(name.lower())
        if not HEADER_NAME.fullmatch(name):
            raise refusal(where, ["respond", "headers"], f"{echo(name)} is not a valid header name")
        if name.lower() in FRAMING_HEADERS:
            raise refusal(where, ["respond", "headers"], f"{echo(name)} is set by the emulator")
        if not HEADER_VALUE.fullmatch(value):
            raise refusal(
                where, ["respond", "headers", name], f"{echo(value)} is not a valid header value"
            )


@dataclass(frozen=True)
class Contract(Container[str]):
    """What the vendor specs let a rule name (docs/decisions.md#12): each API's operations, and
    for each catalogue error the operations whose spec documents it (a response of its status
    with an example of its body). As a container it holds the catalogue's error names.

    ``absent``: APIs a scenario file may name although this server does not serve them; such
    rules are accepted as they load and held to the contract when activated (then refused)."""

    operations: Mapping[str, Collection[str]]
    documented: Mapping[str, frozenset[str]]
    absent: frozenset[str] = frozenset()

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and (
            name in self.documented or name.partition(".")[0] in self.absent
        )

    def __iter__(self) -> Iterator[str]:  # close matches in "did you mean" hints
        return iter(self.documented)

    def check(
        self, api: str | None, operation: str | None, error: str | None, where: str
    ) -> frozenset[str] | None:
        """Refuse an operation the API lacks and an error its operations do not document;
        return the operations an error rule naming none is narrowed to (None: no narrowing)."""
        if api in self.absent:
            return None
        if api is not None and api not in self.operations:
            raise refusal(
                where,
                ["match", "api"],
                f"{echo(api)} is not one of {[*self.operations, *sorted(self.absent)]!r}",
            )
        if operation is not None:
            known = (
                list(self.operations.get(api, ()))
                if api
                else sorted({op for ops in self.operations.values() for op in ops})
            )
            if operation not in known:
                hint = _close(operation, known)
                owner = f"the {api} API has no operation" if api else "no API has an operation"
                raise refusal(
                    where,
                    ["match", "operation"],
                    f"{owner} {echo(operation)} (operations: {', '.join(known)}){hint}",
                )
        if error is None:
            return None
        documented = self.documented.get(error, frozenset())
        if operation is not None and operation not in documented:
            elsewhere = ", ".join(sorted(documented)) or "no operation"
            raise refusal(
                where,
                ["error"],
                f"{error} is not a response of {api} {operation} in "
                f"its spec (documented for: {elsewhere})",
            )
        if not documented:
            raise refusal(
                where, ["error"], f"{error} is not a response of any {api} operation in its spec"
            )
        return None if operation is not None else documented
