"""Oracle Commerce Cloud Admin API handlers: login, refresh, listProfiles, createProfile,
getProfile, updateProfile.

Each is ``async def op(ctx) -> Reply``: the token, the id and the body's checks, then
``await ctx.checked()`` (where a waiting fault rule acts, docs/decisions.md#11: 22001, "an
internal error while getting the profile", comes before the profile is read), then the
profile's look-up and business rules. Check-then-write sequences run under the namespace
lock with no ``await`` in between, so two concurrent calls can never both pass the email
uniqueness check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from emulator.context import RequestContext
from emulator.errors import DETAIL, EmulatedError, echo
from emulator.reply import Reply
from emulator.vendors.commerce import auth, errors, listing
from emulator.vendors.commerce.checks import check_input
from emulator.vendors.commerce.documents import PROFILE_PREFIX
from emulator.vendors.commerce.failed_messages import (
    delete_failed_message as delete_failed_message,
)
from emulator.vendors.commerce.failed_messages import get_failed_message as get_failed_message
from emulator.vendors.commerce.failed_messages import get_failed_messages as get_failed_messages
from emulator.vendors.commerce.failed_messages import (
    update_failed_message as update_failed_message,
)
from emulator.vendors.commerce.profiles import blank, merge, next_number, render
from emulator.vendors.commerce.rules import check_rules
from emulator.vendors.commerce.webhook_admin import get_web_hook as get_web_hook
from emulator.vendors.commerce.webhook_admin import get_web_hooks as get_web_hooks
from emulator.vendors.commerce.webhook_admin import update_web_hook as update_web_hook
from emulator.vendors.commerce.webhooks import CREATE, UPDATE, emit_profile

PROFILES = "/ccadmin/v1/profiles"


def links(ctx: RequestContext, path: str) -> list[dict[str, str]]:
    """The vendor's `links`: the URL of ``path`` on the host the call was sent to."""
    return [{"rel": "self", "href": f"http://{ctx.headers.get('host') or 'localhost'}{path}"}]


def _profile_id(ctx: RequestContext) -> str:
    profile_id = ctx.path_params.get("profile_id", "")
    if not profile_id.strip():
        raise EmulatedError(errors.PROFILE_ID_BLANK)
    return profile_id


async def login(ctx: RequestContext) -> Reply:
    """POST /ccadmin/v1/login - grant_type=client_credentials with the application key as the
    bearer; or (inferred) grant_type=password with a seeded user's email and password."""
    subject = auth.login_subject(ctx, ctx.body)  # the form, as the spec checks parsed it
    await ctx.checked()
    return Reply(200, auth.issue(ctx, subject))


async def refresh(ctx: RequestContext) -> Reply:
    """POST /ccadmin/v1/refresh - a new token for the subject of a valid one."""
    subject = auth.require(ctx) or {"type": "application", "id": "anonymous"}
    await ctx.checked()
    return Reply(200, auth.issue(ctx, subject))


async def list_profiles(ctx: RequestContext) -> Reply:
    """GET /ccadmin/v1/profiles - listProfiles: the profiles `q` picks, sorted, one page of
    them, each in getProfile's shape as `fields` and `exclude` say."""
    auth.require(ctx)
    query = ctx.query
    await ctx.checked()
    try:
        picked = listing.matching(ctx.store["commerce.profiles"], query.get("q"), query.get("sort"))
    except listing.QueryError as exc:
        raise EmulatedError(errors.INVALID_QUERY, detail=echo(str(exc), DETAIL)) from None
    limit = int(query.get("limit", listing.DEFAULT_LIMIT))
    offset = int(query.get("offset", 0))
    projection = listing.Projection.of(query.get("fields"), query.get("exclude"))
    items = [projection.item(_shown(ctx, doc)) for doc in picked[offset : offset + limit]]
    url = PROFILES + (
        f"?{ctx.request.query_string.decode('latin-1')}" if ctx.request.query_string else ""
    )
    answer = {
        "total": len(picked),
        "totalResults": len(picked),
        "offset": offset,
        "limit": limit,
        "links": links(ctx, url),
        "items": items,
    }
    return Reply(200, {k: v for k, v in answer.items() if k in projection.list_keys})


def _shown(ctx: RequestContext, doc: Mapping[str, Any]) -> dict[str, Any]:
    return {**render(ctx.store, doc), "links": links(ctx, f"{PROFILES}/{doc['id']}")}


async def create_profile(ctx: RequestContext) -> Reply:
    """POST /ccadmin/v1/profiles - createProfile: the new profile's id and its link; `login`
    is the email unless sent (the vendor's "Create a shopper profile"), and follows it then."""
    auth.require(ctx)
    body = ctx.body
    profiles = ctx.store["commerce.profiles"]
    check_input(ctx.store, body, ctx.deferred, True, None)
    await ctx.checked()
    with ctx.store.lock:
        check_rules(ctx.store, None, body, None, ctx.config("commerce"))
        profile_id = f"{PROFILE_PREFIX}{next_number(ctx.store, 'profiles')}"
        doc = merge(ctx.store, blank(profile_id), body)
        doc["login"] = body.get("login") or None  # None: the email's, whatever it becomes
        profiles.put(profile_id, doc)
    emit_profile(ctx, CREATE, doc)
    return Reply(201, {"id": profile_id, "links": links(ctx, PROFILES)})


async def get_profile(ctx: RequestContext) -> Reply:
    """GET /ccadmin/v1/profiles/{id} - the stored profile in the updateProfile_response
    shape, with its `links` (the vendor's "View a shopper profile")."""
    auth.require(ctx)
    profile_id = _profile_id(ctx)
    await ctx.checked()
    doc = ctx.store["commerce.profiles"].get(profile_id)
    if doc is None:
        raise EmulatedError(errors.PROFILE_NOT_FOUND, id=profile_id)
    return Reply(200, _shown(ctx, doc))


async def update_profile(ctx: RequestContext) -> Reply:
    """PUT /ccadmin/v1/profiles/{id} - updateProfile (seed 002).

    Sent fields replace the stored ones; the response is the whole updated profile.
    """
    subject = auth.require(ctx)
    profile_id = _profile_id(ctx)
    body: Any = ctx.body
    store = ctx.store
    profiles = store["commerce.profiles"]
    stored = profiles.get(profile_id)
    check_input(store, body, ctx.deferred, False, stored["parentOrganization"] if stored else None)
    stale = await ctx.checked()
    with store.lock:
        if stale:
            stored = profiles.get(profile_id)
        if stored is None:
            raise EmulatedError(errors.PROFILE_NOT_FOUND, id=profile_id)
        check_rules(store, stored, body, subject, ctx.config("commerce"))
        doc = merge(store, stored, body)
        profiles.put(profile_id, doc)
    emit_profile(ctx, UPDATE, doc)
    return Reply(200, render(store, doc))
