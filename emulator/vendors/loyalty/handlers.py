"""ES Loyalty CUX API handlers: enrollMember, startSession, updateProfile, getProfile, getExtendedData.

Each is ``async def op(ctx) -> Reply``: the vendor's own checks (session, body), then
``await ctx.checked()`` (where a waiting fault rule acts, docs/decisions.md#11), then the
business rules and writes as one check-then-write sequence without an ``await`` and under
the namespace lock, so concurrent calls can never both pass a uniqueness check.
"""

from __future__ import annotations

from typing import Any

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.reply import Reply
from emulator.vendors.loyalty import errors
from emulator.vendors.loyalty.checks import check_business, check_fields

# Primary attributes kept on the account (extendedData lives apart, per source).
PRIMARY = (
    "dateOfBirth",
    "gender",
    "firstName",
    "lastName",
    "email",
    "businessName",
    "postalZipCode",
    "street",
    "street2",
    "provinceState",
    "phoneNumber",
    "languagePreference",
    "city",
    "channel",
    "enrollmentChannel",
    "retailId",
)
IDENTIFIER_INDEX = {
    "LOYALTY_ID": "loyaltyId",
    "EXTERNAL_ID": "externalId",
    "EMAIL": "email",
    "PARTNER_LINK_ID": "partnerLinkId",
    "PHONE_NUMBER": "phoneNumber",
    "EXTERNAL_AGENT_ID": "externalAgentId",
}
PROFILE_UPDATED = {"debugMessage": "Profile Updated"}
# An enrolment's ids are made of the number its counter issues: ten digits each (inferred
# from the seed accounts' form, 1000000001 / 7000000001), so the number is below ID_NUMBERS.
ACCOUNT_ID_BASE, LOYALTY_ID_BASE = 1_000_000_000, 7_000_000_000
ID_NUMBERS = 3_000_000_000


def digits(value: str | None) -> str | None:
    """The decimal digits of a phone number, the key of the phone index."""
    return "".join(filter(str.isdecimal, value)) or None if value else None


def _primary(body: dict[str, Any], profile: dict[str, Any] | None = None) -> dict[str, Any]:
    """``profile`` (a new dict when None) with the body's primary attributes set on it."""
    values = {} if profile is None else profile
    for key in PRIMARY:
        if (value := body.get(key)) is not None:
            values[key] = value
    if body.get("postalZipCode") is None and body.get("postalCode") is not None:
        values["postalZipCode"] = body["postalCode"]  # the deprecated alias
    return values


def _store_emd(
    ctx: RequestContext,
    account: dict[str, Any],
    body: dict[str, Any],
    source: str,
    new_keys: list[str],
) -> None:
    if body.get("extendedData") is None:
        return  # omitted: EMD unchanged
    account["emd"][source] = body["extendedData"]
    registry = ctx.store["loyalty.emdKeys"]
    for key in new_keys:
        registry.put(key, {"key": key, "source": source})


def _session_account(ctx: RequestContext) -> dict[str, Any]:
    correlation_id = ctx.path_params.get("correlation_id", "")
    if not correlation_id.strip():
        raise EmulatedError(errors.MISSING_CORRELATION_ID)
    session = ctx.store["loyalty.sessions"].get(correlation_id)
    account = session and ctx.store["loyalty.accounts"].get(session["accountId"])
    if account is None:
        raise EmulatedError(errors.UNKNOWN_SESSION, correlationId=correlation_id)
    return account


async def enroll_member(ctx: RequestContext) -> Reply:
    """POST /client/users (inferred: the seed documents updateProfile only)."""
    body, config = ctx.body, ctx.config("loyalty")
    check_fields(body, ctx.deferred, config)
    await ctx.checked()
    with ctx.store.lock:
        source, new_keys = check_business(ctx.store, body, config, None)
        number = ctx.store.issue("loyalty.counters", "accounts")
        account: dict[str, Any] = {
            "accountId": str(ACCOUNT_ID_BASE + number),
            "loyaltyId": str(LOYALTY_ID_BASE + number),
            "profile": _primary(body),
            "emd": {},
        }
        for key in ("externalId", "partnerLinkId", "externalAgentId"):
            if body.get(key) is not None:
                account[key] = body[key]
        _store_emd(ctx, account, body, source, new_keys)
        ctx.store["loyalty.accounts"].put(account["accountId"], account)
    return Reply(201, {"accountId": account["accountId"], "loyaltyId": account["loyaltyId"]})


