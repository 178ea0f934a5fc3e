"""Namespaces (isolated state, config, fault rules and journal, seeded from fixtures) and the
per-request context."""

from __future__ import annotations

import copy
import dataclasses
import datetime
import logging
import re
import string
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema
import orjson
import yaml

from emulator import specs
from emulator.clock import Clock
from emulator.engine import MAX_RULES, Acted, Engine, Weighing
from emulator.errors import (
    Catalogue,
    EmulatedError,
    ErrorShape,
    RequestInvalid,
    VendorError,
)
from emulator.jsonyaml import MAX_NESTING, json_path, nested_too_deep, non_finite, read_yaml
from emulator.matching import Call
from emulator.persistence import DataFileError, Persistence
from emulator.rules import Contract, RuleError
from emulator.scenarios import Scenario, load_scenarios
from emulator.state import StateError, StateSchema, Store, writes_refused
from emulator.validation import parse_urlencoded

if TYPE_CHECKING:
    from emulator.vendors.base import Vendor

log = logging.getLogger("emulator")

DEFAULT_NAMESPACE = "default"
NAMESPACE_HEADER = "x-emulator-namespace"
NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
JOURNAL_SIZE = 1000  # vendor calls kept per namespace, oldest dropped first
JOURNAL_BYTES = 2 * 1024 * 1024  # what a namespace's journal may hold in all, oldest dropped first
JOURNAL_BODY_BYTES = (
    64 * 1024
)  # of a request or response body, the journal keeps this much (and its size)
MAX_NAMESPACES = 1000  # namespaces kept at once; the least recently used idle one makes room
HOLD_SECONDS = 300.0  # the `timeout` fault holds a connection at most this long


class FixtureError(ValueError):
    """A fixture file does not match its schema; the message names the file and the field."""


def body_kept(raw: bytes, limit: int = JOURNAL_BODY_BYTES) -> bytes:
    """What the journal keeps of a request body: the whole of it up to ``limit`` bytes, else
    its first ``limit`` bytes (the entry says the whole body's size beside it)."""
    return raw if len(raw) <= limit else raw[:limit]


# What an entry costs beyond the bytes it holds (the objects around them), roughly.
_ENTRY_COST = 512
_HEADER_COST = 112


def _headers_weight(headers: Any) -> int:
    """(name, value) pairs, of str or of bytes."""
    return len(headers) * _HEADER_COST + sum(map(len, chain.from_iterable(headers)))


class Response:
    """What the client received: status, headers and the body's first bytes (the whole body
    up to ``JOURNAL_BODY_BYTES``, as a request's; ``size`` is always the whole body's length).
    Built from what went out on the wire: the headers are decoded only when read."""

    __slots__ = ("_headers", "_raw_headers", "raw_body", "size", "status")

    def __init__(
        self,
        status: int,
        raw_headers: Any = (),
        body: list[bytes] | None = None,
        limit: int = JOURNAL_BODY_BYTES,
    ) -> None:
        self.status = status
        self._raw_headers = raw_headers  # the ASGI (name, value) byte pairs
        self._headers: dict[str, str] | None = None
        chunks = body or []
        self.size = sum(map(len, chunks))
        raw = b"".join(chunks)  # one chunk: that very bytes object, not a copy
        self.raw_body = raw if len(raw) <= limit else raw[:limit]

    @property
    def headers(self) -> dict[str, str]:
        """Names lower-cased, a repeated header's values joined with ', '."""
        if self._headers is None:
            out: dict[str, str] = {}
            for name, value in self._raw_headers:
                key, text = name.decode("latin-1").lower(), value.decode("latin-1")
                out[key] = f"{out[key]}, {text}" if key in out else text
            self._headers = out
        return self._headers

    @property
    def truncated(self) -> bool:
        return self.size > len(self.raw_body)

    def weight(self) -> int:
        """Bytes kept, roughly (the journal's byte budget counts them)."""
        return len(self.raw_body) + _headers_weight(self._raw_headers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "headers": self.headers,
            "body": decoded(self.raw_body, self.headers, self.truncated),
            "size": self.size,
            "truncated": self.truncated,
        }


