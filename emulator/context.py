"""The per-request context."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from emulator.errors import EmulatedError, ErrorShape, RequestInvalid
from emulator.faults import Acted, Weighing
from emulator.runtime import Namespace, Runtime
from emulator.state import Store, writes_refused
from emulator.validation import parse_urlencoded

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