async def start_session(ctx: RequestContext) -> Reply:
    """POST /client/users/{identifier}/sessions with X-Identifier-Type (ACCOUNT_ID by default)."""
    body = ctx.body
    correlation_id, channel = body.get("correlationId"), body.get("channel")
    if not isinstance(correlation_id, str) or not correlation_id.strip():
        raise EmulatedError(errors.MISSING_CORRELATION_ID)
    if not isinstance(channel, str) or not channel.strip():
        raise EmulatedError(errors.MISSING_CHANNEL)
    identifier = ctx.path_params["identifier"]
    kind = ctx.headers.get("x-identifier-type", "ACCOUNT_ID")
    accounts = ctx.store["loyalty.accounts"]
    if kind == "ACCOUNT_ID":
        account = accounts.get(identifier)
    elif kind == "EMAIL":
        account = accounts.find("email", identifier.lower())
    elif kind == "PHONE_NUMBER":
        account = accounts.find("phoneNumber", digits(identifier))
    else:
        account = accounts.find(IDENTIFIER_INDEX[kind], identifier)
    if account is None:
        raise EmulatedError(errors.ACCOUNT_NOT_FOUND, identifierType=kind, identifier=identifier)
    await ctx.checked()  # the account's look-up is the vendor's own check, as a session's is
    session = {
        "correlationId": correlation_id,
        "accountId": account["accountId"],
        "channel": channel,
    }
    if body.get("externalAgentSessionId") is not None:
        session["externalAgentSessionId"] = body["externalAgentSessionId"]
    ctx.store["loyalty.sessions"].put(correlation_id, session)
    return Reply(
        201,
        {
            "accountId": account["accountId"],
            "loyaltyId": account["loyaltyId"],
            "correlationId": correlation_id,
            "channel": channel,
        },
    )


async def update_profile(ctx: RequestContext) -> Reply:
    """PUT /client/users/{correlation_id}/profile - Update Profile with Extended Data (seed 000)."""
    body, config = ctx.body, ctx.config("loyalty")
    account = _session_account(ctx)
    check_fields(body, ctx.deferred, config)
    stale = await ctx.checked()
    with ctx.store.lock:
        if stale:
            account = _session_account(ctx)
        source, new_keys = check_business(ctx.store, body, config, account["accountId"])
        updated = {
            **account,
            "profile": _primary(body, dict(account["profile"])),
            "emd": dict(account["emd"]),
        }
        _store_emd(ctx, updated, body, source, new_keys)
        ctx.store["loyalty.accounts"].put(updated["accountId"], updated)
    return Reply(200, PROFILE_UPDATED)


async def get_profile(ctx: RequestContext) -> Reply:
    """GET /client/users/{correlation_id}/profile (inferred read-back)."""
    account = _session_account(ctx)
    if await ctx.checked():
        account = _session_account(ctx)
    attributes = {key: value for key, value in account["profile"].items() if value is not None}
    return Reply(
        200, {"accountId": account["accountId"], "loyaltyId": account["loyaltyId"], **attributes}
    )


async def get_extended_data(ctx: RequestContext) -> Reply:
    """GET /client/users/{correlation_id}/profile/emd (inferred): merged EMD, {} when none."""
    account = _session_account(ctx)
    if await ctx.checked():
        account = _session_account(ctx)
    source = ctx.query.get("extendedDataSource") or None  # a blank one is none
    if source is not None:
        return Reply(200, account["emd"].get(source, {}))
    merged: dict[str, Any] = {}
    for emd in account["emd"].values():
        merged.update(emd)
    return Reply(200, merged)