def decoded(raw: bytes, headers: Mapping[str, str], truncated: bool = False) -> Any:
    """A body as the journal shows it: JSON as JSON, when whole and nested no deeper than a
    call may be (it is written back out as JSON: orjson writes 255 levels at most); anything
    else (a form, broken, cut or too deeply nested JSON) as text; None when empty."""
    if not raw:
        return None
    if not truncated and "json" in headers.get("content-type", "application/json").lower():
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            if raw.count(b"[") + raw.count(b"{") <= MAX_NESTING or nested_too_deep(value) is None:
                return value
    return raw.decode("utf-8", errors="replace")


@dataclass(slots=True)
class JournalEntry:
    """One vendor call as the journal keeps it; bodies are decoded only when listed.

    ``raw_body`` is what :func:`body_kept` keeps of the request body and ``body_size`` the whole
    body's length. :meth:`weight` is what the entry counts against its journal's byte budget:
    every field that keeps bytes (the request, the response) adds them there."""

    at: float
    api: str
    operation: str | None
    method: str
    path: str
    query: str
    headers: dict[str, str]
    raw_body: bytes
    status: int | None  # None: a transport fault, no HTTP status reached the client
    rule: str | None  # the id of the fault rule that answered or broke the call
    fault: str | None  # the transport fault injected, if any
    response: Response | None = None  # None: no response ever started
    duration_ms: float = 0.0
    acted: Acted | None = None  # the rule that acted (a pure delay included)
    path_params: dict[str, str] = field(default_factory=dict)
    weighing: Weighing | None = None  # how the rules were weighed (near misses)
    id: int = 0  # given by the journal: 1, 2, ... in the namespace
    body_size: int = -1  # the whole request body's length (-1: len(raw_body), nothing cut)
    cost: int = 0  # its weight when recorded (what its journal counts for it)

    def __post_init__(self) -> None:
        if self.body_size < 0:
            self.body_size = len(self.raw_body)

    @property
    def body_truncated(self) -> bool:
        return self.body_size > len(self.raw_body)

    def weight(self) -> int:
        """Bytes this entry holds, roughly: its bodies, headers, path and query, plus the
        objects around them."""
        weight = (
            _ENTRY_COST
            + len(self.raw_body)
            + len(self.path)
            + len(self.query)
            + _headers_weight(self.headers.items())
        )
        if self.response is not None:
            weight += self.response.weight()
        return weight

    def to_dict(self) -> dict[str, Any]:
        at = _utc(self.at)
        return {
            "id": self.id,
            "api": self.api,
            "operation": self.operation,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.headers,
            "body": self.body(),
            "bodySize": self.body_size,
            "bodyTruncated": self.body_truncated,
            "status": self.status,
            "rule": self.rule,
            "fault": self.fault,
            "at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "durationMs": self.duration_ms,
            "response": None if self.response is None else self.response.to_dict(),
            "actedBy": None if self.acted is None else self.acted.to_dict(),
        }

    def body(self) -> Any:
        """JSON as JSON; anything else (a form, broken, cut or too deep JSON) as text; None
        when empty."""
        return decoded(self.raw_body, self.headers, self.body_truncated)

    def call(self) -> Call:
        """The call as the fault engine saw it (its JSON body, None when it had none)."""
        body = None
        if self.raw_body and "json" in self.headers.get("content-type", "application/json").lower():
            try:
                body = orjson.loads(self.raw_body)
            except orjson.JSONDecodeError:
                pass
        return Call(self.api, self.operation, self.path_params, self.headers, body)

    def mentions(self, text: bytes) -> bool:
        """Whether the request or the response body holds these bytes."""
        return text in self.raw_body or (
            self.response is not None and text in self.response.raw_body
        )


