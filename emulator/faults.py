"""Fault rules as data: their schema, parsing, the seeded first-match Engine and scenario files."""

from __future__ import annotations

import copy
import difflib
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError, best_match

# libyaml when present (~20x faster than pure Python); the emulator's one YAML loader
# (specs and fixtures read through read_yaml too): this module stands alone.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_READER = f"PyYAML {yaml.__version__} {_YAML_LOADER.__name__}"  # what read_yaml parses with
FAULTS = ("connection_reset", "empty_response", "malformed_body", "timeout")
ACTIONS = ("error", "respond", "fault")
# When a rule acts (REQUIREMENTS 5.11): `checked` once the vendor's own token, body and
# session checks have passed (the default of `error` and `respond`: a call without a token
# still gets its 401), `arrival` before any check (the default of delays; transport faults
# always). Each stage has its own first match: a rule waiting for the checks never keeps a
# delay or a transport fault from acting on arrival.
STAGES = ("arrival", "checked")
BODILESS = (204, 304)  # RFC 9110: these statuses carry neither content nor Content-Length
NO_CONTENT = (*BODILESS, 205)  # 205 Reset Content: no content either (Content-Length 0)
MAX_ECHO = 80  # characters of a refused value repeated in a rule's error message
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token
HEADER_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CR, LF or NUL; latin-1 only
FRAMING_HEADERS = ("content-length", "transfer-encoding")  # the emulator frames the body
MAX_DELAY_MS = 3_600_000  # an hour: a longer wait is a mistake (and overflows timers)
MAX_COUNT = 1_000_000_000  # times / after: JSON integers stay exact and 64-bit
MAX_SIGMA = 10  # exp(sigma * z) stays a finite float for any z the RNG can draw
EXPIRED_KEPT = 64  # expired rules an engine remembers, for near misses
MAX_NESTING = 64  # JSON depth of a rule, and of a vendor call's body (orjson writes <= 255)
# Rules a namespace holds at once (serve --max-rules): every call of the namespace weighs
# its rules, and adding one costs a pass over them. A test sets a handful; at 1000 an add
# costs ~0.1 ms and a call's weighing ~0.5 ms (~3 ms when every rule is a near miss of it),
# where 26k rules made an add ~14 ms and such a call ~90 ms.
MAX_RULES = 1000

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
    # Cross-field rules; parse() checks them itself first to give a readable message.
    "allOf": [
        {
            "not": {
                "anyOf": [
                    {"required": ["error", "respond"]},
                    {"required": ["error", "fault"]},
                    {"required": ["respond", "fault"]},
                ]
            }
        },
        {"not": {"required": ["delayMs", "delay"]}},
        {"anyOf": [{"required": [key]} for key in (*ACTIONS, "delayMs", "delay")]},
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
        {"not": {"required": ["stage", "fault"], "properties": {"stage": {"const": "checked"}}}},
    ],
}
SCENARIO_SCHEMA: dict[str, Any] = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Scenario",
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "description", "rules"],
    "properties": {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "description": {"type": "string"},
        "rules": {"type": "array", "items": {"type": "object"}},
    },
}
_RULE_VALIDATOR = Draft7Validator(RULE_SCHEMA)
_SCENARIO_VALIDATOR = Draft7Validator(SCENARIO_SCHEMA)


def read_yaml(path: Path) -> Any:
    """A YAML file, parsed safely."""
    return load_yaml(path.read_text(encoding="utf-8"))


def load_yaml(text: str) -> Any:
    """A YAML document, parsed safely (read_yaml's parse of a file's text)."""
    return yaml.load(text, Loader=_YAML_LOADER)


