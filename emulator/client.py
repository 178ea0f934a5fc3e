"""A small client of the control API (openapi/control.yaml), bound to one namespace.

    emulator = Emulator("http://127.0.0.1:8080", namespace="team-a")
    emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    ...  # the code under test calls emulator.url with emulator.headers
    emulator.assert_called(operation="updateProfile", times=2, body={"email": "a@b.co"})
    assert emulator.last(operation="updateProfile")["response"]["status"] == 200

Of the emulator it imports only how a report is written (`report`, and through it how
messages quote a value, `errors.echo`), nothing of the server side, so it works against a
remote one too.

An Emulator owns an ``httpx.Client`` unless it is given one (``client=``) or made by
:meth:`Emulator.view`: views of one server share its connection pool, and each sends its own
namespace (and token) on every call, so one namespace's headers never reach another's calls.
Closing a view leaves the shared client open; closing its owner closes it.
"""

from __future__ import annotations

import functools
import ssl
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote

import httpx

from emulator.client_verify import VerificationHelpers
from emulator.client_webhooks import WebhookHelpers

NAMESPACE_HEADER = "X-Emulator-Namespace"


class EmulatorError(Exception):
    """The control API refused a call; ``status`` and ``detail`` say why."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.detail = body.get("detail", "") if isinstance(body, dict) else str(body)
        super().__init__(f"{method} {path}: {status} {self.detail}")


class Emulator(VerificationHelpers, WebhookHelpers):
    """The control API of one namespace of a running emulator."""

    def __init__(
        self,
        url: str,
        namespace: str = "default",
        *,
        token: str | None = None,
        timeout: float = 10.0,
        client: httpx.Client | None = None,
    ) -> None:
        """``client``: an ``httpx.Client`` to send the calls with (absolute URLs, this
        Emulator's own headers on each); it is the caller's to close. Without it the
        Emulator makes one and closes it in :meth:`close`."""
        self.url = url.rstrip("/")
        self.namespace = namespace
        self._token = token
        self._timeout = timeout
        self._control = f"{self.url}/_emulator"
        self._call_headers = dict(self.headers)
        if token:
            self._call_headers["Authorization"] = f"Bearer {token}"
        self._owns_http = client is None
        self._http = new_http_client(timeout) if client is None else client
        self._closed = False

    @property
    def headers(self) -> dict[str, str]:
        """Headers for the code under test's own vendor calls: they put it in this namespace."""
        return {NAMESPACE_HEADER: self.namespace}

    # --- faults ---------------------------------------------------------------------------

    def inject(
        self,
        error: str | None = None,
        *,
        fault: str | None = None,
        respond: dict[str, Any] | None = None,
        delay_ms: float | None = None,
        delay: dict[str, Any] | None = None,
        api: str | None = None,
        operation: str | None = None,
        path_params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
        times: int | None = None,
        after: int | None = None,
        probability: float | None = None,
        ttl: float | None = None,
        rule_id: str | None = None,
        description: str | None = None,
        stage: str | None = None,
    ) -> str:
        """Add a fault rule; return its id.

        The action: ``error`` (a catalogue name, see :meth:`errors`), ``fault``
        (``connection_reset``, ``empty_response``, ``malformed_body``, ``timeout``) or
        ``respond`` (``{"status": 503, "headers": {...}, "body": {...}}``), and/or a delay
        (``delay_ms``, or ``delay={"uniform": [lo, hi]}`` / ``{"lognormal": {...}}``).
        Which calls: ``api``, ``operation``, ``path_params``, ``headers`` and ``body`` (a
        subset of the call's JSON body); none = every vendor call. How often: ``times``,
        ``after``, ``probability``, ``ttl`` (seconds). ``rule_id``: your own id.
        An error names its API (``loyalty.*``, ``commerce.*``) and, with no ``operation``,
        applies where the vendor spec documents it. ``stage``: an error or respond acts
        once the vendor's token, body and session checks pass (``"checked"``, the default)
        or ``"arrival"``, before them.
        """
        match = {
            "api": api,
            "operation": operation,
            "pathParams": path_params,
            "headers": headers,
            "body": body,
        }
        rule = {
            "id": rule_id,
            "description": description,
            "error": error,
            "fault": fault,
            "respond": respond,
            "delayMs": delay_ms,
            "delay": delay,
            "times": times,
            "after": after,
            "probability": probability,
            "ttlSeconds": ttl,
            "stage": stage,
            "match": {key: value for key, value in match.items() if value is not None},
        }
        return self.add_rule({key: value for key, value in rule.items() if value is not None})

    def add_rule(self, rule: dict[str, Any]) -> str:
        """Add a rule given in its JSON form (the shape of scenario files); return its id."""
        return self._call("POST", "/faults", json=rule)["id"]

    def rules(self) -> list[dict[str, Any]]:
        """The rules in match order, with their counters (``matched``, ``fired``, ``spent``)."""
        return self._call("GET", "/faults")

    def remove(self, rule_id: str) -> None:
        self._call("DELETE", f"/faults/{rule_id}")

    def clear_rules(self) -> None:
        """Remove every rule, and so deactivate every scenario."""
        self._call("DELETE", "/faults")

    def errors(self) -> list[dict[str, Any]]:
        """The error catalogue: name, status, body, fidelity of every injectable error."""
        return self._call("GET", "/errors")

    # --- scenarios ------------------------------------------------------------------------

    def scenarios(self) -> list[dict[str, Any]]:
        return self._call("GET", "/scenarios")

    def activate(self, name: str) -> dict[str, Any]:
        """Switch a scenario of the fixtures on; its rules go in front of the others.
        Returns the scenario (name, description, active)."""
        return self._call("PUT", f"/scenarios/{quote(name, safe='')}")

    def deactivate(self, name: str) -> dict[str, Any]:
        """Switch a scenario off and remove its rules; returns the scenario."""
        return self._call("DELETE", f"/scenarios/{quote(name, safe='')}")

    # --- journal --------------------------------------------------------------------------

    def requests(
        self,
        *,
        api: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        path: str | None = None,
        body: str | None = None,
        rule: str | None = None,
        since: str | None = None,
        until: str | None = None,
        after: int | None = None,
    ) -> list[dict[str, Any]]:
        """The vendor calls made in this namespace, oldest first (each with id, api,
        operation, method, path, query, headers, body, status, rule, fault, at, durationMs,
        response and actedBy). Filters: ``path`` and ``body`` are substrings (of the path;
        of the request or response body), ``rule`` the id of the rule that acted,
        ``since``/``until`` RFC 3339 times, ``after`` an entry id."""
        params = {
            "api": api,
            "operation": operation,
            "status": status,
            "limit": limit,
            "path": path,
            "body": body,
            "rule": rule,
            "since": since,
            "until": until,
            "after": after,
        }
        found = self._call(
            "GET", "/requests", params={k: v for k, v in params.items() if v is not None}
        )
        return found["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def near_misses(self, request_id: int) -> list[dict[str, Any]]:
        """Why each rule of the namespace did not act on one journaled call (its ``id``),
        closest rules first: each with ``rule``, ``reason``, ``detail`` and ``distance``."""
        return self._call("GET", f"/requests/{int(request_id)}/near-misses")["nearMisses"]

    # --- state, config, namespace ---------------------------------------------------------

    def state(self) -> dict[str, dict[str, Any]]:
        """A snapshot of the namespace's state: {collection: {key: document}}."""
        return self._call("GET", "/state")

    def restore(self, state: dict[str, dict[str, Any]]) -> None:
        self._call("PUT", "/state", json=state)

    def config(self, **changes: Any) -> dict[str, Any]:
        """The configuration; with keyword arguments, deep-merged first, e.g.
        ``config(loyalty={"extendedData": {"dataSizeLimitKb": 1}}, seed=7)``."""
        if changes:
            return self._call("PATCH", "/config", json=changes)
        return self._call("GET", "/config")

    def advance(
        self, seconds: float = 0, *, minutes: float = 0, hours: float = 0, days: float = 0
    ) -> float:
        """Move the namespace's time on, e.g. ``advance(minutes=16)``: tokens, rule lifetimes
        and whatever the vendor would do later follow it. Returns the namespace's offset."""
        step = seconds + 60 * minutes + 3600 * hours + 86400 * days
        answer = self._call("POST", "/clock", json={"advanceSeconds": step})
        return float(answer["offsetSeconds"])

    def clock(self) -> float:
        """How many seconds the namespace's time is ahead of the server's (0 after a reset)."""
        return float(self._call("GET", "/clock")["offsetSeconds"])

    def reset(self) -> None:
        """The namespace back to its fixtures: state, config, seed, rules, scenarios, journal
        and clock."""
        self._call("POST", "/reset")

    def reset_namespaces(self, names: list[str]) -> None:
        """What :meth:`reset` does, to each namespace of ``names`` (at most 1000), in one call."""
        self._call("POST", "/namespaces/reset", json={"namespaces": names})

    def health(self) -> bool:
        return self._call("GET", "/health") == {"status": "ok"}

    def view(self, namespace: str) -> Emulator:
        """An Emulator on another namespace of the same server, with the same token, sharing
        this one's connections; closing the view leaves them open."""
        return Emulator(
            self.url, namespace, token=self._token, timeout=self._timeout, client=self._http
        )

    def close(self) -> None:
        """No more calls through this Emulator; its own client (not a shared one) is closed."""
        self._closed = True
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Emulator({self.url!r}, namespace={self.namespace!r})"

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        response = self._http.request(
            method,
            self._control + path,
            headers=self._call_headers,
            timeout=self._timeout,
            **kwargs,
        )
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = response.text
            raise EmulatorError(method, f"/_emulator{path}", response.status_code, body)
        return response.json() if response.content else None


def new_http_client(timeout: float = 10.0) -> httpx.Client:
    """A client for Emulators to share (``Emulator(..., client=...)``): no default headers,
    a cookie jar that keeps nothing (what one namespace's call receives is never sent with
    another's), and the process's one default TLS context instead of loading the CA
    certificates for each client (~15 ms)."""
    return httpx.Client(
        timeout=timeout,
        verify=_tls_context(),
        cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
    )


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()