def _utc(at: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(at, datetime.UTC)


def at_ms(at: float) -> int:
    """An arrival time in whole milliseconds since the epoch, as the journal shows it (`at`)."""
    when = _utc(at)
    return int(when.replace(microsecond=0).timestamp()) * 1000 + when.microsecond // 1000


class Journal:
    """The vendor calls of one namespace, oldest first, bounded by count and by bytes: the
    oldest fall off when there are ``size`` entries, or when their weights add up to more than
    ``budget`` (the newest entry is always kept). Each entry gets the next id (1, 2, ...);
    ids are not reused when the journal is cleared."""

    def __init__(self, size: int = JOURNAL_SIZE, budget: int = JOURNAL_BYTES) -> None:
        self._entries: deque[JournalEntry] = deque()
        self.size = size
        self.budget = budget
        self.weight = 0  # of the entries kept
        self.last_id = 0

    def record(self, entry: JournalEntry) -> None:
        self.last_id += 1
        entry.id = self.last_id
        self._entries.append(entry)
        entry.cost = entry.weight()
        self.weight += entry.cost
        while len(self._entries) > self.size or (
            self.weight > self.budget and len(self._entries) > 1
        ):
            self.weight -= self._entries.popleft().cost

    def entries(
        self,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        *,
        path: str | None = None,
        body: str | None = None,
        rule: str | None = None,
        since: int | None = None,
        until: int | None = None,
        after: int | None = None,
    ) -> list[JournalEntry]:
        """The entries that pass every filter given: ``path`` and ``body`` are substrings (of
        the path; of the request or response body), ``rule`` the id of the rule that acted,
        ``since``/``until`` a window of arrival times (epoch milliseconds, inclusive, as
        ``at`` shows them), ``after``
        an entry id (only newer entries); ``limit`` keeps the most recent ones."""
        needle = None if body is None else body.encode("utf-8")
        found = [
            e
            for e in list(self._entries)
            if (api is None or e.api == api)
            and (operation is None or e.operation == operation)
            and (status is None or e.status == status)
            and (after is None or e.id > after)
            and (path is None or path in e.path)
            and (rule is None or (e.acted is not None and e.acted.id == rule))
            and (since is None or at_ms(e.at) >= since)
            and (until is None or at_ms(e.at) <= until)
            and (needle is None or e.mentions(needle))
        ]
        return found[-limit:] if limit else found

    def get(self, entry_id: int) -> JournalEntry | None:
        for entry in reversed(self._entries):
            if entry.id == entry_id:
                return entry
        return None

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self.weight = 0


@dataclass
class Namespace:
    """Everything one test (or one team) sees: state, configuration, fault rules, journal."""

    name: str
    store: Store
    config: dict[str, Any]
    faults: Engine = field(default_factory=Engine)
    journal: Journal = field(default_factory=Journal)
    in_flight: int = 0  # calls under way (a dropped namespace is freed once none is left)
    used: float = 0.0  # time.monotonic() of its latest call (the least recently used makes room)


CONTEXT = "emulator"  # the ASGI scope key of a call's RequestContext


def context_of(scope: Any) -> RequestContext:
    """The RequestContext the emulator put in a call's ASGI scope."""
    return scope[CONTEXT]


@dataclass(slots=True)  # one per call: slots make it cheaper to build and to read
class RequestContext:
    """What the emulator knows about one call as it travels through the stack: data about
    the call only (no server objects: the transport layer gets those from the scope)."""

    namespace_name: str
    api: str | None
    method: str
    path: str
    headers: dict[str, str]
    shape: ErrorShape  # how the call's API words a refusal
    query_string: bytes = b""
    raw_body: bytes = b""
    body: Any = None
    body_parsed: bool = False
    operation: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    # The spec's schema errors the API left to the handler (ErrorShape.invalid_request), to
    # report in the vendor's check order; what is left of them is refused at checked().
    deferred: list[Any] = field(default_factory=list)
    spec_failure: RequestInvalid | None = None  # set by the spec checks; read by the Dispatcher
    runtime: Runtime | None = None
    vendor_call: bool = False  # journaled and subject to fault rules (control calls are not)
    rule: str | None = None  # the fault rule that answered or broke this call
    fault: str | None = None  # the transport fault injected into this call
    acted: Acted | None = None  # the rule that acted, a pure delay included
    weighing: Weighing | None = None  # how the namespace's rules were weighed (near misses)
    # Set when a fault rule waits for the vendor's checks (the `checked` stage).
    at_checks: Callable[[RequestContext], Awaitable[None]] | None = None
    passed_checks: bool = False  # checked() was reached
    _query: dict[str, str] | None = None
    bound: Namespace | None = None  # the namespace, once the call has used it
    refused: RequestInvalid | None = None  # a body nested too deep: its spec failure, once routed
    reply: Any = None  # the handler's Reply, which the Dispatcher leaves for EmulatorApp to send

    @property
    def namespace(self) -> Namespace:
        """The call's namespace, made on first use: a call that never reaches an operation
        (unrouted, refused before routing) makes none."""
        namespace = self.bound
        if namespace is None:
            assert self.runtime is not None
            namespace = self.bound = self.runtime.namespace(self.namespace_name)
            namespace.in_flight += 1
            namespace.used = time.monotonic()
        return namespace

    def release(self) -> None:
        """The call is over: its namespace may be freed or make room for another."""
        if self.bound is not None:
            self.bound.in_flight -= 1

    @property
    def store(self) -> Store:
        return self.namespace.store

    @property
    def query(self) -> dict[str, str]:
        """The query string's parameters (the last value of each name), parsed once."""
        if self._query is None:
            self._query = parse_urlencoded(self.query_string.decode("latin-1"))
        return self._query

    async def checked(self) -> bool:
        """The handler's word that the call passed the vendor's own token, body and session
        checks (REQUIREMENTS 5.11), before any business rule or write. What the spec refuses
        and the handler has not reported yet is refused here, so no request the spec refuses
        reaches a write (until then, with schema errors left, the store refuses writes and the
        Dispatcher the answer of a handler that never came here); then a fault rule waiting for this point acts (it
        may raise, or answer and raise :class:`~emulator.errors.Answered`).

        True when such rules were weighed here: they may have waited (a delay), so what the
        handler read of the state before may be stale and is read again."""
        self.passed_checks = True
        if self.deferred:
            error = self.shape.unreported(self.deferred)
            if error is not None:
                raise EmulatedError(error)
            writes_refused.set(None)  # the handler has judged what is left: it may write
        hook = self.at_checks
        if hook is None:
            return False
        self.at_checks = None
        await hook(self)
        return True

    def config(self, vendor: str) -> dict[str, Any]:
        return self.namespace.config[vendor]


def _field_path(error: jsonschema.ValidationError) -> str:
    return json_path(error.absolute_path) or "(top level)"


def load_fixture_file(path: Path, schema: dict[str, Any]) -> dict[str, Any]:
    """Read a YAML fixture safely and validate it, naming the file and field on error."""
    try:
        doc = read_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path}: not valid YAML: {exc}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(doc))
    if error is not None:
        raise FixtureError(f"{path}: {_field_path(error)}: {error.message}")
    where = non_finite(doc)
    if where is not None:
        raise FixtureError(
            f"{path}: {where or '(top level)'}: NaN and Infinity are not JSON numbers"
        )
    return doc


