"""OCC authentication: application-key and user logins, expiring access tokens, the bearer check.

Tokens live in the namespace's state (``commerce.tokens``, keyed by the token itself), so a
token from one namespace means nothing in another and a reset forgets them all. The token is
JWT-shaped (some clients decode it to read ``exp``) but the emulator only ever looks it up
by value. Expired tokens are dropped as new ones are issued, soonest expiry first (a heap
beside the collection): a login costs the same with 10 live tokens or 100,000.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.state import Collection
from emulator.vendors.commerce import errors
from emulator.vendors.commerce.profiles import next_number

SIGNING_KEY = b"profile-emulator"  # not a secret: tokens are looked up, never verified
Subject = dict[str, str]  # {"type": "application" | "profile", "id": ...}
# Expired tokens dropped per token issued, at most: a login after a long pause (or a clock
# moved far on) costs no more than this, and expired tokens still go faster than new ones come.
SWEEP = 100


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _encode(claims: dict[str, Any]) -> str:
    head = _b64(orjson.dumps({"alg": "HS256", "typ": "JWT"}))
    payload = _b64(orjson.dumps(claims))
    signature = hmac.new(SIGNING_KEY, f"{head}.{payload}".encode(), hashlib.sha256).digest()
    return f"{head}.{payload}.{_b64(signature)}"


def bearer(ctx: RequestContext) -> str | None:
    """The credential of ``Authorization: Bearer <credential>``, if any."""
    scheme, _, credential = ctx.headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


class _Expiries:
    """The tokens of one collection by expiry: a heap of (expiresAt, token), and how many of
    them the collection holds. A collection that holds another count was restored (a
    snapshot, the data file): the heap is rebuilt from it, once."""

    def __init__(self) -> None:
        self.heap: list[tuple[float, str]] = []
        self.held = 0

    def rebuild(self, tokens: Collection) -> None:
        self.heap = [(record["expiresAt"], record["token"]) for record in tokens]
        heapq.heapify(self.heap)
        self.held = len(tokens)

    def sweep(self, tokens: Collection, at: float) -> None:
        """Drop up to SWEEP tokens expired at ``at``, soonest expiry first."""
        if self.held != len(tokens):
            self.rebuild(tokens)
        for _ in range(SWEEP):
            if not self.heap or self.heap[0][0] > at:
                return
            expires_at, token = heapq.heappop(self.heap)
            record = tokens.get(token)
            if record is None or record["expiresAt"] != expires_at:
                self.rebuild(tokens)  # the collection was restored meanwhile
                continue
            tokens.delete(token)
            self.held -= 1

    def add(self, expires_at: float, token: str) -> None:
        heapq.heappush(self.heap, (expires_at, token))
        self.held += 1


_EXPIRIES: WeakKeyDictionary[Collection, _Expiries] = WeakKeyDictionary()


# The configuration setting of each kind of token's lifetime: a token from an application key,
# or from user credentials (docs/decisions.md#10). A refresh keeps its subject's kind.
LIFETIME_SETTINGS = {"application": "tokenLifetimeSeconds", "profile": "userTokenLifetimeSeconds"}


def issue(ctx: RequestContext, subject: Subject) -> dict[str, Any]:
    """A new access token for ``subject``, living as long as its kind's setting says: the
    body of a login or refresh response."""
    lifetime = float(ctx.config("commerce")[LIFETIME_SETTINGS[subject["type"]]])
    tokens = ctx.store["commerce.tokens"]
    with ctx.store.lock:
        issued = ctx.namespace.clock.wall()  # the namespace's time: a test may move it on
        expiries = _EXPIRIES.get(tokens)
        if expiries is None:
            expiries = _EXPIRIES[tokens] = _Expiries()
        expiries.sweep(tokens, issued)  # expired tokens go, so state stays small
        number = next_number(ctx.store, "tokens")
        token = _encode(
            {
                "iss": "profile-emulator",
                "sub": f"{subject['type']}:{subject['id']}",
                "iat": int(issued),
                "exp": int(issued + lifetime),
                "jti": str(number),
            }
        )
        tokens.put(
            token,
            {
                "token": token,
                "subject": subject,
                "issuedAt": issued,
                "expiresAt": issued + lifetime,
            },
        )
        expiries.add(issued + lifetime, token)
    return {"access_token": token, "token_type": "bearer", "expires_in": int(lifetime)}


def current(ctx: RequestContext) -> Subject | None:
    """The subject of the request's valid, unexpired access token, if it has one."""
    token = bearer(ctx)
    record = ctx.store["commerce.tokens"].get(token) if token else None
    if record is None or ctx.namespace.clock.wall() >= record["expiresAt"]:
        return None
    subject: Subject = record["subject"]
    return subject


def require(ctx: RequestContext) -> Subject | None:
    """Every call but login: a valid token, unless auth is switched off (then None is fine)."""
    subject = current(ctx)
    if subject is None and ctx.config("commerce")["authEnabled"]:
        raise EmulatedError(errors.UNAUTHORIZED)
    return subject


def login_subject(ctx: RequestContext, form: dict[str, str]) -> Subject:
    """Who a login form and its Authorization header identify; 401 when nobody (auth on)."""
    auth_on = ctx.config("commerce")["authEnabled"]
    if form.get("grant_type") == "password":
        # Inferred: a user (e.g. a seeded account admin) logs in with its login (its email
        # unless created with another) and password.
        profile = ctx.store["commerce.profiles"].find("login", form.get("username", "").lower())
        if (
            profile is not None
            and profile.get("password") is not None
            and hmac.compare_digest(profile["password"].encode(), form.get("password", "").encode())
            and profile["active"] == "true"
        ):
            return {"type": "profile", "id": profile["id"]}
    else:
        key = bearer(ctx)
        if key is not None and key in ctx.store["commerce.applications"]:
            return {"type": "application", "id": key}
    if auth_on:
        raise EmulatedError(errors.UNAUTHORIZED)
    return {"type": "application", "id": "anonymous"}