def nested_too_deep(value: Any, limit: int = MAX_NESTING) -> list[str | int] | None:
    """The path to the first object or array nested deeper than ``limit`` (one at that depth
    or more), or None. Iterative (a deep document cannot exhaust the stack here), and only the
    containers are kept: a 40 MB snapshot is walked in a fraction of its parse time."""
    if not isinstance(value, (dict, list)):
        return None
    found: list[tuple[Any, int, str | int, int]] = [(value, 0, "", -1)]  # node, depth, key, parent
    at = 0
    while at < len(found):
        node, depth, _, _ = found[at]
        if depth >= limit:
            path: list[str | int] = []
            while found[at][3] >= 0:
                path.append(found[at][2])
                at = found[at][3]
            return path[::-1]
        for key, child in node.items() if type(node) is dict else enumerate(node):
            if type(child) is dict or type(child) is list:
                found.append((child, depth + 1, key, at))
        at += 1
    return None


class RuleError(ValueError):
    """A fault rule or scenario file is invalid; the message names the place and the problem."""


class TooManyRules(RuleError):
    """The namespace holds as many rules as it may (``Engine.max_rules``)."""


def _location(where: str, path: Iterable[str | int]) -> str:
    loc = where
    for part in path:
        if isinstance(part, int):
            loc += f"[{part}]"
        else:
            loc += part if not loc or loc.endswith(": ") else f".{part}"
    return loc


def _echo(value: Any) -> str:
    """A refused value as a message repeats it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def _close(value: str, known: Iterable[str]) -> str:
    """'; did you mean ...?' for a short value with close matches, else ''."""
    close = difflib.get_close_matches(value, list(known), n=3) if len(value) <= MAX_ECHO else []
    return f"; did you mean {', '.join(close)}?" if close else ""


def _fail(where: str, path: Iterable[str | int], message: str) -> RuleError:
    loc = _location(where, path).removesuffix(": ")
    if len(loc) > 2 * MAX_ECHO:
        loc = loc[: 2 * MAX_ECHO] + "..."
    if len(message) > 4 * MAX_ECHO:  # e.g. jsonschema's words around a huge value: keep its
        # start and what it says of the value (the end), at most ~200 characters of the value
        message = f"{message[: 3 * MAX_ECHO // 2]}...{message[-MAX_ECHO:]}"
    return RuleError(f"{loc}: {message}" if loc else message)


def _schema_error(error: ValidationError, where: str) -> RuleError:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        return _fail(
            where, [*path, extra[0]], f"unknown field; expected one of: {', '.join(allowed)}"
        )
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return _fail(where, [*path, missing[0]], "required field is missing")
    if error.validator in ("minProperties", "maxProperties"):
        return _fail(
            where, path, f"give exactly one of: {', '.join(sorted(error.schema['properties']))}"
        )
    return _fail(where, path, error.message)


def describe(error: ValidationError, where: str = "") -> str:
    """A jsonschema error as `field.path: what is wrong`, in the words rules use."""
    return str(_schema_error(error, where))


def _validate(validator: Draft7Validator, data: Any, where: str) -> None:
    # Errors from the cross-field allOf are left to the caller, which words them better.
    errors = [e for e in validator.iter_errors(data) if list(e.schema_path)[:1] != ["allOf"]]
    if errors:
        raise _schema_error(best_match(errors), where)


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

    def matches(self, call: Call) -> bool:
        return (
            (self.api is None or call.api == self.api)
            and (self.operation is None or call.operation == self.operation)
            and (self.documented_on is None or call.operation in self.documented_on)
            and all(
                k in call.path_params and str(call.path_params[k]) == v
                for k, v in self.path_params.items()
            )
            and all(call.headers.get(k.lower()) == v for k, v in self.headers.items())
            and (self.body is None or _subset(self.body, call.body))
        )

    def to_dict(self) -> dict[str, Any]:
        out = {
            "api": self.api,
            "operation": self.operation,
            "pathParams": dict(self.path_params) or None,
            "headers": dict(self.headers) or None,
            "body": copy.deepcopy(self.body),
        }
        return {key: value for key, value in out.items() if value is not None}


def _json_equal(a: Any, b: Any) -> bool:
    """Equality in JSON terms: true is not 1, but 1 is 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_json_equal, a, b))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    return type(a) is type(b) and a == b


