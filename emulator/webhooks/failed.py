"""The failed message log ("Manage failed webhook calls"): a message that was still not
delivered after its last attempt is kept here, to be read, deleted or resent through the
vendor's ``/ccadmin/v1/webhookFailedMessages`` operations. Bounded: past ``MAX_FAILED`` the
oldest message is dropped (and counted in ``dropped``)."""

from __future__ import annotations

import datetime
import itertools
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson

from emulator.webhooks.envelope import Event

MAX_FAILED = 1000  # failed messages a namespace keeps; the oldest goes first
FIRST_ID = 200001  # the pages' example id (PUT /ccadmin/v1/webhookFailedMessages/200001)


@dataclass(slots=True)
class FailedMessage:
    id: str
    event: Event
    url: str
    saved: float  # epoch seconds (the namespace's wall clock)
    error: str

    def to_dict(self) -> dict[str, Any]:
        saved = datetime.datetime.fromtimestamp(self.saved, datetime.UTC)
        return {
            "id": self.id,
            "messageType": self.event.message_type,
            "serverType": "production",
            "savedTime": saved.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "lastErrorMessage": self.error,
            "remainingTargetUrls": [self.url],
            "resend": False,
            "forwardMessage": orjson.loads(self.event.body),
        }


class FailedMessages:
    def __init__(self, limit: int = MAX_FAILED) -> None:
        self.limit = limit
        self.dropped = 0  # messages that fell off the bound
        self._messages: OrderedDict[str, FailedMessage] = OrderedDict()
        self._ids = itertools.count(FIRST_ID)

    def add(self, event: Event, url: str, saved: float, error: str) -> FailedMessage:
        message = FailedMessage(str(next(self._ids)), event, url, saved, error)
        self._messages[message.id] = message
        while len(self._messages) > self.limit:
            self._messages.popitem(last=False)
            self.dropped += 1
        return message

    def get(self, message_id: str) -> FailedMessage | None:
        return self._messages.get(message_id)

    def take(self, message_id: str) -> FailedMessage | None:
        """The message, removed from the log (deleted, or queued for resend)."""
        return self._messages.pop(message_id, None)

    def items(self) -> list[FailedMessage]:
        return list(self._messages.values())

    def __len__(self) -> int:
        return len(self._messages)

    def clear(self) -> None:
        self._messages.clear()
