"""The shopper profile webhooks this vendor fires (docs/webhooks.md): ``production-updateProfile``
("Shopper Profile Update") after updateProfile, ``production-createProfile`` ("Shopper
Profile Create", its id inferred) after createProfile; the body is the pages' envelope
``{"profileId", "profile", "siteId", "type"}``, the profile as the Admin API renders it."""

from __future__ import annotations

from typing import Any

from emulator.context import RequestContext
from emulator.vendors.commerce.profiles import render
from emulator.webhooks.envelope import Event

UPDATE = "production-updateProfile"
CREATE = "production-createProfile"  # inferred: the pages name the webhook, not its id
PROFILE_UPDATE = "atg.dps.ProfileUpdate"
PROFILE_CREATE = "atg.dps.ProfileCreate"  # inferred, as the update's type is named
DEFAULT_SITE = "siteUS"  # inferred: the site of a call without x-ccsite


def emit_profile(ctx: RequestContext, webhook: str, doc: dict[str, Any]) -> None:
    """The profile's event, for the dispatcher to publish once the write is committed."""
    kind = PROFILE_CREATE if webhook == CREATE else PROFILE_UPDATE
    payload = {
        "profileId": doc["id"],
        "profile": render(ctx.store, doc),
        "siteId": ctx.headers.get("x-ccsite") or DEFAULT_SITE,
        "type": kind,
    }
    ctx.emit(Event.of("commerce", webhook, doc["id"], kind, payload))