def _subset(pattern: Any, value: Any) -> bool:
    """Recursive subset match: dict keys are a subset; lists and scalars must be equal."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and _subset(p, value[k]) for k, p in pattern.items()
        )
    return _json_equal(pattern, value)


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

        ``known_errors``: the catalogue names a rule may use. When it is a
        :class:`Contract`, the rule is also held to the vendor specs (REQUIREMENTS 5.12): an
        operation its API has, an error its matched operations document."""
        deep = nested_too_deep(data)
        if deep is not None:
            raise _fail(where, deep[:2], f"nested deeper than {MAX_NESTING} levels")
        _validate(_RULE_VALIDATOR, data, where)
        actions = [key for key in ACTIONS if key in data]
        if len(actions) > 1:
            raise _fail(
                where, [], f"give exactly one of error, respond, fault (got {', '.join(actions)})"
            )
        if "delayMs" in data and "delay" in data:
            raise _fail(where, [], "give delayMs or delay, not both")
        if not actions and "delayMs" not in data and "delay" not in data:
            raise _fail(
                where,
                [],
                "a rule needs an action (error, respond or fault) or a delay (delayMs or delay)",
            )
        uniform = data.get("delay", {}).get("uniform")
        if uniform and uniform[0] > uniform[1]:
            raise _fail(
                where,
                ["delay", "uniform"],
                f"lower bound {uniform[0]} is greater than upper bound {uniform[1]}",
            )
        seen_headers: set[str] = set()
        for name, value in data.get("respond", {}).get("headers", {}).items():
            if name.lower() in seen_headers:
                raise _fail(
                    where,
                    ["respond", "headers"],
                    f"{_echo(name)} is given twice (header names are case-insensitive)",
                )
            seen_headers.add(name.lower())
            if not HEADER_NAME.fullmatch(name) or name.lower() in FRAMING_HEADERS:
                reason = (
                    "is set by the emulator"
                    if HEADER_NAME.fullmatch(name)
                    else "is not a valid header name"
                )
                raise _fail(where, ["respond", "headers"], f"{_echo(name)} {reason}")
            if not HEADER_VALUE.fullmatch(value):
                raise _fail(
                    where,
                    ["respond", "headers", name],
                    f"{_echo(value)} is not a valid header value",
                )
        if "error" in data and data["error"] not in known_errors:
            hint = _close(data["error"], known_errors) if isinstance(known_errors, Iterable) else ""
            raise _fail(
                where,
                ["error"],
                f"unknown error {_echo(data['error'])} (see GET /_emulator/errors){hint}",
            )
        respond = data.get("respond")
        if respond is not None and respond.get("status") in NO_CONTENT and "body" in respond:
            raise _fail(where, ["respond", "body"], f"a {respond['status']} response has no body")
        if data.get("stage") == "checked" and "fault" in data:
            raise _fail(where, ["stage"], "transport faults act on arrival")
        leftover = best_match(_RULE_VALIDATOR.iter_errors(data))  # schema and checks above agree
        if leftover is not None:
            raise _schema_error(leftover, where)
        m = data.get("match", {})
        api, operation = m.get("api"), m.get("operation")
        error = data.get("error")
        if error is not None:  # an error belongs to its API (REQUIREMENTS 5.12)
            owner = error.partition(".")[0]
            if api is not None and api != owner:
                raise _fail(
                    where, ["match", "api"], f"{error} is an error of the {owner} API, not of {api}"
                )
            api = owner
        documented_on = None
        if isinstance(known_errors, Contract):
            documented_on = known_errors.check(api, operation, error, where)
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


