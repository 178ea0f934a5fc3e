"""``/ccadmin/v1/webhookFailedMessages`` ("Manage failed webhook calls"): the namespace's failed
webhook messages, viewed, deleted or queued for resend (``{"resend": true}``)."""

from __future__ import annotations

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.reply import Reply
from emulator.vendors.commerce import auth, errors
from emulator.webhooks.failed import FailedMessage


def _message(ctx: RequestContext) -> FailedMessage:
    message_id = ctx.path_params["message_id"]
    message = ctx.namespace.webhooks.failed.get(message_id)
    if message is None:
        raise EmulatedError(errors.FAILED_MESSAGE_NOT_FOUND, id=message_id)
    return message


async def get_failed_messages(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    await ctx.checked()
    items = ctx.namespace.webhooks.failed.items()
    offset = int(ctx.query.get("offset", 0))
    limit = int(ctx.query.get("limit", 250))
    page = [m.to_dict() for m in items[offset : offset + limit]]
    return Reply(
        200,
        {
            "items": page,
            "limit": limit,
            "offset": offset,
            "total": len(items),
            "totalResults": len(items),
        },
    )


async def get_failed_message(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    await ctx.checked()
    return Reply(200, _message(ctx).to_dict())


async def update_failed_message(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    await ctx.checked()
    message = _message(ctx)
    shown = message.to_dict()
    if ctx.body.get("resend") is True:
        ctx.namespace.webhooks.resend(message.id)
        shown["resend"] = True
    return Reply(200, shown)


async def delete_failed_message(ctx: RequestContext) -> Reply:
    auth.require(ctx)
    await ctx.checked()
    ctx.namespace.webhooks.failed.take(_message(ctx).id)
    return Reply(204)
