"""Oracle Commerce Cloud Admin API handlers: login, refresh, createProfile, getProfile, updateProfile.

Each is ``async def op(ctx) -> Reply``: the token, the id and the body's checks, then
``await ctx.checked()`` (where a waiting fault rule acts, REQUIREMENTS 5.11: 22001, "an
internal error while getting the profile", comes before the profile is read), then the
profile's look-up and business rules. Check-then-write sequences run under the namespace
lock with no ``await`` in between, so two concurrent calls can never both pass the email
uniqueness check.
"""

from __future__ import annotations

from typing import Any

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.reply import Reply
from emulator.vendors.commerce import auth, errors
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


async def create_profile(ctx: RequestContext) -> Reply:
    """POST /ccadmin/v1/profiles (inferred: for test setup; same fields as updateProfile)."""
    auth.require(ctx)
    body = ctx.body
    profiles = ctx.store["commerce.profiles"]
    check_input(ctx.store, body, ctx.deferred, True, None)
    await ctx.checked()
    with ctx.store.lock:
        check_rules(ctx.store, None, body, None)
        profile_id = f"{PROFILE_PREFIX}{next_number(ctx.store, 'profiles')}"
        doc = merge(ctx.store, blank(profile_id), body)
        profiles.put(profile_id, doc)
    emit_profile(ctx, CREATE, doc)
    return Reply(201, {"id": profile_id})


async def get_profile(ctx: RequestContext) -> Reply:
    """GET /ccadmin/v1/profiles/{id} (inferred read-back in the updateProfile_response shape)."""
    auth.require(ctx)
    profile_id = _profile_id(ctx)
    await ctx.checked()
    doc = ctx.store["commerce.profiles"].get(profile_id)
    if doc is None:
        raise EmulatedError(errors.PROFILE_NOT_FOUND, id=profile_id)
    return Reply(200, render(ctx.store, doc))


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
        check_rules(store, stored, body, subject)
        doc = merge(store, stored, body)
        profiles.put(profile_id, doc)
    emit_profile(ctx, UPDATE, doc)
    return Reply(200, render(store, doc))