@dataclass(frozen=True)
class Contract(Container[str]):
    """What the vendor specs let a rule name (REQUIREMENTS 5.12): each API's operations, and
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
            raise _fail(
                where,
                ["match", "api"],
                f"{api!r} is not one of {[*self.operations, *sorted(self.absent)]!r}",
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
                raise _fail(
                    where,
                    ["match", "operation"],
                    f"{owner} {_echo(operation)} (operations: {', '.join(known)}){hint}",
                )
        if error is None:
            return None
        documented = self.documented.get(error, frozenset())
        if operation is not None and operation not in documented:
            elsewhere = ", ".join(sorted(documented)) or "no operation"
            raise _fail(
                where,
                ["error"],
                f"{error} is not a response of {api} {operation} in "
                f"its spec (documented for: {elsewhere})",
            )
        if not documented:
            raise _fail(
                where, ["error"], f"{error} is not a response of any {api} operation in its spec"
            )
        return None if operation is not None else documented


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


@dataclass(frozen=True)
class Decision:
    """What to do with a call: wait delay_ms, then at most one of error, respond, fault (none = pass on)."""

    rule_id: str
    delay_ms: float = 0.0
    error: str | None = None
    respond: dict[str, Any] | None = None
    fault: str | None = None
    scenario: str | None = None  # the scenario the deciding rule came from

    @property
    def passes_through(self) -> bool:
        return self.error is None and self.respond is None and self.fault is None

    @property
    def acted(self) -> Acted:
        action = (
            "error"
            if self.error is not None
            else "respond"
            if self.respond is not None
            else "fault"
            if self.fault is not None
            else "delay"
        )
        return Acted(self.rule_id, self.scenario, action)


@dataclass(frozen=True, slots=True)
class Acted:
    """The rule that acted on a call, as the journal names it."""

    id: str
    scenario: str | None
    action: str  # error, respond, fault, or delay (a rule that only delayed the call)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.scenario, "action": self.action}


class Weighing:
    """How the rules of a namespace were weighed for one call, kept with its journal entry:
    the rules listed when it arrived (spent ones too) and the rules expired by then, which
    were spent, the stages weighed, and what each rule that matched drew. Near misses are
    read from it (:func:`near_misses`); nothing here is done for a namespace without rules."""

    __slots__ = ("expired", "outcomes", "rules", "spent", "stages")

    def __init__(self, rules: tuple[FaultRule, ...], expired: tuple[FaultRule, ...]) -> None:
        self.rules = rules
        self.spent = frozenset(id(rule) for rule in rules if rule.spent)
        self.expired = expired
        self.stages: set[str] = set()
        self.outcomes: dict[int, tuple[str, int]] = {}  # id(rule) -> (outcome, matched then)


class Engine:
    """An ordered rule list, first match wins, probabilities and delays from one seeded RNG."""

    def __init__(
        self,
        *,
        seed: int | None = 0,
        clock: Callable[[], float] = time.monotonic,
        max_rules: int = MAX_RULES,
    ) -> None:
        self.max_rules = max_rules  # rules held at once, spent ones included (0: no cap)
        self._rules: list[FaultRule] = []
        self._scenarios: list[str] = []
        self._rng = random.Random(seed)
        self._clock = clock
        self._next_id = 1
        self._live = 0  # rules neither spent nor expired (recounted whenever the list changes)
        self._live_checked = 0  # of which act after the vendor's checks
        self._listed: tuple[FaultRule, ...] = ()  # the rules as of the last change
        # Rules that expired (ttlSeconds), the latest last: near misses still name them.
        self._expired: deque[FaultRule] = deque(maxlen=EXPIRED_KEPT)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule, *, front: bool = False) -> str:
        """Add a rule at the end (or the front); return its id, `f-<n>` when it had none.
        :class:`TooManyRules` when the engine holds ``max_rules`` already."""
        with self._lock:
            self._expire(self._clock())  # expired rules make room
            self._check_room(len(self._rules) + 1)
            taken = {r.id for r in self._rules}
            if rule.id is None:
                while f"f-{self._next_id}" in taken:
                    self._next_id += 1
                rule.id = f"f-{self._next_id}"
                self._next_id += 1
            elif rule.id in taken:
                raise RuleError(f"id: {rule.id!r} is already in use")
            rule.expires_at = None if rule.ttl_seconds is None else self._clock() + rule.ttl_seconds
            self._rules.insert(0, rule) if front else self._rules.append(rule)
            self._recount()
            return rule.id

    @property
    def active(self) -> bool:
        """Whether any live rule is loaded: the request path asks this before building a Call."""
        return self._live > 0

    def _recount(self) -> None:
        self._live = sum(not r.spent for r in self._rules)
        self._live_checked = sum(not r.spent and r.stage == "checked" for r in self._rules)
        self._listed = tuple(self._rules)

    @property
    def listed(self) -> bool:
        """Whether any rule is listed (spent ones too) or expired lately: a call's near
        misses are then worth keeping."""
        return bool(self._listed or self._expired)

    def weighing(self) -> Weighing:
        """A new call's record of how the rules are weighed for it (see :class:`Weighing`)."""
        with self._lock:
            if self._live:
                self._expire(self._clock())
            return Weighing(self._listed, tuple(self._expired))

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            self._forget(lambda r: r.id == rule_id)
            self._recount()
            return len(self._rules) < before

    def clear(self) -> None:
        """Drop every rule, scenario rules included, deactivate all scenarios and restart ids."""
        with self._lock:
            self._rules, self._scenarios, self._next_id = [], [], 1
            self._expired.clear()
            self._recount()

    def rules(self) -> list[FaultRule]:
        """The rules in match order, spent ones included (expired ones are dropped)."""
        with self._lock:
            self._expire(self._clock())
            return list(self._rules)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def activate(self, name: str, rules: list[FaultRule]) -> None:
        """Put a scenario's rules in front (replacing them if it was active), ids `s-<name>-<n>`."""
        if not re.fullmatch(NAME_PATTERN, name):
            raise RuleError(f"scenario name {name!r} does not match {NAME_PATTERN}")
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._check_room(sum(r.scenario != name for r in self._rules) + len(rules))
            fresh = [
                replace(
                    r,
                    id=f"s-{name}-{n}",
                    scenario=name,
                    matched=0,
                    fired=0,
                    spent=False,
                    expires_at=None if r.ttl_seconds is None else now + r.ttl_seconds,
                )
                for n, r in enumerate(rules, start=1)
            ]
            self._rules = fresh + [r for r in self._rules if r.scenario != name]
            self._forget(lambda r: r.scenario == name)
            self._scenarios = [s for s in self._scenarios if s != name] + [name]
            self._recount()

    def deactivate(self, name: str) -> bool:
        with self._lock:
            was_active = name in self._scenarios
            self._rules = [r for r in self._rules if r.scenario != name]
            self._forget(lambda r: r.scenario == name)
            self._scenarios = [s for s in self._scenarios if s != name]
            self._recount()
            return was_active

    def active_scenarios(self) -> list[str]:
        """Active scenario names, oldest activation first."""
        with self._lock:
            return list(self._scenarios)

    def arrive(self, call: Call, weighing: Weighing | None = None) -> Decision | None:
        """A call has arrived: the first live `arrival` rule that matches it decides (delays,
        transport faults, answers asked for on arrival). None: no such rule acts.
        ``weighing``: the call's record, for its near misses."""
        return self._first(call, "arrival", weighing)

    def checked(self, call: Call, weighing: Weighing | None = None) -> Decision | None:
        """The call passed the vendor's own checks: the first live `checked` rule that matches
        it decides (errors and responds, by default)."""
        return self._first(call, "checked", weighing)

    @property
    def waits(self) -> bool:
        """Whether a live rule acts after the vendor's checks (the request path then keeps
        the call for :meth:`checked`)."""
        return self._live_checked > 0

    def decide(self, call: Call) -> Decision | None:
        """The outcome of both stages for a call that passes every check: the arrival
        decision when it answers or breaks the call, else the checked one (or the arrival
        decision, a delay that lets the call through)."""
        first = self.arrive(call)
        if first is not None and not first.passes_through:
            return first
        return self.checked(call) or first

    def _first(self, call: Call, stage: str, weighing: Weighing | None = None) -> Decision | None:
        """First match wins, among the rules of one stage. A rule that matches but draws "not
        this time" lets the next rule match (REQUIREMENTS 5.13); one still letting its first
        `after` matches pass decides that they pass untouched."""
        if weighing is not None:
            weighing.stages.add(stage)
        if not self._live:  # hot path: no rules, no lock
            return None
        with self._lock:
            self._expire(self._clock())
            for rule in self._rules:
                if rule.spent or rule.stage != stage or not rule.match.matches(call):
                    continue
                outcome = self._apply(rule)
                if weighing is not None:
                    weighing.outcomes[id(rule)] = (
                        "declined"
                        if outcome is _DECLINED
                        else "after"
                        if outcome is None
                        else "acted",
                        rule.matched,
                    )
                if outcome is not _DECLINED:
                    return outcome  # type: ignore[return-value]
            return None

    def _apply(self, rule: FaultRule) -> Decision | object | None:
        rule.matched += 1
        if rule.matched <= rule.after:
            return None
        # Draw only for real probabilities, so adding a p=1 rule leaves seeded sequences alone.
        if rule.probability < 1 and self._rng.random() >= rule.probability:
            return _DECLINED
        rule.fired += 1
        if rule.times is not None and rule.fired >= rule.times:
            rule.spent = True  # stays listed, with its counters, until removed or cleared
            self._recount()
        return Decision(
            rule_id=rule.id or "",
            delay_ms=self._delay(rule),
            error=rule.error,
            respond=copy.deepcopy(rule.respond),
            fault=rule.fault,
            scenario=rule.scenario,
        )

    def _delay(self, rule: FaultRule) -> float:
        if rule.delay_ms is not None:
            return float(rule.delay_ms)
        if rule.delay is None:
            return 0.0
        if "uniform" in rule.delay:
            low, high = rule.delay["uniform"]
            return self._rng.uniform(low, high)
        spec = rule.delay["lognormal"]
        return float(
            min(spec["median"] * math.exp(spec["sigma"] * self._rng.gauss(0.0, 1.0)), spec["maxMs"])
        )

    def _expire(self, now: float) -> None:
        if any(r.expires_at is not None and now >= r.expires_at for r in self._rules):
            self._expired.extend(
                r for r in self._rules if r.expires_at is not None and now >= r.expires_at
            )
            self._rules = [r for r in self._rules if r.expires_at is None or now < r.expires_at]
            self._recount()

    def _check_room(self, wanted: int) -> None:
        if self.max_rules and wanted > self.max_rules:
            raise TooManyRules(
                f"would hold {wanted} fault rules, over its cap of {self.max_rules} "
                f"(--max-rules): remove some first"
            )

    def _forget(self, gone: Callable[[FaultRule], bool]) -> None:
        """Expired rules that were removed (or replaced) are no longer named as near misses."""
        kept = [r for r in self._expired if not gone(r)]
        if len(kept) < len(self._expired):
            self._expired = deque(kept, maxlen=EXPIRED_KEPT)


