"""The emulator's request path around Connexion: namespace, body, errors in the vendor's shape.

Order of a vendor call::

    EmulatorApp          guard, namespace, body (size-capped), any exception -> vendor
                         error body; the journal entry once the status is known
      Connexion RoutingMiddleware        path -> operationId, path params
      Connexion RequestValidationMiddleware -> connexion_seam.ValidationOperation
                         operation and path params on the request context; parameters
                         and body against the spec (a failure is a value on the context)
        Dispatcher       fault rules; spec failure -> the API's error; operationId ->
                         handler -> its Reply, which EmulatorApp sends (one write)

Control calls (``/_emulator/``) take the same path but are neither journaled nor
subject to fault rules.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.connexion_seam import ProblemException
from emulator.errors import (
    Answered,
    EmulatedError,
    ErrorShape,
    RequestInvalid,
    VendorError,
    echo,
    json_path,
)
from emulator.faults import MAX_NESTING, Call, Engine, Weighing, nested_too_deep
from emulator.jsonschema_seam import unlink
from emulator.persistence import NotPersisted
from emulator.reply import Reply, messages
from emulator.runtime import (
    CONTEXT,
    DEFAULT_NAMESPACE,
    NAMESPACE_HEADER,
    NAMESPACE_PATTERN,
    JournalEntry,
    RequestContext,
    Response,
    Runtime,
    body_kept,
    context_of,
)
from emulator.state import writes_refused
from emulator.transport import SERVER_SEND, carry_out
from emulator.uvicorn_seam import send_whole
from emulator.validation import parse_json

log = logging.getLogger("emulator")
# One record per vendor call, at INFO, once its status is known; the CLI formats it (text or
# JSON) and `--quiet` turns it off. The call's fields are in the record's `access` attribute.
access_log = logging.getLogger("emulator.access")
Handler = Callable[[RequestContext], Awaitable["Reply"]]
Guard = Callable[[str, Mapping[str, str]], "VendorError | None"]  # (path, headers) -> refusal
MAX_BODY_BYTES = 1024 * 1024  # a call's body cap, unless its operation sets its own
# A JSON body larger than this (only an operation with a larger cap of its own takes one: a
# state snapshot) is parsed in a worker thread, and so is the walk that bounds its nesting
# (~20 ms a MB, in Python: other clients are answered in between). orjson's parse (~15 ms a
# MB) keeps the GIL wherever it runs: the operation's cap bounds that pause.
PARSED_ON_LOOP_BYTES = MAX_BODY_BYTES


@dataclass(frozen=True)
class API:
    """One API the app serves: where it is mounted, how it words its errors, who may call it,
    its body caps and its handlers (operationId -> handler; the spec's operations, each one)."""

    name: str
    prefix: str  # the URL path prefix that is this API's alone, e.g. "/client/"
    shape: ErrorShape
    handlers: Mapping[str, Handler]
    vendor: bool = True  # a vendor API: its calls are journaled and fault rules act on them
    guard: Guard | None = None  # (path, headers) -> a refusal, e.g. the control token
    # (METHOD, path) -> the body cap of the operation there, where its spec sets its own
    # (`x-max-body-bytes`, specs.body_limits); any other call's is MAX_BODY_BYTES.
    max_body: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # The refusal of a body over a cap, given that cap (None: the shape's `too_large`).
    too_large: Callable[[int], VendorError] | None = None
    # path -> its own bound on a JSON body's nesting instead of MAX_NESTING (a state snapshot)
    nesting: Mapping[str, int] = field(default_factory=dict)


class EmulatorApp:
    """The outermost ASGI app: every response a client sees leaves through here."""

    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        apis: Iterable[API],
        fallback: ErrorShape,
        allowed: Callable[[str], list[str]] = lambda path: [],
        aliases: Mapping[str, str] | None = None,
        cors_origins: Iterable[str] = (),
    ) -> None:
        self.app = app
        # Origin -> the headers its calls' responses get (serve --cors-origin; none: off)
        self.cors = {
            origin: [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", b"*"),
                (b"vary", b"Origin"),
            ]
            for origin in cors_origins
        }
        # path of no API -> the path it is served as (the index page at / and /_emulator)
        self.aliases = dict(aliases or {})
        self.runtime = runtime
        self.apis = tuple(apis)
        self.fallback = fallback  # paths that belong to no API
        self.allowed = allowed

    def api_for(self, path: str) -> API | None:
        for api in self.apis:
            if path.startswith(api.prefix):
                return api
        return None

    def refusal(self, status: int, path: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
        """The headers and body of what the server answers before a request reaches the app
        (uvicorn_seam.Limits): 431, a head over its bound; 503, a connection over the cap
        (with Retry-After). In the shape of the API of ``path`` (as much of it as came)."""
        mounted = self.api_for(path)
        shape = mounted.shape if mounted else self.fallback
        error = shape.head_too_large if status == 431 else shape.unavailable
        extra = {"Retry-After": "1"} if status == 503 else {}
        start, body = messages(Reply(error.status, dict(error.body), {**error.headers, **extra}))
        return start["headers"], body["body"]

    async def _preflight(
        self,
        send: Send,
        path: str,
        cors: list[tuple[bytes, bytes]],
        headers: Mapping[str, str],
    ) -> None:
        """A CORS preflight (serve --cors-origin): 204, the origin allowed the path's methods
        and the request headers it asked for; no API sees it, nothing is journaled."""
        methods = self.allowed(path) or ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
        extra = [
            (b"access-control-allow-methods", ", ".join(methods).encode("latin-1")),
            (b"access-control-max-age", b"600"),
        ]
        asked = headers.get("access-control-request-headers")
        if asked:
            extra.append((b"access-control-allow-headers", asked.encode("latin-1")))
        start = {"type": "http.response.start", "status": 204, "headers": [*cors, *extra]}
        await send_whole(send, start, {"type": "http.response.body", "body": b""})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at = time.time()
        began = self.runtime.clock.now()
        mounted = self.api_for(scope["path"])
        if mounted is None and scope["path"] in self.aliases:
            scope["path"] = self.aliases[scope["path"]]
            scope["raw_path"] = scope["path"].encode("ascii")
            mounted = self.api_for(scope["path"])
        api, shape = (mounted.name, mounted.shape) if mounted else (None, self.fallback)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cors = self.cors.get(headers.get("origin", "")) if self.cors else None
        if cors is not None and scope["method"] == "OPTIONS":
            wanted = headers.get("access-control-request-method")
            if wanted is not None:  # a browser's preflight, from an origin the server allows
                await self._preflight(send, scope["path"], cors, headers)
                return
        started = False
        status: int | None = None
        start: Message | None = None  # the response's start, for the journal
        chunks: list[bytes] = []  # its body as sent (references: nothing is copied here)

        held: Message | None = None  # the start, sent with the body (one write)

        async def send_(message: Message) -> None:
            nonlocal started, status, start, held
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if held is not None:
                    first, held = held, None
                    if not message.get("more_body", False):
                        await send_whole(send, first, message)
                        return
                    await send(first)
            elif message["type"] == "http.response.start":
                if cors is not None:
                    message = {**message, "headers": [*message["headers"], *cors]}
                started, status, start = True, message["status"], message
                held = message
                return
            await send(message)

        async def answer(reply: Reply) -> None:
            nonlocal started, status, start
            first, body = messages(reply)
            if cors is not None:
                first["headers"] += cors
            started, status, start = True, reply.status, first
            chunks.append(body["body"])
            await send_whole(send, first, body)

        guard = mounted.guard if mounted else None
        refusal = guard(scope["path"], headers) if guard else None
        if refusal is not None:
            await answer(Reply.of(refusal))
            return
        ns_name = headers.get(NAMESPACE_HEADER, DEFAULT_NAMESPACE)
        if ns_name is not DEFAULT_NAMESPACE and not NAMESPACE_PATTERN.match(ns_name):
            await answer(
                Reply.of(
                    verdict(
                        shape, RequestInvalid(f"Invalid {NAMESPACE_HEADER} header: {echo(ns_name)}")
                    )
                    or shape.internal_error
                )
            )
            return
        ctx = RequestContext(
            ns_name,
            api,
            scope["method"],
            scope["path"],
            headers,
            shape,
            scope.get("query_string", b""),
            runtime=self.runtime,
            vendor_call=mounted.vendor if mounted else False,
        )
        scope[CONTEXT] = ctx
        scope[SERVER_SEND] = send
        raw = b""
        try:
            limit = (
                mounted.max_body.get((scope["method"], scope["path"]), MAX_BODY_BYTES)
                if mounted
                else MAX_BODY_BYTES
            )
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                raw = message.get("body", b"")  # the usual case: the whole body in one message
                if len(raw) > limit:
                    raw = None
            else:
                raw = await self._read_rest(message, receive, limit)
            if raw is _GONE:
                return  # the client left before its body was whole: nothing is applied
            if raw is None:  # refused before any of it is parsed
                too_large = mounted.too_large if mounted else None
                await answer(Reply.of(too_large(limit) if too_large else shape.too_large))
                return
            ctx.raw_body = raw
            if raw and "content-length" not in headers:
                # A chunked body: say its length, as Connexion judges "no body" by this header.
                scope["headers"] = [*scope["headers"], (b"content-length", str(len(raw)).encode())]
            if raw and "json" in headers.get("content-type", "application/json").lower():
                # A body nested too deep is refused once routed, as the spec's failures are
                # (connexion_seam); a path of no API is refused anyway.
                nesting = mounted.nesting.get(scope["path"], MAX_NESTING) if mounted else None
                if len(raw) > PARSED_ON_LOOP_BYTES:
                    parsed = await asyncio.to_thread(_parsed, raw, nesting)
                else:
                    parsed = _parsed(raw, nesting)
                ctx.body, ctx.body_parsed, ctx.refused = parsed
            # The body is the context's (ctx.raw_body): what the server's receive gives from
            # now on is what follows it (a disconnect), which is what the faults watch for.
            await self.app(scope, receive, send_)
            if ctx.reply is not None:  # the handler's (the Dispatcher leaves it here)
                if started:
                    log.error(
                        "a reply after the response started on %s %s",
                        scope["method"],
                        scope["path"],
                    )
                else:
                    await answer(ctx.reply)
        except Exception as exc:
            if started:
                log.exception("error after the response started")
                return
            await answer(Reply.of(self.error_for(shape, scope, exc)))
        finally:
            if held is not None:  # a start without a body (a failure after it): as it was
                await send(held)
            # The server's send belongs to its per-request object, which holds this scope:
            # unlink them so the request's objects go by reference counting instead of
            # piling up as cyclic garbage for the collector (a pause under load).
            ctx.at_checks = ctx.reply = None
            del scope[CONTEXT], scope[SERVER_SEND]
            ctx.release()
            if ctx.deferred:
                unlink(ctx.deferred)
            if ctx.vendor_call:
                ms = round((self.runtime.clock.now() - began) * 1000, 3)
                # A call that made no namespace (unrouted, refused before routing) is
                # journaled only where one exists; a body that never arrived whole is not
                # journaled at all: it was never a call (nothing of it was applied).
                namespace = ctx.bound or self.runtime.existing(ns_name)
                if namespace is not None and raw is not _GONE:
                    # What was sent: a HEAD's response carries no body on the wire.
                    sent = None if ctx.method == "HEAD" else chunks
                    response = (
                        None
                        if start is None
                        else Response(start["status"], start.get("headers", ()), sent)
                    )
                    namespace.journal.record(
                        JournalEntry(
                            at,
                            api,
                            ctx.operation,
                            ctx.method,
                            ctx.path,
                            ctx.query_string.decode("latin-1"),
                            headers,
                            body_kept(ctx.raw_body),
                            status,
                            ctx.rule,
                            ctx.fault,  # status None: no response ever started
                            response,
                            ms,
                            ctx.acted,
                            ctx.path_params,
                            ctx.weighing,
                            body_size=len(ctx.raw_body),
                        )
                    )
                ctx.weighing = None
                if access_log.isEnabledFor(logging.INFO):
                    access_log.info(
                        "%s %s.%s %s",
                        ns_name,
                        api,
                        ctx.operation,
                        status,
                        extra={
                            "access": {
                                "at": at,
                                "namespace": ns_name,
                                "api": api,
                                "operation": ctx.operation,
                                "method": ctx.method,
                                "path": ctx.path,
                                "status": status,
                                "ms": ms,
                                "rule": ctx.rule,
                                "fault": ctx.fault,
                            }
                        },
                    )

    def error_for(self, shape: ErrorShape, scope: Scope, exc: Exception) -> VendorError:
        if isinstance(exc, EmulatedError):
            return exc.error
        if isinstance(exc, RequestInvalid):
            return verdict(shape, exc) or shape.internal_error  # too late to leave it to a handler
        if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            error = shape.unrouted(scope["method"], scope["path"], exc.status_code == 405)
            if error.status == 405:  # RFC 9110: a 405 lists the methods the resource has
                allow = ", ".join(self.allowed(scope["path"]))
                error = VendorError(
                    405, error.body, {**error.headers, "Allow": allow}, error.fidelity
                )
            return error
        if isinstance(exc, ProblemException) and 400 <= exc.status < 500:
            return verdict(shape, RequestInvalid(str(exc.detail))) or shape.internal_error
        log.exception("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
        return shape.internal_error

    @staticmethod
    async def _read_rest(message: Message, receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            if message["type"] == "http.disconnect":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)
            message = await receive()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.runtime.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


_GONE: Any = object()  # _read_rest: the client hung up before the body was whole


def _parsed(raw: bytes, nesting: int | None) -> tuple[Any, bool, RequestInvalid | None]:
    """A JSON body: (the document, whether it parsed, its refusal when nested deeper than
    ``nesting``). One that does not parse is left to the body validator, which reports it
    in the vendor's words."""
    try:
        body = parse_json(raw)
    except RequestInvalid:
        return None, False, None
    return body, True, None if nesting is None else _nesting_refusal(nesting, raw, body)


def _nesting_refusal(limit: int, raw: bytes, body: Any) -> RequestInvalid | None:
    """A body nested deeper than any call needs (MAX_NESTING, or the path's own bound): what
    is stored is written back out as JSON, and orjson writes 255 levels at most, so deeper
    would be stored with a 2xx and answer 500 from then on. Counting brackets first keeps
    this free for the usual small body."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return None
    deep = nested_too_deep(body, limit)
    if deep is None:
        return None
    return RequestInvalid(f"{json_path(deep[:2])}: nested deeper than {limit} levels")


class _AtChecks:
    """The rules that wait for the vendor's checks, weighed once the handler says they
    passed. It holds no reference to the request context (the context holds it): no cycle."""

    __slots__ = ("call", "engine", "receive", "send", "server_send", "weighing")

    def __init__(
        self,
        engine: Engine,
        call: Call,
        weighing: Weighing,
        receive: Receive,
        send: Send,
        server_send: Send,
    ) -> None:
        self.engine, self.call, self.weighing = engine, call, weighing
        self.receive, self.send, self.server_send = receive, send, server_send

    async def __call__(self, ctx: RequestContext) -> None:
        decision = self.engine.checked(self.call, self.weighing)
        if decision is not None and await carry_out(
            decision, ctx, self.receive, self.send, self.server_send
        ):
            raise Answered


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
    """The innermost app: (api, operationId) -> handler; the one place fault rules are
    decided; and the one place a call's spec failure becomes its API's error.

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

    def __init__(self, apis: Iterable[API]) -> None:
        self.handlers = {
            (api.name, operation): handler
            for api in apis
            for operation, handler in api.handlers.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        ctx = context_of(scope)
        handler = self.handlers.get((ctx.api, ctx.operation)) if ctx.operation else None
        if handler is None:  # a call that reaches no operation makes no namespace
            namespace = ctx.runtime.existing(ctx.namespace_name) if ctx.runtime else None
            if ctx.vendor_call and namespace is not None and namespace.faults.listed:
                ctx.weighing = namespace.faults.weighing()  # no rule acts: each a near miss
            raise HTTPException(404)
        persistence = ctx.runtime.persistence if ctx.runtime is not None else None
        commits = persistence.commits if persistence is not None else 0
        try:
            await self._dispatch(ctx, handler, scope, receive, send)
            if persistence is not None:
                persistence.commit()  # no await since the handler's writes: they alone
                if persistence.always and persistence.commits != commits:
                    await persistence.durable(persistence.commits)
        except BaseException as exc:
            if persistence is not None:
                persistence.rollback()
            if isinstance(exc, EmulatedError):  # the vendor's own refusal: answered from here,
                ctx.reply = Reply.of(exc.error)  # not raised up through Connexion's layers
            elif isinstance(exc, NotPersisted):
                ctx.reply = Reply.of(ctx.shape.internal_error)
            else:
                raise

    async def _dispatch(
        self, ctx: RequestContext, handler: Handler, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """The fault rules, the spec's verdict, then the handler, whose Reply is left on the
        context for EmulatorApp to send (none when a fault rule answered)."""
        engine = ctx.namespace.faults
        # Rules act on vendor operations only. No rules: one attribute test, no Call built.
        if ctx.vendor_call and engine.active:
            if await self._arrive(ctx, engine, scope, receive, send):
                return
        elif ctx.vendor_call and engine.listed:  # spent or expired rules are near misses too
            ctx.weighing = engine.weighing()
        failure = ctx.spec_failure
        if failure is not None:
            ctx.spec_failure = None
            error = verdict(ctx.shape, failure)
            if error is not None:
                raise EmulatedError(error)
            ctx.deferred = failure.errors
        if not ctx.deferred:
            try:
                reply = await handler(ctx)
            except Answered:
                return
            ctx.reply = reply  # EmulatorApp answers with it
            return
        # Until the handler declares its checks passed, it may not write (nor answer).
        held = writes_refused.set(
            f"{ctx.api}.{ctx.operation} wrote before ctx.checked() "
            f"while the spec's errors were left to it"
        )
        try:
            reply = await handler(ctx)
        except Answered:
            return
        finally:
            writes_refused.reset(held)
        if not ctx.passed_checks:
            raise RuntimeError(
                f"{ctx.api}.{ctx.operation} answered without ctx.checked() "
                f"while the spec's errors were left to it"
            )
        ctx.reply = reply

    @staticmethod
    async def _arrive(
        ctx: RequestContext, engine: Engine, scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """The `arrival` rules; True when one answered (or dropped) the call."""
        call = Call(
            ctx.api,
            ctx.operation,
            ctx.path_params,
            ctx.headers,
            ctx.body if ctx.body_parsed else None,
        )
        weighing = ctx.weighing = engine.weighing()  # the call's near misses
        decision = engine.arrive(call, weighing)
        server_send = scope[SERVER_SEND]
        if decision is not None and await carry_out(decision, ctx, receive, send, server_send):
            return True
        if engine.waits:
            ctx.at_checks = _AtChecks(engine, call, weighing, receive, send, server_send)
        return False
