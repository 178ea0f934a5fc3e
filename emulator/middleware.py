"""The outermost ASGI app, ``EmulatorApp``: every response a client sees leaves through here.

A call's steps: its API (by path prefix) and guard, its namespace header, its body (read whole
under its cap, JSON parsed once: ``payload``), then Connexion's routing and the spec's checks
(``connexion_seam``) and the ``Dispatcher`` (fault rules, the spec's verdict, the handler);
the reply is sent in one write, then the call is journaled, counted (``metrics``) and logged.
Any exception becomes the API's own error body. Control calls (``/_emulator/``) take the same
path but are neither journaled, counted, logged nor subject to fault rules.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from emulator import payload
from emulator.api import API
from emulator.connexion_seam import ProblemException
from emulator.context import OUTCOME, REQUEST, Outcome, Request
from emulator.dispatcher import verdict
from emulator.errors import EmulatedError, ErrorShape, RequestInvalid, VendorError, echo
from emulator.journal import JournalEntry, Response, body_kept
from emulator.logs import ACCESS_LOG, Access
from emulator.metrics import Metrics
from emulator.payload import MAX_BODY_BYTES, Unread
from emulator.reply import Reply, messages
from emulator.runtime import DEFAULT_NAMESPACE, NAMESPACE_HEADER, NAMESPACE_PATTERN, Runtime
from emulator.transport import SERVER_SEND
from emulator.uvicorn_seam import send_whole
from emulator.validation import parse_urlencoded

log = logging.getLogger("emulator")
_NO_QUERY: Mapping[str, str] = MappingProxyType({})


class EmulatorApp:
    """The outermost ASGI app: one ``API`` record per mounted API, and ``fallback``, the error
    shape of paths that belong to none."""

    def __init__(
        self,
        app: ASGIApp,
        runtime: Runtime,
        apis: Iterable[API],
        fallback: ErrorShape,
        allowed: Callable[[str], list[str]],
        metrics: Metrics,
        aliases: Mapping[str, str] | None = None,
        cors_origins: Iterable[str] = (),
    ) -> None:
        """``app``: Connexion's stack, the ``Dispatcher`` inside; ``allowed``: the methods a
        path has (a 405's Allow header); ``metrics``: where vendor calls are counted;
        ``aliases``: paths of no API and the path each is served as (the index page at / and
        /_emulator); ``cors_origins``: the origins a browser may call from (serve
        --cors-origin; none: CORS off)."""
        self.app = app
        self.cors = {  # origin -> the headers its calls' responses get
            origin: [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-expose-headers", b"*"),
                (b"vary", b"Origin"),
            ]
            for origin in cors_origins
        }
        self.aliases = dict(aliases or {})
        self.runtime = runtime
        self.metrics = metrics
        self.apis = tuple(apis)
        self.fallback = fallback
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
        outcome = Outcome(time.time(), self.runtime.clock.now())
        mounted = self.api_for(scope["path"])
        if mounted is None and scope["path"] in self.aliases:
            scope["path"] = self.aliases[scope["path"]]
            scope["raw_path"] = scope["path"].encode("ascii")
            mounted = self.api_for(scope["path"])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cors = self.cors.get(headers.get("origin", "")) if self.cors else None
        if cors is not None and scope["method"] == "OPTIONS":
            if "access-control-request-method" in headers:  # a browser's preflight
                await self._preflight(send, scope["path"], cors, headers)
                return
        out = Outgoing(send, cors)
        namespace = headers.get(NAMESPACE_HEADER, DEFAULT_NAMESPACE)
        refusal = self.admission(mounted, scope["path"], headers, namespace)
        if refusal is not None:  # neither journaled nor logged; a vendor call is counted
            await out.reply(Reply.of(refusal))
            if mounted is not None and mounted.vendor:
                seconds = self.runtime.clock.now() - outcome.began
                self.metrics.call(mounted.name, None, out.status, seconds)
            return
        cap = mounted.body_cap(scope["method"], scope["path"]) if mounted else MAX_BODY_BYTES
        raw = await payload.read(receive, cap)
        request = await self.request(scope, mounted, headers, namespace, raw)
        try:
            if isinstance(raw, bytes):
                await self.dispatch(scope, receive, request, outcome, out)
            elif raw is Unread.TOO_LARGE:  # refused before any of it is parsed
                error = mounted.body_refusal(cap) if mounted else self.fallback.too_large
                await out.reply(Reply.of(error))
            # (Unread.GONE: nothing of it is applied, nor journaled: it was never a call.)
        finally:
            await out.close()
            outcome.release()
            if mounted is not None and mounted.vendor:
                ms = round((self.runtime.clock.now() - outcome.began) * 1000, 3)
                if raw is not Unread.GONE:
                    self.journal(mounted.name, request, outcome, out, ms)
                    self.count(mounted.name, outcome, out, ms)
                self.log(request, outcome, out, ms)

    def admission(
        self, mounted: API | None, path: str, headers: Mapping[str, str], namespace: str
    ) -> VendorError | None:
        """Why the call is refused before its body is read: its API's guard (the control
        token), or a namespace header no namespace may have."""
        refusal = mounted.guard(path, headers) if mounted and mounted.guard else None
        if refusal is not None:
            return refusal
        if namespace is not DEFAULT_NAMESPACE and not NAMESPACE_PATTERN.match(namespace):
            shape = mounted.shape if mounted else self.fallback
            failure = RequestInvalid(f"Invalid {NAMESPACE_HEADER} header: {echo(namespace)}")
            return verdict(shape, failure) or shape.internal_error
        return None

    async def request(
        self,
        scope: Scope,
        mounted: API | None,
        headers: dict[str, str],
        namespace: str,
        raw: bytes | Unread,
    ) -> Request:
        """The call's facts; a JSON body parsed once (one nested too deep is refused once
        routed, as the spec's failures are; a path of no API is refused anyway)."""
        body, parsed, too_deep = None, False, None
        if not isinstance(raw, bytes):
            raw = b""  # not read: not executed (journaled with no body, if at all)
        elif raw and "json" in headers.get("content-type", "application/json").lower():
            nesting = mounted.body_nesting(scope["path"]) if mounted else None
            body, parsed, too_deep = await payload.parse(raw, nesting)
        if raw and "content-length" not in headers:
            # A chunked body: say its length, as Connexion judges "no body" by this header.
            scope["headers"] = [*scope["headers"], (b"content-length", str(len(raw)).encode())]
        query_string: bytes = scope.get("query_string", b"")
        return Request(
            scope["method"],
            scope["path"],
            query_string,
            parse_urlencoded(query_string.decode("latin-1")) if query_string else _NO_QUERY,
            headers,
            raw,
            body,
            parsed,
            too_deep,
            namespace,
            mounted.name if mounted else None,
        )

    async def dispatch(
        self, scope: Scope, receive: Receive, request: Request, outcome: Outcome, out: Outgoing
    ) -> None:
        """Connexion's stack (routing, the spec's checks, the Dispatcher), then the reply it
        left on the outcome; any exception becomes the API's error."""
        scope[REQUEST], scope[OUTCOME], scope[SERVER_SEND] = request, outcome, out.server_send
        try:
            await self.app(scope, receive, out)
            if outcome.reply is not None:
                if out.start is not None:
                    log.error("a reply after the response started on %s %s", *_call(scope))
                else:
                    await out.reply(outcome.reply)
        except Exception as exc:
            if out.start is not None:
                log.exception("error after the response started")
                return
            await out.reply(Reply.of(self.error_for(scope, exc)))
        finally:
            # The server's send belongs to its per-request object, which holds this scope:
            # unlink them, and the call's objects, so they go by reference counting instead
            # of piling up as cyclic garbage for the collector (a pause under load).
            del scope[REQUEST], scope[OUTCOME], scope[SERVER_SEND]

    def error_for(self, scope: Scope, exc: Exception) -> VendorError:
        mounted = self.api_for(scope["path"])
        shape = mounted.shape if mounted else self.fallback
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
        log.exception("unexpected error on %s %s", *_call(scope), exc_info=exc)
        return shape.internal_error

    def journal(
        self, api: str, request: Request, outcome: Outcome, out: Outgoing, ms: float
    ) -> None:
        """The call's journal entry, in its namespace: the one it made, else one that exists
        (a call that reached no operation makes none, and is journaled only there)."""
        namespace = outcome.namespace or self.runtime.existing(request.namespace)
        if namespace is not None:
            namespace.journal.record(
                JournalEntry(
                    outcome.at,
                    api,
                    outcome.route.operation if outcome.route else None,
                    request.method,
                    request.path,
                    request.query_string.decode("latin-1"),
                    request.headers,
                    body_kept(request.raw_body),
                    out.status,
                    outcome.rule,
                    outcome.fault,  # status None: no response ever started
                    out.response(request.method),
                    ms,
                    outcome.acted,
                    outcome.route.path_params if outcome.route else {},
                    outcome.weighing,
                    body_size=len(request.raw_body),
                )
            )

    def count(self, api: str, outcome: Outcome, out: Outgoing, ms: float) -> None:
        """The call in the server's metrics, as it is journaled (its operation, the status
        that went out, its duration, the rule that acted)."""
        acted = outcome.acted
        self.metrics.call(
            api,
            outcome.route.operation if outcome.route else None,
            out.status,
            ms / 1000,
            None if acted is None else acted.action,
            outcome.fault,
        )

    @staticmethod
    def log(request: Request, outcome: Outcome, out: Outgoing, ms: float) -> None:
        """The call's access log line: its fields only (formatted and written elsewhere)."""
        if ACCESS_LOG.on:
            ACCESS_LOG.write(
                Access(
                    outcome.at,
                    request.namespace,
                    request.api,
                    outcome.route.operation if outcome.route else None,
                    request.method,
                    request.path,
                    out.status,
                    ms,
                    outcome.rule,
                    outcome.fault,
                )
            )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.runtime.stop_deliveries()
                self.runtime.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


