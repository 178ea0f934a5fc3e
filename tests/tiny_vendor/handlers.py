"""Tiny's handlers: the vendor's checks, ``await ctx.checked()``, then state."""

from __future__ import annotations

from emulator.context import RequestContext
from emulator.errors import EmulatedError
from emulator.reply import Reply
from tests.tiny_vendor import errors


async def get_item(ctx: RequestContext) -> Reply:
    await ctx.checked()
    item = ctx.store["tiny.items"].get(ctx.path_params["item_id"])
    if item is None:
        raise EmulatedError(errors.NOT_FOUND, item=ctx.path_params["item_id"])
    return Reply(200, {"name": f"{ctx.config('tiny')['prefix']}{item['name']}"})


async def put_item(ctx: RequestContext) -> Reply:
    await ctx.checked()
    ctx.store["tiny.items"].put(ctx.path_params["item_id"], {"name": ctx.body["name"]})
    return Reply(200, {"name": ctx.body["name"]})
