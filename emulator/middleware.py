"""The emulator's request path around Connexion: namespace, body, errors in the vendor's shape.

Order of a vendor call::

    EmulatorApp          guard, namespace, body (size-capped), any exception -> vendor
                         error body; the journal entry once the status is known
      Connexion RoutingMiddleware        path -> operationId, path params
      OperationMiddleware                operation on the request context; fault rules
      Connexion RequestValidationMiddleware   parameters and body against the spec
        Dispatcher       operationId -> vendor handler -> JSON response

Control calls (``/_emulator/``) take the same path but are neither journaled nor
subject to fault rules.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from connexion.exceptions import ProblemException
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator.connexion_seam import routed_operation
from emulator.errors import Answered, EmulatedError, RequestInvalid, VendorError
from emulator.faults import MAX_NESTING, Call, Engine, nested_too_deep
from emulator.reply import Reply, send_reply
from emulator.runtime import (DEFAULT_NAMESPACE, NAMESPACE_HEADER, NAMESPACE_PATTERN,
                              JournalEntry, RequestContext, Runtime)
from emulator.transport import carry_out
from emulator.validation import parse_json, unlink

log = logging.getLogger("emulator")
# One record per vendor call, at INFO, once its status is known; the CLI formats it (text or
# JSON) and `--quiet` turns it off. The call's fields are in the record's `access` attribute.
access_log = logging.getLogger("emulator.access")
Handler = Callable[[RequestContext], Awaitable["Reply"]]
Guard = Callable[[str, Mapping[str, str]], "VendorError | None"]  # (path, headers) -> refusal
MAX_BODY_BYTES = 1024 * 1024


class ErrorShape(Protocol):
    """How an API says 'bad request', 'no such route', 'too large' and 'internal error'."""

    def invalid_request(self, exc: RequestInvalid) -> VendorError | None: ...
    def unrouted(self, method: str, path: str, method_not_allowed: bool) -> VendorError: ...
    too_large: VendorError
    internal_error: VendorError


class PlainErrors:
    """Paths that belong to no API: a small JSON error, never problem+json."""

    too_large = VendorError(413, {"error": "payload_too_large", "detail": "Request body too large"})
    internal_error = VendorError(500, {"error": "internal_error", "detail": "Internal error"})

    def invalid_request(self, exc: RequestInvalid) -> VendorError | None:
        return VendorError(400, {"error": "invalid_request", "detail": exc.detail})

    def unrouted(self, method: str, path: str, method_not_allowed: bool) -> VendorError:
        if method_not_allowed:
            return VendorError(405, {"error": "method_not_allowed", "detail": f"{method} {path}"})
        return VendorError(404, {"error": "not_found", "detail": f"{method} {path}"})


def bad_request(detail: str) -> EmulatedError:
    """The control API's 400, in PlainErrors' shape."""
    return EmulatedError(VendorError(400, {"error": "invalid_request", "detail": detail}))


def not_found(detail: str) -> EmulatedError:
    """The control API's 404, in PlainErrors' shape."""
    return EmulatedError(VendorError(404, {"error": "not_found", "detail": detail}))


class EmulatorApp:
    """The outermost ASGI app: every response a client sees leaves through here."""

    def __init__(self, app: ASGIApp, runtime: Runtime, shapes: Mapping[str, ErrorShape],
                 prefixes: Mapping[str, str], fallback: ErrorShape,
                 allowed: Callable[[str], list[str]] = lambda path: [],
                 max_body: int = MAX_BODY_BYTES, guards: Mapping[str, Guard] | None = None,
                 body_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.runtime = runtime
        self.shapes = shapes
        self.prefixes = tuple(prefixes.items())  # (path prefix, api name)
        self.fallback = fallback
        self.allowed = allowed
        self.max_body = max_body
        self.guards = dict(guards or {})  # api -> who may call it (the control token)
        self.body_limits = dict(body_limits or {})  # api -> its own cap instead of max_body

    def api_for(self, path: str) -> str | None:
        for prefix, api in self.prefixes:
            if path.startswith(prefix):
                return api
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at = time.time()
        api = self.api_for(scope["path"])
        shape = self.shapes.get(api, self.fallback) if api else self.fallback
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        started = False
        status: int | None = None

        async def send_(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
            await send(message)

        guard = self.guards.get(api) if api else None
        refusal = guard(scope["path"], headers) if guard else None
        if refusal is not None:
            await send_reply(send_, Reply.of(refusal))
            return
        ns_name = headers.get(NAMESPACE_HEADER, DEFAULT_NAMESPACE)
        if not NAMESPACE_PATTERN.match(ns_name):
            await send_reply(send_, Reply.of(shape.invalid_request(RequestInvalid(
                f"Invalid {NAMESPACE_HEADER} header: {ns_name!r}")) or shape.internal_error))
            return
        ctx = RequestContext(self.runtime.namespace(ns_name), api, scope["method"],
                             scope["path"], headers, scope.get("query_string", b""), shape=shape,
                             runtime=self.runtime, vendor_call=api in self.runtime.vendors,
                             server_send=send, server_receive=receive)
        scope["emulator"] = ctx
        ctx.namespace.in_flight += 1
        try:
            raw = await self._read_body(receive, self.body_limits.get(api, self.max_body))
            if raw is _GONE:
                return  # the client left before its body was whole: nothing is applied
            if raw is None:
                await send_reply(send_, Reply.of(shape.too_large))
                return
            ctx.raw_body = raw
            if raw and "content-length" not in headers:
                # A chunked body: say its length, as Connexion judges "no body" by this header.
                scope["headers"] = [*scope["headers"], (b"content-length", str(len(raw)).encode())]
            if raw and "json" in headers.get("content-type", "application/json").lower():
                try:
                    ctx.body, ctx.body_parsed = parse_json(raw), True
                except RequestInvalid:
                    pass  # the body validator reports it in the vendor's words
                if ctx.vendor_call and ctx.body_parsed and \
                        raw.count(b"{") + raw.count(b"[") > MAX_NESTING and \
                        nested_too_deep(ctx.body) is not None:
                    # Deeper than any vendor payload: it could be stored but never written
                    # back out (orjson writes 255 levels at most).
                    raise RequestInvalid(f"Body nested deeper than {MAX_NESTING} levels")
            await self.app(scope, _replay(raw, receive), send_)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a vendor error body
            if started:
                log.exception("error after the response started")
                return
            await send_reply(send_, Reply.of(self.error_for(shape, scope, exc)))
        finally:
            # The server's send belongs to its per-request object, which holds this scope:
            # unlink the context so the request's objects go by reference counting instead
            # of piling up as cyclic garbage for the collector (a pause under load).
            ctx.server_send = ctx.server_receive = ctx.at_checks = None
            del scope["emulator"]
            ctx.namespace.in_flight -= 1
            if ctx.deferred:
                unlink(ctx.deferred)
            if ctx.vendor_call:
                ctx.namespace.journal.record(JournalEntry(
                    at, api, ctx.operation, ctx.method, ctx.path,
                    ctx.query_string.decode("latin-1"), headers, ctx.raw_body,
                    status, ctx.rule, ctx.fault))  # status None: no response ever started
                if access_log.isEnabledFor(logging.INFO):
                    access_log.info("%s %s.%s %s", ctx.namespace.name, api, ctx.operation, status,
                                    extra={"access": {
                                        "at": at, "namespace": ctx.namespace.name, "api": api,
                                        "operation": ctx.operation, "method": ctx.method,
                                        "path": ctx.path, "status": status,
                                        "ms": round((time.time() - at) * 1000, 3),
                                        "rule": ctx.rule, "fault": ctx.fault}})

    def error_for(self, shape: ErrorShape, scope: Scope, exc: Exception) -> VendorError:
        if isinstance(exc, EmulatedError):
            return exc.error
        if isinstance(exc, RequestInvalid):
            error = shape.invalid_request(exc) or shape.internal_error
            unlink(exc.errors)
            return error
        if isinstance(exc, HTTPException) and exc.status_code in (404, 405):
            error = shape.unrouted(scope["method"], scope["path"], exc.status_code == 405)
            if error.status == 405:  # RFC 9110: a 405 lists the methods the resource has
                allow = ", ".join(self.allowed(scope["path"]))
                error = VendorError(405, error.body, {**error.headers, "Allow": allow},
                                    error.fidelity)
            return error
        if isinstance(exc, ProblemException) and 400 <= exc.status < 500:
            return shape.invalid_request(RequestInvalid(str(exc.detail))) or shape.internal_error
        log.exception("unexpected error on %s %s", scope["method"], scope["path"], exc_info=exc)
        return shape.internal_error

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _GONE
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            more = message.get("more_body", False)
        return b"".join(chunks)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.runtime.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


_GONE: Any = object()  # _read_body: the client hung up before the body was whole


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def receive_() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return receive_


class OperationMiddleware:
    """After routing, before validation: name the operation and its path parameters on the
    request context, then let the namespace's fault rules decide (the one place faults are
    decided). The `arrival` rules act here; the `checked` ones (error and respond rules, by
    default) are weighed when the handler declares the vendor's own checks passed
    (``await ctx.checked()``), so a call without a token still gets its 401."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            ctx: RequestContext = scope["emulator"]
            ctx.operation = routed_operation(scope)
            ctx.path_params = dict(scope.get("path_params", {}))
            engine = ctx.namespace.faults
            # Rules act on vendor operations; a path or method the spec lacks keeps its
            # contract answer (404/405). No rules: one attribute test, no Call built.
            if ctx.vendor_call and engine.active and ctx.operation is not None:
                call = Call(ctx.api, ctx.operation, ctx.path_params, ctx.headers,
                            ctx.body if ctx.body_parsed else None)
                decision = engine.arrive(call)
                if decision is not None and await carry_out(decision, ctx, receive, send):
                    return
                if engine.waits:
                    ctx.at_checks = _AtChecks(engine, call, receive, send)
        await self.app(scope, receive, send)


class _AtChecks:
    """The rules that wait for the vendor's checks, weighed once the handler says they
    passed. It holds no reference to the request context (the context holds it): no cycle."""

    __slots__ = ("engine", "call", "receive", "send")

    def __init__(self, engine: Engine, call: Call, receive: Receive, send: Send) -> None:
        self.engine, self.call, self.receive, self.send = engine, call, receive, send

    async def __call__(self, ctx: RequestContext) -> None:
        decision = self.engine.checked(self.call)
        if decision is not None and await carry_out(decision, ctx, self.receive, self.send):
            raise Answered


class Dispatcher:
    """The innermost app: operationId -> handler; unrouted paths become the vendor's 404."""

    def __init__(self, handlers: Mapping[tuple[str, str], Handler]) -> None:
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        ctx: RequestContext = scope["emulator"]
        handler = self.handlers.get((ctx.api, ctx.operation)) if ctx.operation else None
        if handler is None:
            raise HTTPException(404)
        try:
            reply = await handler(ctx)
        except Answered:
            return
        await send_reply(send, reply)