_DECLINED = object()  # a rule matched but its draw said "not this time": the next one may match


@dataclass
class Scenario:
    """A named, described list of rules from fixtures/scenarios/<name>.yaml (parsed on activation)."""

    name: str
    description: str
    rules: list[dict[str, Any]]

    def parse_rules(self, *, known_errors: Container[str], where: str = "") -> list[FaultRule]:
        prefix = where or f"scenario {self.name}: "
        return [
            FaultRule.parse(r, known_errors=known_errors, where=_location(prefix, ["rules", i]))
            for i, r in enumerate(self.rules)
        ]


def load_scenario_file(path: Path, *, known_errors: Container[str]) -> Scenario:
    """Read and fully validate one scenario file; errors name the file and the field."""
    where = f"{path}: "
    try:
        data = read_yaml(path)
    except yaml.YAMLError as exc:
        raise RuleError(f"{path}: not valid YAML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise RuleError(f"{path}: not UTF-8 text: {exc}") from exc
    _validate(_SCENARIO_VALIDATOR, data, where)
    if data["name"] != path.stem:
        raise _fail(where, ["name"], f"{data['name']!r} must equal the file name {path.stem!r}")
    scenario = Scenario(name=data["name"], description=data["description"], rules=data["rules"])
    scenario.parse_rules(known_errors=known_errors, where=where)
    return scenario


def load_scenarios(directory: Path, *, known_errors: Container[str]) -> dict[str, Scenario]:
    """Every *.yaml / *.yml scenario in a folder by name ({} when the folder does not exist)."""
    if not directory.is_dir():
        return {}
    scenarios: dict[str, Scenario] = {}
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        scenario = load_scenario_file(path, known_errors=known_errors)
        if scenario.name in scenarios:
            raise RuleError(
                f"{path}: name: scenario {scenario.name!r} is defined twice in {directory}"
            )
        scenarios[scenario.name] = scenario
    return scenarios


# --- near misses -------------------------------------------------------------------------

# Why a rule did not act on a call, in the order they are looked for: what it matches first,
# then its counters and its stage. `shadowed`: it matched, but an earlier rule of its stage
# decided first.
REASONS = (
    "api",
    "operation",
    "pathParams",
    "headerMissing",
    "headerDiffers",
    "body",
    "spent",
    "expired",
    "after",
    "probability",
    "stage",
    "shadowed",
)


def _miss(reason: str, detail: str, **more: Any) -> dict[str, Any]:
    return {"reason": reason, "detail": detail, **more}


def _actual(value: Any) -> dict[str, Any]:
    """A call's scalar value as it was, for `actual`; objects and arrays only in words."""
    return {} if isinstance(value, (dict, list)) else {"actual": value}


def _body_misses(pattern: Any, value: Any, path: str, out: list[dict[str, Any]]) -> None:
    where = path or "(top level)"
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            got = "no JSON body" if value is None else f"{type(value).__name__} {_echo(value)}"
            out.append(
                _miss(
                    "body",
                    f"body {where}: the rule expects an object, the call has {got}",
                    path=where,
                )
            )
            return
        for key, expected in pattern.items():
            sub = f"{path}.{key}" if path else key
            if key not in value:
                out.append(
                    _miss(
                        "body",
                        f"body {sub}: missing (the rule expects {_echo(expected)})",
                        path=sub,
                        expected=expected,
                    )
                )
            else:
                _body_misses(expected, value[key], sub, out)
    elif not _json_equal(pattern, value):
        out.append(
            _miss(
                "body",
                f"body {where}: the rule expects {_echo(pattern)}, the call has {_echo(value)}",
                path=where,
                expected=pattern,
                **_actual(value),
            )
        )


def mismatches(match: Match, call: Call) -> list[dict[str, Any]]:
    """Every way a rule's match differs from a call, in the order of :data:`REASONS`."""
    out: list[dict[str, Any]] = []
    if match.api is not None and call.api != match.api:
        out.append(
            _miss(
                "api",
                f"the rule is for the {match.api} API, the call went to {call.api}",
                expected=match.api,
                actual=call.api,
            )
        )
    if match.operation is not None and call.operation != match.operation:
        out.append(
            _miss(
                "operation",
                f"the rule is for {match.operation}, the call was {call.operation}",
                expected=match.operation,
                actual=call.operation,
            )
        )
    elif match.documented_on is not None and call.operation not in match.documented_on:
        out.append(
            _miss(
                "operation",
                f"the rule's error is documented only for "
                f"{', '.join(sorted(match.documented_on))}, the call was "
                f"{call.operation}",
                actual=call.operation,
            )
        )
    for key, expected in match.path_params.items():
        if str(call.path_params.get(key)) != expected:
            out.append(
                _miss(
                    "pathParams",
                    f"path parameter {key}: the rule expects "
                    f"{_echo(expected)}, the call has "
                    f"{_echo(call.path_params.get(key))}",
                    path=key,
                    expected=expected,
                    actual=call.path_params.get(key),
                )
            )
    for name, expected in match.headers.items():
        got = call.headers.get(name.lower())
        if got is None:
            out.append(
                _miss(
                    "headerMissing",
                    f"header {name}: missing (the rule expects {_echo(expected)})",
                    path=name,
                    expected=expected,
                )
            )
        elif got != expected:
            out.append(
                _miss(
                    "headerDiffers",
                    f"header {name}: the rule expects {_echo(expected)}, the call has {_echo(got)}",
                    path=name,
                    expected=expected,
                    actual=got,
                )
            )
    if match.body is not None:
        _body_misses(match.body, call.body, "", out)
    return out


def near_misses(weighing: Weighing | None, call: Call) -> list[dict[str, Any]]:
    """For each rule listed when the call arrived (and each expired one) that did not act on
    it, the first reason why, closest rules first: a rule that matched and was held back by
    its counters or its stage before one that differs in one field, before one that differs
    in two. Each item: ``rule`` (its JSON with today's counters), ``reason`` (one of
    :data:`REASONS`), ``detail`` (in words), ``distance`` (how many ways its match differs
    from the call), and ``path``/``expected``/``actual`` where a field differs."""
    if weighing is None:
        return []
    found: list[tuple[int, int, dict[str, Any]]] = []
    listed = {id(rule) for rule in weighing.rules}
    rules = [*weighing.rules, *(r for r in weighing.expired if id(r) not in listed)]
    deciders = {
        rule.stage: rule.id
        for rule in weighing.rules
        if weighing.outcomes.get(id(rule), ("",))[0] in ("acted", "after")
    }
    for order, rule in enumerate(rules):
        outcome, matched = weighing.outcomes.get(id(rule), ("", 0))
        if outcome == "acted":
            continue
        if call.operation is None:
            misses = [
                _miss(
                    "operation",
                    f"the call matched no operation of the {call.api} spec "
                    "(rules act on vendor operations only)",
                )
            ]
        else:
            misses = mismatches(rule.match, call)
        if misses:
            item = misses[0]
        elif id(rule) in weighing.spent:
            item = _miss("spent", f"spent: it fired its {rule.times} time(s) before this call")
        elif id(rule) not in listed:
            item = _miss("expired", f"expired: its ttlSeconds ({rule.ttl_seconds}) had run out")
        elif outcome == "after":
            item = _miss(
                "after",
                f"after not reached: this was match {matched} of the {rule.after} it lets through",
            )
        elif outcome == "declined":
            item = _miss("probability", f"probability {rule.probability}: the draw said no")
        elif rule.stage not in weighing.stages:
            item = _miss(
                "stage",
                f"it acts at stage {rule.stage}, which the call never reached "
                "(it was answered before the vendor's checks passed)",
            )
        else:
            first = deciders.get(rule.stage)
            item = _miss(
                "shadowed",
                f"an earlier rule of stage {rule.stage} decided first"
                + (f" ({first})" if first else ""),
            )
        found.append(
            (len(misses), order, {"rule": rule.to_dict(), **item, "distance": len(misses)})
        )
    return [item for _, _, item in sorted(found, key=lambda entry: entry[:2])]
