"""The control API (/_emulator/, openapi/control.yaml): reset, faults, scenarios, journal,
state and config of the caller's namespace; the server's metrics.

Handlers have the vendor handlers' signature, ``async def op(ctx) -> Reply``, and are
methods of :class:`ControlAPI` so they reach the :class:`~emulator.runtime.Runtime`.
Connexion validates every request first; body failures are reported here (see
:class:`ControlErrors`) so the 400 names the field, in the fault engine's words.
"""

from __future__ import annotations

import copy
import datetime
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from jsonschema.exceptions import best_match

from emulator import docs, specs, ui
from emulator.context import RequestContext
from emulator.engine import TooManyRules
from emulator.errors import (
    EmulatedError,
    PlainErrors,
    RequestInvalid,
    VendorError,
    bad_request,
    echo,
    not_found,
)
from emulator.jsonyaml import MAX_NESTING
from emulator.metrics import Metrics
from emulator.near_misses import near_misses
from emulator.reply import Reply
from emulator.rules import FaultRule, RuleError, describe
from emulator.runtime import Namespace, Runtime
from emulator.schemas import Compiled
from emulator.specs import handler_name
from emulator.webhook_control import WebhookControl

PREFIX = "/_emulator/"
SPEC = "control.yaml"
# Health for readiness probes; the docs are read-only and hold no namespace data (emulator/docs.py).
# The dashboard's files hold no data either (emulator/ui): its script calls the API with the token.
OPEN_PATHS = frozenset({"/_emulator/health"}) | docs.OPEN_PATHS | ui.OPEN_PATHS
OPEN_PREFIXES = docs.OPEN_PREFIXES + ui.OPEN_PREFIXES
# A snapshot's documents sit two levels down ({collection: {key: document}}), and a stored
# document nests a level deeper than the vendor call that wrote it: a snapshot may nest twice
# a call's bound, which still leaves orjson (255 levels) room for the data file's own levels.
STATE_NESTING = 2 * MAX_NESTING
UNAUTHORIZED = VendorError(
    401,
    {
        "error": "unauthorized",
        "detail": "This server needs its control token: 'Authorization: Bearer <token>' "
        "or 'X-Emulator-Token: <token>'",
    },
    {"WWW-Authenticate": 'Bearer realm="profile-emulator"'},
)


def too_many_rules(namespace: Namespace, exc: TooManyRules) -> EmulatedError:
    """A rule (or a scenario's rules) the namespace has no room for: 409, until some go."""
    detail = f"Namespace {namespace.name!r} {exc}"
    return EmulatedError(VendorError(409, {"error": "too_many_rules", "detail": detail}))


def too_large(limit: int) -> VendorError:
    """A body over its operation's cap (control.yaml's `x-max-body-bytes`), refused unparsed."""
    return VendorError(
        413,
        {
            "error": "payload_too_large",
            "detail": f"Request body too large: this call takes at most {limit} bytes",
        },
    )


class ControlErrors(PlainErrors):
    """The control API's error shape, ``{"error", "detail"}``.

    A body that fails the spec is left to its handler (None), which may word it better (a
    fault rule, as the fault engine does); what it leaves is refused at ``ctx.checked()``,
    worded with the field's path.
    """

    def invalid_request(self, failure: RequestInvalid) -> VendorError | None:
        return None if failure.errors else super().invalid_request(failure)

    def unreported(self, errors: list[Any]) -> VendorError | None:
        return bad_request(describe(best_match(errors))).error


def token_guard(token: str) -> Callable[[str, Mapping[str, str]], VendorError | None]:
    """Refuse control calls without the token (health and the docs stay open: OPEN_PATHS)."""
    expected = token.encode("utf-8")

    def guard(path: str, headers: Mapping[str, str]) -> VendorError | None:
        if path in OPEN_PATHS or path.startswith(OPEN_PREFIXES):
            return None
        given = headers.get("x-emulator-token")
        if given is None:
            scheme, _, credentials = headers.get("authorization", "").partition(" ")
            given = credentials.strip() if scheme.lower() == "bearer" else None
        if given is not None and hmac.compare_digest(given.encode("latin-1"), expected):
            return None
        return UNAUTHORIZED

    return guard


def merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge: objects key by key, anything else replaced (copied)."""
    out = dict(base)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            out[key] = merge(base[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _instant(query: Mapping[str, str], name: str) -> int | None:
    """A date-time query parameter (RFC 3339, e.g. 2026-01-05T10:00:00Z) in epoch
    milliseconds (the journal's precision); one without a zone is UTC."""
    text = query.get(name)
    if text is None:
        return None
    try:
        when = datetime.datetime.fromisoformat(text)
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        return round(when.timestamp() * 1000)
    except (ValueError, OverflowError):
        raise bad_request(
            f"{name}: {echo(text)} is not a date-time such as 2026-01-05T10:00:00Z"
        ) from None


class ControlAPI:
    """The /_emulator/ handlers, bound to one runtime; operationId -> snake_case method."""

    def __init__(self, runtime: Runtime, metrics: Metrics) -> None:
        """``metrics``: the server's, which ``EmulatorApp`` counts vendor calls in."""
        self.runtime = runtime
        self.metrics = metrics
        self.docs = docs.Docs(
            {**{name: vendor.spec for name, vendor in runtime.vendors.items()}, "control": SPEC}
        )
        # The spec's Config takes `seed` and any vendor entry; each vendor's entry is held to
        # that vendor's own configuration schema (vendors are data: the spec names none).
        config = specs.shared(SPEC)["components"]["schemas"]["Config"]
        self.config_check = Compiled(
            {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **{
                        name: dict(vendor.config_schema) for name, vendor in runtime.vendors.items()
                    },
                    **config["properties"],
                },
            }
        )
        self.dashboard = ui.Dashboard()
        self.webhooks = WebhookControl(runtime)

    def handler(self, operation_id: str) -> Callable[..., Any]:
        # The Docs tag's operations are emulator/docs.py's, the UI tag's emulator/ui's, the
        # Metrics tag's emulator/metrics.py's.
        name = handler_name(operation_id)
        for owner in (self, self.docs, self.dashboard, self.metrics, self.webhooks):
            if hasattr(owner, name):
                handler: Callable[..., Any] = getattr(owner, name)
                return handler
        raise AttributeError(f"no handler {name} for the control operation {operation_id}")

    # --- server -----------------------------------------------------------------------

    async def health(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/health; with a data file its writes cannot reach, says why."""
        persistence = self.runtime.persistence_status
        if persistence is None or persistence == "ok":
            return Reply(200, {"status": "ok"})
        return Reply(200, {"status": "ok", "persistence": persistence})

    async def reset(self, ctx: RequestContext) -> Reply:
        """POST /_emulator/reset: state, config, seed, rules, scenarios and journal. The old
        namespace is freed once nothing uses it (a call still under way answers from it)."""
        self.runtime.reset(ctx.namespace.name)
        return Reply(204)

    async def reset_namespaces(self, ctx: RequestContext) -> Reply:
        """POST /_emulator/namespaces/reset: what reset does, to each namespace named."""
        await ctx.checked()
        for name in ctx.body["namespaces"]:
            self.runtime.reset(name)
        return Reply(204)

    async def list_namespaces(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/namespaces: the namespaces in use, with what each holds."""
        out = []
        for namespace in self.runtime.namespaces():
            rules = namespace.faults.rules()
            out.append(
                {
                    "name": namespace.name,
                    "requests": len(namespace.journal),
                    "latest": namespace.journal.last_id,
                    "rules": len(rules),
                    "spentRules": sum(rule.spent for rule in rules),
                    "activeScenarios": namespace.faults.active_scenarios(),
                }
            )
        return Reply(200, out)

    async def list_errors(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/errors"""
        listing = self.runtime.catalogue.listing()
        for entry in listing:
            headers = self.runtime.catalogue[entry["name"]].headers
            if headers:
                entry["headers"] = dict(headers)
        return Reply(200, listing)

    # --- faults -----------------------------------------------------------------------

    async def add_fault(self, ctx: RequestContext) -> Reply:
        """POST /_emulator/faults"""
        try:
            rule = FaultRule.parse(ctx.body, known_errors=self.runtime.contract)
            await ctx.checked()  # the spec's words for what parse let through
            rule_id = ctx.namespace.faults.add(rule)
        except TooManyRules as exc:
            raise too_many_rules(ctx.namespace, exc) from None
        except RuleError as exc:
            raise bad_request(str(exc)) from None
        return Reply(201, {"id": rule_id})

    async def list_faults(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/faults"""
        return Reply(200, [rule.to_dict() for rule in ctx.namespace.faults.rules()])

    async def clear_faults(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/faults (scenario rules too: every scenario is deactivated)."""
        ctx.namespace.faults.clear()
        return Reply(204)

    async def remove_fault(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/faults/{fault_id}"""
        fault_id = ctx.path_params["fault_id"]
        if not ctx.namespace.faults.remove(fault_id):
            raise not_found(f"No fault rule {echo(fault_id)} in namespace {ctx.namespace.name!r}")
        return Reply(204)

    # --- scenarios --------------------------------------------------------------------

    def _scenario(self, ctx: RequestContext) -> tuple[str, dict[str, Any]]:
        # Scenarios were read from fixtures/scenarios/ at start: a name is looked up in
        # that table, never turned into a path, so it cannot reach outside the folder.
        name = ctx.path_params["name"]
        scenario = self.runtime.scenarios.get(name)
        if scenario is None:
            known = ", ".join(sorted(self.runtime.scenarios)) or "none"
            raise not_found(f"No scenario {echo(name)} (known: {known})")
        return name, {"name": name, "description": scenario.description}

    async def list_scenarios(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/scenarios"""
        active = set(ctx.namespace.faults.active_scenarios())
        return Reply(
            200,
            [
                {"name": name, "description": scenario.description, "active": name in active}
                for name, scenario in sorted(self.runtime.scenarios.items())
            ],
        )

    async def activate_scenario(self, ctx: RequestContext) -> Reply:
        """PUT /_emulator/scenarios/{name}: its rules go in front, with fresh counters."""
        name, listing = self._scenario(ctx)
        try:
            rules = self.runtime.scenarios[name].parse_rules(known_errors=self.runtime.contract)
        except RuleError as exc:  # e.g. it names an error of a vendor this server lacks
            raise bad_request(str(exc)) from None
        try:
            ctx.namespace.faults.activate(name, rules)
        except TooManyRules as exc:
            raise too_many_rules(ctx.namespace, exc) from None
        return Reply(200, {**listing, "active": True})

    async def deactivate_scenario(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/scenarios/{name}"""
        name, listing = self._scenario(ctx)
        ctx.namespace.faults.deactivate(name)
        return Reply(200, {**listing, "active": False})

    # --- journal ----------------------------------------------------------------------

    async def list_requests(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/requests?api=&operation=&status=&path=&body=&rule=&since=&until=
        &after=&limit= (validated by Connexion; the times are read here)."""
        query = ctx.query
        api = query.get("api")
        if api is not None and api not in self.runtime.vendors:
            raise bad_request(
                f"query parameter 'api': {echo(api)} is not one of {list(self.runtime.vendors)!r}"
            )
        status, limit, after = query.get("status"), query.get("limit"), query.get("after")
        entries = ctx.namespace.journal.entries(
            api=query.get("api"),
            operation=query.get("operation"),
            status=None if status is None else int(status),
            limit=None if limit is None else int(limit),
            path=query.get("path"),
            body=query.get("body"),
            rule=query.get("rule"),
            since=_instant(query, "since"),
            until=_instant(query, "until"),
            after=None if after is None else int(after),
        )
        return Reply(200, {"count": len(entries), "requests": [e.to_dict() for e in entries]})

    async def near_misses(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/requests/{request_id}/near-misses"""
        request_id = int(ctx.path_params["request_id"])
        entry = ctx.namespace.journal.get(request_id)
        if entry is None:
            raise not_found(
                f"No request {request_id} in the journal of namespace {ctx.namespace.name!r}"
            )
        return Reply(
            200,
            {
                "request": entry.id,
                "actedBy": None if entry.acted is None else entry.acted.to_dict(),
                "nearMisses": near_misses(entry.weighing, entry.call()),
            },
        )

    async def clear_requests(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/requests"""
        ctx.namespace.journal.clear()
        return Reply(204)

    # --- state and config -------------------------------------------------------------

    async def get_state(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/state: {collection: {key: document}}"""
        return Reply(200, ctx.namespace.store.snapshot())

    async def put_state(self, ctx: RequestContext) -> Reply:
        """PUT /_emulator/state: restore a snapshot (collections left out are emptied)."""
        await ctx.checked()
        try:
            self.runtime.check_state(ctx.body)  # the one state schema
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        # The parsed body belongs to this call alone: the store takes it as is (no deep
        # copy, and nothing of 10k documents left to free after the answer).
        ctx.namespace.store.restore(ctx.body, copied=True)
        return Reply(204)

    async def get_clock(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/clock"""
        return Reply(200, {"offsetSeconds": ctx.namespace.clock.offset})

    async def advance_clock(self, ctx: RequestContext) -> Reply:
        """POST /_emulator/clock: the namespace's time moves on (the spec bounds the step)."""
        await ctx.checked()
        return Reply(
            200, {"offsetSeconds": ctx.namespace.clock.advance(ctx.body["advanceSeconds"])}
        )

    async def get_config(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/config"""
        return Reply(200, ctx.namespace.config)

    async def patch_config(self, ctx: RequestContext) -> Reply:
        """PATCH /_emulator/config: a deep merge, validated by the spec's Config schema."""
        await ctx.checked()
        errors = self.config_check.errors(ctx.body)
        if errors:
            raise bad_request(describe(best_match(errors)))
        namespace = ctx.namespace
        namespace.config = merge(namespace.config, ctx.body)  # one swap: handlers see old or new
        if "seed" in ctx.body:
            namespace.faults.reseed(ctx.body["seed"])
        return Reply(200, namespace.config)
