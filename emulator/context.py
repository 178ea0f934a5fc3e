"""One call as the layers see it: what the client sent (``Request``, one immutable record that
``EmulatorApp`` makes), where routing sent it (``Route``), what it came to (``Outcome``: read
by ``EmulatorApp`` for the journal and the access log), and what a handler gets
(``RequestContext``: the call's facts and the services a handler calls)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from emulator.errors import EmulatedError, ErrorShape, RequestInvalid
from emulator.state import writes_refused

if TYPE_CHECKING:
    from emulator.engine import Acted, Weighing
    from emulator.reply import Reply
    from emulator.runtime import Namespace
    from emulator.state import Store
    from emulator.webhooks.envelope import Event

# The ASGI scope keys of a call's Request and Outcome (no server objects: the transport
# layer gets those from the scope under keys of its own).
REQUEST = "emulator.request"
OUTCOME = "emulator.outcome"


@dataclass(frozen=True, slots=True)
class Request:
    """What the client sent, read once by ``EmulatorApp``: no layer changes it."""

    method: str
    path: str
    query_string: bytes
    query: Mapping[str, str]  # its parameters, the last value of each name
    headers: Mapping[str, str]  # names lower-cased
    raw_body: bytes  # the whole body (b"" also when it was over its cap: refused unread)
    body: Any  # the JSON body, parsed once (None: no body, not JSON, or not parsed)
    parsed: bool  # whether ``body`` is ``raw_body`` parsed (JSON's null is a body too)
    too_deep: (
        RequestInvalid | None
    )  # a JSON body nested deeper than its bound: refused, once routed
    namespace: str  # the namespace it names (X-Emulator-Namespace, checked), or "default"
    api: str | None  # the API its path belongs to (None: no API)


@dataclass(frozen=True, slots=True)
class Route:
    """Where Connexion's routing sent a call, and what the spec's checks made of it
    (``connexion_seam.ValidationOperation``)."""

    operation: str
    path_params: dict[str, str]
    failure: RequestInvalid | None  # the first way the call fails its spec
    form: dict[str, str] | None  # a form body's fields, as the checks read them


@dataclass(slots=True)
class Outcome:
    """What a call came to, written as it happens, each field by one layer."""

    at: float  # arrival, epoch seconds (the journal's `at`, the access log's time)
    began: float  # arrival on the runtime's clock (durations)
    route: Route | None = None  # connexion_seam (None: routed nowhere)
    namespace: Namespace | None = (
        None  # the Dispatcher: a call that reaches no operation makes none
    )
    weighing: Weighing | None = None  # how the namespace's rules were weighed (near misses)
    acted: Acted | None = None  # transport: the rule that acted, a pure delay included
    rule: str | None = None  # transport: the rule that answered or broke the call
    fault: str | None = None  # transport: the transport fault injected
    reply: Reply | None = None  # the Dispatcher: the handler's answer, for EmulatorApp to send
    events: list[Event] | None = None  # the Dispatcher: the handler's webhook events

    def use(self, namespace: Namespace) -> Namespace:
        """The call works in ``namespace``: counted as under way there until :meth:`release`
        (a dropped namespace is freed once none is left; the least recently used idle one
        makes room for a new one)."""
        self.namespace = namespace
        namespace.in_flight += 1
        namespace.used = time.monotonic()
        return namespace

    def release(self) -> None:
        if self.namespace is not None:
            self.namespace.in_flight -= 1


def request_of(scope: MutableMapping[str, Any]) -> Request:
    """The Request the emulator put in a call's ASGI scope."""
    request: Request = scope[REQUEST]
    return request


def outcome_of(scope: MutableMapping[str, Any]) -> Outcome:
    """The Outcome the emulator put in a call's ASGI scope."""
    outcome: Outcome = scope[OUTCOME]
    return outcome


class RequestContext:
    """What a handler (``async def op(ctx) -> Reply``) gets: the call's facts (``headers``,
    ``query``, ``body``: a form's fields or the JSON body; ``path_params``; ``request`` for the
    rest), the spec's schema errors its API left to it (``deferred``, to report in the vendor's
    check order), its ``namespace`` (``store``, ``config``) and :meth:`checked`. The Dispatcher
    makes one for the handler it calls."""

    __slots__ = (
        "_at_checks",
        "_shape",
        "body",
        "deferred",
        "events",
        "namespace",
        "passed_checks",
        "path_params",
        "request",
    )

    def __init__(
        self,
        request: Request,
        route: Route,
        namespace: Namespace,
        shape: ErrorShape,
        deferred: list[Any],
        at_checks: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``at_checks``: the fault rules that wait for the vendor's checks, if any."""
        self.request = request
        self.path_params = route.path_params
        self.body: Any = request.body if route.form is None else route.form
        self.namespace = namespace
        self.deferred = deferred
        self._shape = shape
        self._at_checks = at_checks
        self.passed_checks = False  # checked() was reached
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        """A webhook event of this call's writes: published once they are committed (a call
        answered with an error sends none), delivered after the answer, never before."""
        self.events.append(event)

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def store(self) -> Store:
        return self.namespace.store

    def config(self, vendor: str) -> dict[str, Any]:
        config: dict[str, Any] = self.namespace.config[vendor]
        return config

    async def checked(self) -> bool:
        """The handler's word that the call passed the vendor's own token, body and session
        checks (docs/decisions.md#11), before any business rule or write. What the spec
        refuses and the handler has not reported yet is refused here, so no request the spec
        refuses reaches a write (until then, with schema errors left, the store refuses
        writes and the Dispatcher the answer of a handler that never came here); then a fault
        rule waiting for this point acts (it may raise, or answer and raise
        :class:`~emulator.errors.Answered`).

        True when such rules were weighed here: they may have waited (a delay), so what the
        handler read of the state before may be stale and is read again."""
        self.passed_checks = True
        if self.deferred:
            error = self._shape.unreported(self.deferred)
            if error is not None:
                raise EmulatedError(error)
            writes_refused.set(None)  # the handler has judged what is left: it may write
        hook = self._at_checks
        if hook is None:
            return False
        self._at_checks = None
        await hook()
        return True


Handler = Callable[[RequestContext], Awaitable["Reply"]]