def documents(error: VendorError, status: int, example: Any) -> bool:
    """Whether a spec's example response is this error: its status, its keys, its values
    (a ``{placeholder}`` in the error's text stands for any text)."""
    if (
        status != error.status
        or not isinstance(example, dict)
        or example.keys() != error.body.keys()
    ):
        return False
    for key, value in error.body.items():
        if isinstance(value, str) and "{" in value:
            pattern = "".join(
                re.escape(literal) + (".+" if name is not None else "")
                for literal, name, _, _ in string.Formatter().parse(value)
            )
            if not isinstance(example[key], str) or not re.fullmatch(pattern, example[key], re.S):
                return False
        elif type(example[key]) is not type(value) or example[key] != value:
            return False
    return True


def contract_of(vendors: tuple[Vendor, ...]) -> Contract:
    """Each vendor's operations, and the operations whose spec documents each of its errors."""
    operations: dict[str, tuple[str, ...]] = {}
    documented: dict[str, frozenset[str]] = {}
    for vendor in vendors:
        examples = specs.response_examples(vendor.spec)
        operations[vendor.name] = tuple(examples)
        for name, error in vendor.errors.items():
            documented[f"{vendor.name}.{name}"] = frozenset(
                operation
                for operation, found in examples.items()
                if any(documents(error, status, body) for status, body in found)
            )
    return Contract(operations, documented)


