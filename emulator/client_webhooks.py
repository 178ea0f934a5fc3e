"""The client's webhook helpers (a mixin of :class:`emulator.client.Emulator`): register a
subscriber, break deliveries on purpose, and wait for or assert the deliveries the journal
holds (its ``direction: outbound`` entries, one per attempt)::

    emulator.subscribe("production-updateProfile", url=my_endpoint, secret="s3cret")
    ...  # the code under test updates a profile
    emulator.wait_for_webhook("production-updateProfile", profile="se-570031")
    emulator.assert_delivered("production-updateProfile", times=1, body={"type": "atg.dps.ProfileUpdate"})
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from emulator.client_verify import subset

UPDATE_PROFILE = "production-updateProfile"
POLL_SECONDS = 0.05


class _Client(Protocol):
    def _call(self, method: str, path: str, **kwargs: Any) -> Any: ...

    def requests(self, *, operation: str | None = None) -> list[dict[str, Any]]: ...

    def deliveries(
        self: _Client,
        webhook: str | None = None,
        *,
        profile: str | None = None,
        outcome: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...


class WebhookHelpers:
    """Mixed into the client, whose ``_call`` and ``requests`` it uses."""

    def subscribe(
        self: _Client, webhook: str, *, url: str, secret: str, **settings: Any
    ) -> dict[str, Any]:
        """Register ``url`` for ``webhook`` in this namespace; ``settings`` in the control
        API's names (``resendDelaySeconds=60``, ``maxNumberOfResendAttempts=3``, ...)."""
        body = {"url": url, "secret": secret, **settings}
        answer: dict[str, Any] = self._call("PUT", f"/webhooks/{webhook}", json=body)
        return answer

    def unsubscribe(self: _Client, webhook: str) -> None:
        self._call("DELETE", f"/webhooks/{webhook}")

    def webhooks(self: _Client) -> dict[str, Any]:
        """Subscribers, and the counts of messages pending, held, dropped and failed."""
        answer: dict[str, Any] = self._call("GET", "/webhooks")
        return answer

    def break_deliveries(
        self: _Client,
        action: str,
        *,
        webhook: str | None = None,
        times: int | None = None,
        delay_seconds: float | None = None,
    ) -> dict[str, Any]:
        """A delivery rule: ``delay``, ``drop``, ``duplicate``, ``reorder``, ``badSignature``."""
        rule: dict[str, Any] = {"action": action}
        for key, value in (("webhook", webhook), ("times", times), ("delaySeconds", delay_seconds)):
            if value is not None:
                rule[key] = value
        answer: dict[str, Any] = self._call("POST", "/webhook-faults", json=rule)
        return answer

    def deliveries(
        self: _Client,
        webhook: str | None = None,
        *,
        profile: str | None = None,
        outcome: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """The delivery attempts the journal holds, oldest first, that match: ``profile`` the
        message's profile id, ``outcome`` e.g. ``delivered``, ``status 503``, ``refused``,
        ``body`` a subset of what was sent."""
        found = self.requests(operation=webhook) if webhook else self.requests()
        return [
            entry
            for entry in found
            if entry.get("direction") == "outbound"
            and (profile is None or entry["delivery"]["key"] == profile)
            and (outcome is None or entry["delivery"]["outcome"] == outcome)
            and (body is None or subset(body, entry["body"]))
        ]

    def wait_for_webhook(
        self: _Client,
        webhook: str = UPDATE_PROFILE,
        *,
        profile: str | None = None,
        outcome: str | None = "delivered",
        body: dict[str, Any] | None = None,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[dict[str, Any]]:
        """Wait until ``count`` matching attempts are in the journal (see :meth:`deliveries`)
        and return them; AssertionError after ``timeout`` seconds, naming what was seen."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.deliveries(webhook, profile=profile, outcome=outcome, body=body)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                seen = [
                    (e["delivery"]["key"], e["delivery"]["attempt"], e["delivery"]["outcome"])
                    for e in self.deliveries(webhook)
                ]
                raise AssertionError(
                    f"expected {count} {outcome or 'any'} deliveries of {webhook} within "
                    f"{timeout:g}s; the journal holds these attempts (profile, attempt, "
                    f"outcome): {seen}"
                )
            time.sleep(POLL_SECONDS)

    def assert_delivered(
        self: _Client,
        webhook: str = UPDATE_PROFILE,
        *,
        profile: str | None = None,
        body: dict[str, Any] | None = None,
        times: int | None = None,
    ) -> list[dict[str, Any]]:
        """Assert that matching messages were delivered (a 2xx): exactly ``times`` of them,
        or at least one; return them."""
        found = self.deliveries(webhook, profile=profile, outcome="delivered", body=body)
        if (len(found) != times) if times is not None else not found:
            every = [
                (e["delivery"]["key"], e["delivery"]["attempt"], e["delivery"]["outcome"])
                for e in self.deliveries(webhook)
            ]
            wanted = "at least once" if times is None else f"{times} time(s)"
            raise AssertionError(
                f"expected {webhook} delivered {wanted}; it was delivered {len(found)} "
                f"time(s). Attempts (profile, attempt, outcome): {every}"
            )
        return found
