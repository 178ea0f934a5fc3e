"""The innermost app: a routed call's namespace, its fault rules, the spec's verdict, then its
handler, whose reply is left on the call's outcome for ``EmulatorApp`` to send; with a data
file, the call's writes committed (or undone) once the handler is done."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from emulator.api import API
from emulator.context import (
    Handler,
    Outcome,
    Request,
    RequestContext,
    Route,
    outcome_of,
    request_of,
)
from emulator.engine import Engine, Weighing
from emulator.errors import Answered, EmulatedError, ErrorShape, RequestInvalid, VendorError
from emulator.jsonschema_seam import unlink
from emulator.matching import Call
from emulator.persistence import NotPersisted
from emulator.reply import Reply
from emulator.runtime import Runtime
from emulator.state import writes_refused
from emulator.transport import SERVER_SEND, carry_out


def verdict(shape: ErrorShape, failure: RequestInvalid) -> VendorError | None:
    """The one place a spec failure becomes its API's error: that error, or None when the API
    leaves the failure's schema errors to the handler (a failure without any, such as a bad
    parameter or JSON that does not parse, is never left)."""
    error = shape.invalid_request(failure)
    if error is None and failure.errors:
        return None
    unlink(failure.errors)
    return error or shape.internal_error


class Dispatcher:
    """(api, operationId) -> handler; the one place fault rules are decided; and the one place
    a call's spec failure becomes its API's error.

    The namespace's `arrival` rules act first (delays, transport faults); the `checked` ones
    (error and respond rules, by default) are weighed when the handler declares the vendor's
    own checks passed (``await ctx.checked()``), so a call without a token still gets its 401.
    A spec failure the API words at once (``invalid_request``) is answered; one whose schema
    errors it leaves to the handler (``ctx.deferred``) is reported there in the vendor's
    check order; what it has not reported is refused at ``ctx.checked()``; until the handler
    gets there it may not write (``state.writes_refused``), and the answer of a handler that
    never got there is refused here. Unrouted paths become the API's 404.

    With a data file, the call's writes are committed once the handler has answered (and,
    with ``--fsync always``, fsynced before the answer goes); a handler that raises, or writes
    the file cannot take, leaves nothing written (the latter answers the API's 500)."""

    def __init__(self, apis: Iterable[API], runtime: Runtime) -> None:
        self.runtime = runtime
        self.apis = {api.name: api for api in apis}
        self.handlers = {
            (api.name, operation): handler
            for api in self.apis.values()
            for operation, handler in api.handlers.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request, outcome = request_of(scope), outcome_of(scope)
        api = self.apis.get(request.api) if request.api is not None else None
        route = outcome.route
        handler = self.handlers.get((api.name, route.operation)) if api and route else None
        if api is None or route is None or handler is None:
            self._unrouted(request, outcome, api)
            raise HTTPException(404)
        persistence = self.runtime.persistence
        commits = persistence.commits if persistence is not None else 0
        try:
            outcome.reply = await self._dispatch(
                request, route, outcome, api, handler, scope, receive, send
            )
            if persistence is not None:
                persistence.commit()  # no await since the handler's writes: they alone
                if persistence.always and persistence.commits != commits:
                    await persistence.durable(persistence.commits)
            if outcome.events and outcome.namespace is not None:
                outcome.namespace.webhooks.publish(outcome.events)  # queued: sent after the answer
        except BaseException as exc:
            if persistence is not None:
                persistence.rollback()
            if isinstance(exc, EmulatedError):  # the vendor's own refusal: answered from here,
                outcome.reply = Reply.of(exc.error)  # not raised up through Connexion's layers
            elif isinstance(exc, NotPersisted):
                outcome.reply = Reply.of(api.shape.internal_error)
            else:
                raise

    def _unrouted(self, request: Request, outcome: Outcome, api: API | None) -> None:
        """A call that reaches no operation makes no namespace; in one that exists, each of
        its rules is a near miss."""
        namespace = self.runtime.existing(request.namespace)
        if api is not None and api.vendor and namespace is not None and namespace.faults.listed:
            outcome.weighing = namespace.faults.weighing()

    async def _dispatch(
        self,
        request: Request,
        route: Route,
        outcome: Outcome,
        api: API,
        handler: Handler,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> Reply | None:
        """The fault rules, the spec's verdict, then the handler: its Reply (None when a
        fault rule answered)."""
        namespace = outcome.use(self.runtime.namespace(request.namespace))
        engine = namespace.faults
        at_checks = None
        # Rules act on vendor operations only. No rules: one attribute test, no Call built.
        if api.vendor and engine.active:
            call = Call(
                api.name,
                route.operation,
                route.path_params,
                dict(request.headers),
                request.body if request.parsed else None,
            )
            weighing = outcome.weighing = engine.weighing()  # the call's near misses
            decision = engine.arrive(call, weighing)
            server_send = scope[SERVER_SEND]
            wire = (receive, send, server_send)
            if decision is not None and await carry_out(decision, outcome, self.runtime, *wire):
                return None
            if engine.waits:
                at_checks = _AtChecks(engine, call, weighing, outcome, self.runtime, *wire)
        elif api.vendor and engine.listed:  # spent or expired rules are near misses too
            outcome.weighing = engine.weighing()
        deferred: list[Any] = []
        if route.failure is not None:
            error = verdict(api.shape, route.failure)
            if error is not None:
                raise EmulatedError(error)
            deferred = route.failure.errors
        try:
            ctx = RequestContext(request, route, namespace, api.shape, deferred, at_checks)
            reply = await self._handle(ctx, handler, api, route)
            if ctx.events:
                outcome.events = ctx.events
            return reply
        finally:
            unlink(deferred)  # (reported errors keep no links: no cyclic garbage)

    @staticmethod
    async def _handle(
        ctx: RequestContext, handler: Handler, api: API, route: Route
    ) -> Reply | None:
        """The handler's Reply (None: a fault rule answered at ``ctx.checked()``); held to
        its checks when the spec's errors were left to it."""
        if not ctx.deferred:
            try:
                return await handler(ctx)
            except Answered:
                return None
        # Until the handler declares its checks passed, it may not write (nor answer).
        name = f"{api.name}.{route.operation}"
        held = writes_refused.set(
            f"{name} wrote before ctx.checked() while the spec's errors were left to it"
        )
        try:
            reply = await handler(ctx)
        except Answered:
            return None
        finally:
            writes_refused.reset(held)
        if not ctx.passed_checks:
            raise RuntimeError(
                f"{name} answered without ctx.checked() while the spec's errors were left to it"
            )
        return reply


class _AtChecks:
    """The rules that wait for the vendor's checks, weighed once the handler says they
    passed (``ctx.checked()``). It holds no reference to the handler's context (the context
    holds it): no cycle."""

    __slots__ = (
        "call",
        "engine",
        "outcome",
        "receive",
        "runtime",
        "send",
        "server_send",
        "weighing",
    )

    def __init__(
        self,
        engine: Engine,
        call: Call,
        weighing: Weighing,
        outcome: Outcome,
        runtime: Runtime,
        receive: Receive,
        send: Send,
        server_send: Send,
    ) -> None:
        self.engine, self.call, self.weighing = engine, call, weighing
        self.outcome, self.runtime = outcome, runtime
        self.receive, self.send, self.server_send = receive, send, server_send

    async def __call__(self) -> None:
        decision = self.engine.checked(self.call, self.weighing)
        if decision is not None and await carry_out(
            decision, self.outcome, self.runtime, self.receive, self.send, self.server_send
        ):
            raise Answered