class Runtime:
    """The namespaces of one server, their fixture seed, scenarios and the optional data file."""

    def __init__(
        self,
        vendors: tuple[Vendor, ...],
        fixtures_dir: Path,
        data_file: Path | None = None,
        *,
        journal_size: int = JOURNAL_SIZE,
        journal_bytes: int = JOURNAL_BYTES,
        max_namespaces: int = MAX_NAMESPACES,
        max_rules: int = MAX_RULES,
        hold_seconds: float = HOLD_SECONDS,
        clock: Clock | None = None,
        shipped: tuple[str, ...] = (),
        fsync: str = "batch",
    ) -> None:
        """``shipped``: the names of every vendor the emulator ships, which the shipped
        scenarios may name even where this server serves only some of them."""
        self.vendors = {vendor.name: vendor for vendor in vendors}
        self.fixtures_dir = fixtures_dir
        self.journal_size = journal_size
        self.journal_bytes = journal_bytes
        self.max_namespaces = 0  # no cap while the data file's namespaces are restored
        self.max_rules = max_rules  # fault rules each namespace holds at once (0: no cap)
        self.hold_seconds = hold_seconds
        self.clock = clock or Clock()  # delays, held calls, rule lifetimes, durations
        self.catalogue = Catalogue()
        self._schema: dict[str, Any] = {}
        documents: dict[str, Any] = {}
        self._seed_state: dict[str, Any] = {}
        self._seed_config: dict[str, Any] = {"seed": 0}
        seeds = []
        for vendor in vendors:
            self.catalogue.register(vendor.name, vendor.errors)
            self._schema.update(vendor.collections)
            documents.update(vendor.documents)
            path = fixtures_dir / f"{vendor.name}.yaml"
            doc = load_fixture_file(path, dict(vendor.fixture_schema)) if path.exists() else {}
            state, config = vendor.load_fixtures(doc)
            seeds.append((path, state))
            self._seed_state.update(state)
            self._seed_config[vendor.name] = config
        self.contract = contract_of(vendors)
        self.state_schema = StateSchema(self._schema, documents)
        for path, state in seeds:  # a seed is state as a snapshot is (e.g. YAML's 2**64)
            try:
                self.state_schema.check(state)
            except StateError as exc:
                raise FixtureError(f"{path}: {exc}") from None
        # Shipped scenarios of every vendor load wherever only some vendors are served; a
        # rule for a vendor this server lacks is refused when its scenario is activated.
        lenient = dataclasses.replace(self.contract, absent=frozenset(shipped) - set(self.vendors))
        try:
            self.scenarios: dict[str, Scenario] = load_scenarios(
                fixtures_dir / "scenarios", known_errors=lenient
            )
        except RuleError as exc:
            raise FixtureError(str(exc)) from None
        self._namespaces: dict[str, Namespace] = {}
        self._lock = threading.Lock()
        self.persistence: Persistence | None = None
        self.close_error: str | None = None  # why the data file's last write failed at exit
        if data_file is not None:
            self._load(Persistence(data_file, always=fsync == "always"))
        self.max_namespaces = max_namespaces

    def _load(self, persistence: Persistence) -> None:
        """The data file's namespaces (each checked by the state schema), then every write
        into it from here on."""
        try:
            saved = persistence.load(self.state_schema, NAMESPACE_PATTERN, self._seed_state)
            for name, state in saved.items():
                self.namespace(name).store.restore(state, copied=True)
            persistence.start()
        except DataFileError as exc:
            raise FixtureError(str(exc)) from None
        self.persistence = persistence
        for name, namespace in self._namespaces.items():
            namespace.store.changes = persistence.recorder(name)

    def namespace(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        """The namespace of that name, made from the fixture seed if there is none. When
        there are ``max_namespaces`` already, the least recently used one with no call under
        way (never ``default``) is dropped first, as a reset would (0: no cap)."""
        namespace = self._namespaces.get(name)
        if namespace is None:
            with self._lock:
                namespace = self._namespaces.get(name)
                if namespace is None:
                    if self.max_namespaces and len(self._namespaces) >= self.max_namespaces:
                        self._make_room()
                    schema = self.state_schema
                    store = Store(self._schema, kept=schema.kept, counters=schema.counters)
                    store.restore(self._seed_state)
                    if self.persistence is not None:
                        self.persistence.made(name, store.live)  # NotPersisted: none is made
                        store.changes = self.persistence.recorder(name)
                    config = copy.deepcopy(self._seed_config)
                    engine = Engine(
                        seed=config["seed"], clock=self.clock.now, max_rules=self.max_rules
                    )
                    namespace = Namespace(
                        name,
                        store,
                        config,
                        engine,
                        Journal(self.journal_size, self.journal_bytes),
                        used=time.monotonic(),
                    )
                    self._namespaces[name] = namespace
        return namespace

    def existing(self, name: str) -> Namespace | None:
        """The namespace of that name if a call has made it (none is made here)."""
        return self._namespaces.get(name)

    def _make_room(self) -> None:
        idle = [
            ns
            for ns in self._namespaces.values()
            if not ns.in_flight and ns.name != DEFAULT_NAMESPACE
        ]
        if not idle:  # every one has a call under way: the cap gives way until they end
            return
        oldest = min(idle, key=lambda ns: ns.used)
        self._forget(oldest)
        del self._namespaces[oldest.name]
        log.warning(
            "namespace %r dropped to make room (--max-namespaces %d): it was the least "
            "recently used",
            oldest.name,
            self.max_namespaces,
        )

    def reset(self, name: str) -> Namespace | None:
        """The namespace back to its fixture seed: state, configuration, seed, rules, active
        scenarios and journal. It is dropped and made afresh on its next call, so the
        per-test namespaces of a long session do not pile up on the server. Returns the
        dropped namespace (None if it did not exist), for the caller to free at its pace."""
        with self._lock:
            dropped = self._namespaces.get(name)
            if dropped is not None:
                self._forget(dropped)
                del self._namespaces[name]
        return dropped

    def _forget(self, dropped: Namespace) -> None:
        """A namespace about to be dropped (reset, or evicted to make room) leaves the data
        file first (:class:`~emulator.persistence.NotPersisted`: it stays)."""
        if self.persistence is not None:
            self.persistence.dropped(dropped.name)
            # A call still under way in the dropped namespace writes nowhere the file sees.
            dropped.store.changes = None

    def namespaces(self) -> list[Namespace]:
        """The namespaces in use (made by a call since they were last reset), by name."""
        with self._lock:
            return sorted(self._namespaces.values(), key=lambda namespace: namespace.name)

    @property
    def collections(self) -> list[str]:
        return list(self._schema)

    def check_state(self, data: Any) -> bytes:
        """``data`` as JSON when it is state the handlers can use (the state schema, the same
        one the data file is read with); else ValueError naming the path."""
        return self.state_schema.check(data)

    @property
    def persistence_status(self) -> str | None:
        """None without a data file; else ``ok`` or ``failing: <reason>``."""
        return None if self.persistence is None else self.persistence.status

    def close(self) -> None:
        """The data file's last fsync; why it failed goes to ``close_error``."""
        if self.persistence is not None:
            self.close_error = self.persistence.close()
