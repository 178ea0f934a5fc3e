"""``/ccadmin/v1/webhooks`` ("Use the REST API to configure webhooks"): a partner's
provisioning script reads and sets the profile webhooks' target URLs and resend settings
with the vendor's own calls (getWebHook, getWebHooks, updateWebHook); they set the same
subscriber as ``PUT /_emulator/webhooks/{id}``. The secret key is the vendor's: made when
the webhook is first read or set, shown only with ``includeSecretKeys=true``."""

from __future__ import annotations

import base64
import secrets
from typing import Any

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.reply import Reply
from emulator.vendors.commerce import auth, errors
from emulator.vendors.commerce.webhooks import CREATE, UPDATE
from emulator.webhooks.hub import Webhooks
from emulator.webhooks.subscribers import Subscriber

# The webhooks this emulator fires (OCC has more; they are not emulated).
NAMES = {UPDATE: "updateProfile", CREATE: "createProfile"}
_SETTINGS = ("resendDelaySeconds", "maxNumberOfResendAttempts", "applyResendDelayToFirstAttempt")


def _subscriber(hooks: Webhooks, webhook: str) -> Subscriber:
    """The namespace's subscriber of ``webhook``, made (no URL, a new secret key) if none."""
    subscriber = hooks.subscribers.get(webhook)
    if subscriber is None:
        key = base64.b64encode(secrets.token_bytes(32)).decode("ascii")
        subscriber = hooks.subscribers[webhook] = Subscriber(webhook, (), key)
    return subscriber


def _shown(subscriber: Subscriber, with_keys: bool) -> dict[str, Any]:
    return {
        "id": subscriber.id,
        "name": NAMES[subscriber.id],
        "serverType": "production",
        "urls": list(subscriber.urls),
        "headers": {},
        "resendDelaySeconds": subscriber.resend_delay_seconds,
        "maxNumberOfResendAttempts": subscriber.max_attempts,
        "applyResendDelayToFirstAttempt": subscriber.delay_first,
        "secretKey": None,
        "secretKeySHA512": subscriber.secret if with_keys else None,
    }


def _webhook(ctx: RequestContext) -> str:
    webhook = ctx.path_params["webhook_id"]
    if webhook not in NAMES:
        raise EmulatedError(errors.WEBHOOK_NOT_FOUND, id=webhook)
    return webhook


async def get_web_hooks(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    await ctx.checked()
    with_keys = ctx.query.get("includeSecretKeys") == "true"
    hooks = ctx.namespace.webhooks
    return Reply(200, [_shown(_subscriber(hooks, name), with_keys) for name in sorted(NAMES)])


async def get_web_hook(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    webhook = _webhook(ctx)
    await ctx.checked()
    with_keys = ctx.query.get("includeSecretKeys") == "true"
    return Reply(200, _shown(_subscriber(ctx.namespace.webhooks, webhook), with_keys))


async def update_web_hook(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    webhook = _webhook(ctx)
    await ctx.checked()
    body: dict[str, Any] = ctx.body
    hooks = ctx.namespace.webhooks
    for url in body.get("urls") or ():
        reason = hooks.outbound.check(url)
        if reason is not None:
            raise EmulatedError(errors.INVALID_INPUT, detail=f"urls: {reason}")
    changes = {name: body[name] for name in _SETTINGS if name in body}
    if "urls" in body:
        changes["urls"] = body["urls"] or []
    subscriber = _subscriber(hooks, webhook).changed(changes)
    hooks.subscribers[webhook] = subscriber
    return Reply(200, _shown(subscriber, False))
