"""``Webhooks``: what one namespace holds of webhooks (subscribers, delivery rules, failed
messages, messages on their way), and the three things the rest of the emulator asks of it:
publish a vendor's events, resend a failed message, stop (a reset)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from emulator.clock import NamespaceClock
from emulator.journal import Journal
from emulator.webhooks.delivery import Deliveries, Message
from emulator.webhooks.envelope import Event
from emulator.webhooks.failed import FailedMessages
from emulator.webhooks.faults import DeliveryFaults
from emulator.webhooks.subscribers import Outbound, Subscriber


class Webhooks:
    def __init__(
        self,
        clock: NamespaceClock,
        journal: Journal,
        outbound: Outbound,
        seed: Mapping[str, Subscriber] | None = None,
    ) -> None:
        self.outbound = outbound
        self.subscribers: dict[str, Subscriber] = dict(seed or {})
        self.faults = DeliveryFaults()
        self.failed = FailedMessages()
        self.deliveries = Deliveries(clock, journal, self.faults, self.failed, outbound.client)

    def publish(self, events: Iterable[Event]) -> None:
        """Queue each event for its webhook's URLs (none registered: nothing is sent).
        Called on the server's loop once the vendor call's writes are committed."""
        for event in events:
            subscriber = self.subscribers.get(event.webhook)
            if subscriber is None or (event.admin and not subscriber.admin_updates):
                continue
            for url in subscriber.urls:
                self.deliveries.send(Message(event, url, subscriber))

    def resend(self, message_id: str) -> bool:
        """A failed message queued again (attempts from the first); False: no such message."""
        failed = self.failed.take(message_id)
        if failed is None:
            return False
        subscriber = self.subscribers.get(failed.event.webhook)
        if subscriber is None:  # unregistered since: the message goes where it was going
            subscriber = Subscriber(failed.event.webhook, (failed.url,), "")
        self.deliveries.send(Message(failed.event, failed.url, subscriber))
        return True

    def status(self) -> dict[str, Any]:
        deliveries = self.deliveries
        return {
            "pending": deliveries.pending,
            "held": deliveries.held,
            "dropped": deliveries.dropped,
            "failed": len(self.failed),
            "failedDropped": self.failed.dropped,
        }

    def close(self) -> None:
        self.deliveries.close()