class Outgoing:
    """The ASGI send the app's stack is given, in front of the server's: a response's start
    is held until its body comes, so the two go out in one write (``send_whole``), and what
    went out is kept for the journal (the start, the body's chunks: references, not copies)."""

    __slots__ = ("_held", "chunks", "cors", "server_send", "start")

    def __init__(self, server_send: Send, cors: list[tuple[bytes, bytes]] | None = None) -> None:
        self.server_send = server_send
        self.cors = cors  # the CORS headers every response start gets (None: none)
        self.start: Message | None = None  # the response's start, once it is sent
        self.chunks: list[bytes] = []  # its body, as sent
        self._held: Message | None = None  # the start, until its body comes

    @property
    def status(self) -> int | None:
        """The response's status (None: no response ever started, a transport fault)."""
        return None if self.start is None else int(self.start["status"])

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))
            held = self._held
            if held is not None:
                self._held = None
                if not message.get("more_body", False):
                    await send_whole(self.server_send, held, message)
                    return
                await self.server_send(held)
        elif message["type"] == "http.response.start":
            if self.cors is not None:
                message = {**message, "headers": [*message["headers"], *self.cors]}
            self.start = self._held = message
            return
        await self.server_send(message)

    async def reply(self, reply: Reply) -> None:
        """A whole reply, in one write."""
        start, body = messages(reply)
        if self.cors is not None:
            start["headers"] = [*start["headers"], *self.cors]
        self.start = start
        self.chunks.append(body["body"])
        await send_whole(self.server_send, start, body)

    async def close(self) -> None:
        """A start whose body never came (a failure after it) goes out as it was."""
        held, self._held = self._held, None
        if held is not None:
            await self.server_send(held)

    def response(self, method: str) -> Response | None:
        """What went out, for the journal (None: nothing). A HEAD's response carries no body
        on the wire."""
        if self.start is None:
            return None
        sent = None if method == "HEAD" else self.chunks
        return Response(self.start["status"], self.start.get("headers", ()), sent)


def _call(scope: Scope) -> tuple[Any, Any]:
    return scope["method"], scope["path"]
