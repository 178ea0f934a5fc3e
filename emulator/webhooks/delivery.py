"""Delivery: each message POSTed to its subscriber's URL on the server's event loop, never in
the vendor call that caused it; resent on the namespace's clock until a 2xx or the last
attempt ("Manage failed webhook calls"), then kept in the failed message log.

Order: the messages of one (webhook, URL, profile) go out one after the other, in the order
they happened, each with all its attempts before the next (a queue and one task per key,
made when a message arrives and ended when the queue is empty); other profiles go on
meanwhile. Bound: at most ``MAX_PENDING`` messages wait in a namespace; past it a new
message is not queued and is counted in ``dropped`` (and logged). Every attempt is a journal
entry (``direction: outbound``)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from emulator.clock import NamespaceClock
from emulator.journal import JOURNAL_BODY_BYTES, Journal, JournalEntry, Response, body_kept
from emulator.webhooks.envelope import Event, forged, headers, sign
from emulator.webhooks.failed import FailedMessages
from emulator.webhooks.faults import DeliveryFaults, DeliveryRule
from emulator.webhooks.subscribers import Subscriber

log = logging.getLogger("emulator")

MAX_PENDING = 10_000  # messages waiting in a namespace (retries included)
# The failed message log's words, as the vendor's examples write them.
_FAILED = "atg.service.webhook.WebHookException: "

Key = tuple[str, str, str]  # (webhook, url, the event's key: its profile)


@dataclass(slots=True)
class Message:
    event: Event
    url: str
    subscriber: Subscriber  # as registered when the message was made


class Deliveries:
    """One namespace's messages on their way, on the server's loop."""

    def __init__(
        self,
        clock: NamespaceClock,
        journal: Journal,
        faults: DeliveryFaults,
        failed: FailedMessages,
        client: Callable[[], httpx.AsyncClient],
    ) -> None:
        self.clock = clock
        self.journal = journal
        self.faults = faults
        self.failed = failed
        self._client = client
        self._queues: dict[Key, deque[Message]] = {}
        self._held: dict[Key, deque[Message]] = {}  # set aside by `reorder`: after the next
        self._running: dict[Key, asyncio.Task[None]] = {}
        self.pending = 0  # queued, held or being delivered
        self.dropped = 0  # refused at the bound
        self.closed = False

    def send(self, message: Message) -> bool:
        """Queue ``message`` (called on the loop); False when it is refused at the bound."""
        if self.closed:
            return False
        if self.pending >= MAX_PENDING:
            self.dropped += 1
            log.warning(
                "webhook %s: %d messages already wait in this namespace; this one is dropped",
                message.event.webhook,
                MAX_PENDING,
            )
            return False
        key = (message.event.webhook, message.url, message.event.key)
        self._queues.setdefault(key, deque()).append(message)
        self.pending += 1
        if key not in self._running:
            self._running[key] = asyncio.get_running_loop().create_task(self._drain(key))
        return True

    @property
    def held(self) -> int:
        return sum(map(len, self._held.values()))

    def close(self) -> None:
        """Stop: nothing more is sent (a reset, the server's shutdown)."""
        self.closed = True
        for task in list(self._running.values()):
            task.cancel()
        self._running.clear()
        self._queues.clear()
        self._held.clear()
        self.pending = 0

    async def _drain(self, key: Key) -> None:
        queue = self._queues[key]
        try:
            while queue:
                message = queue.popleft()
                rule = self.faults.take(message.event.webhook)
                if rule is not None and rule.action == "reorder":
                    self._held.setdefault(key, deque()).append(message)
                    continue
                await self._deliver(message, rule)
                for late in self._held.pop(key, ()):
                    await self._deliver(late, None)
        finally:
            if self._running.get(key) is asyncio.current_task():
                del self._running[key]
                if not queue:
                    self._queues.pop(key, None)

    async def _deliver(self, message: Message, rule: DeliveryRule | None) -> None:
        try:
            await self._attempts(message, rule)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug must not stop the profile's later messages
            log.exception("webhook %s: delivery failed", message.event.webhook)
        finally:
            if not self.closed:  # close() has counted every message out already
                self.pending -= 1

    async def _attempts(self, message: Message, rule: DeliveryRule | None) -> None:
        subscriber = message.subscriber
        if rule is not None and rule.action == "delay":
            await self.clock.sleep_until(self.clock.now() + rule.delay_seconds)
        if rule is not None and rule.action == "drop":
            self._record(message, 1, rule, "dropped", None, None, 0.0)
            return
        if subscriber.delay_first:
            await self.clock.sleep_until(self.clock.now() + subscriber.resend_delay_seconds)
        attempt = 0
        while True:
            attempt += 1
            acting = rule if attempt == 1 else None  # a rule acts on the first attempt
            error = await self._attempt(message, attempt, acting)
            if acting is not None and acting.action == "duplicate":
                await self._attempt(message, attempt, acting)
            if error is None:
                return
            if attempt >= subscriber.max_attempts:
                self.failed.add(message.event, message.url, self.clock.wall(), error)
                return
            await self.clock.sleep_until(self.clock.now() + subscriber.resend_delay_seconds)

    async def _attempt(
        self, message: Message, attempt: int, rule: DeliveryRule | None
    ) -> str | None:
        """One POST; None when the subscriber answered 2xx, else the failed log's words."""
        event, url, subscriber = message.event, message.url, message.subscriber
        wrong = rule is not None and rule.action == "badSignature"
        signature = (forged if wrong else sign)(subscriber.secret, event.body)
        sent = headers(event.body, signature)
        began = self.clock.base.now()
        response: Response | None = None
        try:
            async with asyncio.timeout(subscriber.timeout_seconds):
                response = await self._post(url, event.body, sent)
        except TimeoutError:
            outcome, error = "timeout", "java.net.SocketTimeoutException: Read timed out"
        except httpx.ConnectError:
            outcome = "refused"
            error = "java.net.ConnectException: Connection refused (Connection refused)"
        except httpx.HTTPError as exc:
            outcome, error = "error", f"java.io.IOException: {type(exc).__name__}"
        else:
            if 200 <= response.status < 300:
                outcome, error = "delivered", ""
            else:
                outcome = f"status {response.status}"
                error = (
                    f"Invalid response code of {response.status} received for webhook "
                    f"{event.webhook} from {url}"
                )
        elapsed = (self.clock.base.now() - began) * 1000
        self._record(message, attempt, rule, outcome, sent, response, elapsed)
        return None if outcome == "delivered" else _FAILED + error

    async def _post(self, url: str, body: bytes, sent: dict[str, str]) -> Response:
        """The subscriber's answer: status, headers, the first 64 KiB of its body."""
        client = self._client()
        async with client.stream("POST", url, content=body, headers=sent) as reply:
            chunks: list[bytes] = []
            size = 0
            async for chunk in reply.aiter_raw():
                chunks.append(chunk)
                size += len(chunk)
                if size >= JOURNAL_BODY_BYTES:
                    break
            return Response(reply.status_code, reply.headers.raw, chunks)

    def _record(
        self,
        message: Message,
        attempt: int,
        rule: DeliveryRule | None,
        outcome: str,
        sent: dict[str, str] | None,
        response: Response | None,
        elapsed_ms: float,
    ) -> None:
        event = message.event
        self.journal.record(
            JournalEntry(
                at=time.time(),
                api=event.api,
                operation=event.webhook,
                method="POST",
                path=message.url,
                query="",
                headers={name.lower(): value for name, value in (sent or {}).items()},
                raw_body=body_kept(event.body) if sent is not None else b"",
                status=None if response is None else response.status,
                rule=None if rule is None else rule.id,
                fault=None,
                response=response,
                duration_ms=round(elapsed_ms, 3),
                body_size=len(event.body) if sent is not None else 0,
                delivery={
                    "key": event.key,
                    "attempt": attempt,
                    "of": message.subscriber.max_attempts,
                    "outcome": outcome,
                    "fault": None if rule is None else rule.action,
                },
            )
        )
