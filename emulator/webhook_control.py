"""``/_emulator/webhooks`` (openapi/control.yaml, tag Webhooks): a namespace's webhook
subscribers and the fault rules its deliveries obey; the deliveries themselves are in the
journal (``direction: outbound``)."""

from __future__ import annotations

from emulator.context import RequestContext
from emulator.errors import EmulatedError, VendorError, bad_request, echo, not_found
from emulator.reply import Reply
from emulator.runtime import Runtime
from emulator.webhooks.faults import TooManyDeliveryRules
from emulator.webhooks.subscribers import SubscriberError, make


class WebhookControl:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    async def list_webhooks(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/webhooks: subscribers, and how many messages wait or failed."""
        hooks = ctx.namespace.webhooks
        return Reply(
            200,
            {
                "subscribers": [s.to_dict() for _, s in sorted(hooks.subscribers.items())],
                **hooks.status(),
            },
        )

    async def put_webhook(self, ctx: RequestContext) -> Reply:
        """PUT /_emulator/webhooks/{webhook_id}: register (or replace) its subscriber."""
        await ctx.checked()
        webhook = ctx.path_params["webhook_id"]
        try:
            subscriber = make(webhook, ctx.body, self.runtime.outbound)
        except SubscriberError as exc:
            raise bad_request(str(exc)) from None
        ctx.namespace.webhooks.subscribers[webhook] = subscriber
        return Reply(200, subscriber.to_dict())

    async def get_webhook(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/webhooks/{webhook_id}"""
        webhook = ctx.path_params["webhook_id"]
        subscriber = ctx.namespace.webhooks.subscribers.get(webhook)
        if subscriber is None:
            raise self._unknown(ctx, webhook)
        return Reply(200, subscriber.to_dict())

    async def delete_webhook(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/webhooks/{webhook_id}: no more messages for it (those on their
        way still go)."""
        webhook = ctx.path_params["webhook_id"]
        if ctx.namespace.webhooks.subscribers.pop(webhook, None) is None:
            raise self._unknown(ctx, webhook)
        return Reply(204)

    @staticmethod
    def _unknown(ctx: RequestContext, webhook: str) -> EmulatedError:
        return not_found(
            f"No subscriber for webhook {echo(webhook)} in namespace {ctx.namespace.name!r}"
        )

    async def add_delivery_fault(self, ctx: RequestContext) -> Reply:
        """POST /_emulator/webhooks/faults"""
        await ctx.checked()
        try:
            rule = ctx.namespace.webhooks.faults.add(ctx.body)
        except TooManyDeliveryRules as exc:
            raise EmulatedError(
                VendorError(409, {"error": "too_many_rules", "detail": str(exc)})
            ) from None
        return Reply(201, rule.to_dict())

    async def list_delivery_faults(self, ctx: RequestContext) -> Reply:
        """GET /_emulator/webhooks/faults"""
        return Reply(200, [rule.to_dict() for rule in ctx.namespace.webhooks.faults.rules()])

    async def clear_delivery_faults(self, ctx: RequestContext) -> Reply:
        """DELETE /_emulator/webhooks/faults"""
        ctx.namespace.webhooks.faults.clear()
        return Reply(204)
