"""Fault rules for deliveries (``POST /_emulator/webhooks/faults``): what the emulator does
wrong on purpose when it delivers a webhook message, as a WireMock or moto user breaks an
outbound call: delay it, drop it, send it twice, send it after the next one (out of order),
or sign it wrongly. The first rule that matches a message acts (``times``: how often, then
it is spent and listed as such)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

MAX_RULES = 100  # delivery rules a namespace holds at once
# A rule's shape (action: delay, drop, duplicate, reorder, badSignature; webhook; delaySeconds;
# times) is checked by its spec (openapi/control.yaml, DeliveryRuleRequest) before it comes here.


class TooManyDeliveryRules(Exception):
    pass


@dataclass(slots=True)
class DeliveryRule:
    id: str
    action: str
    webhook: str | None = None  # None: every webhook
    delay_seconds: float = 0.0
    times: int | None = None  # None: every matching message
    fired: int = 0

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "webhook": self.webhook,
            "delaySeconds": self.delay_seconds,
            "times": self.times,
            "fired": self.fired,
            "spent": self.spent,
        }


class DeliveryFaults:
    """One namespace's delivery rules, in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[DeliveryRule] = []
        self._ids = itertools.count(1)

    def add(self, data: dict[str, Any]) -> DeliveryRule:
        """A rule from a body its spec has checked; an id given again replaces that rule."""
        rule_id = data.get("id") or f"delivery-{next(self._ids)}"
        rule = DeliveryRule(
            rule_id,
            data["action"],
            data.get("webhook"),
            float(data.get("delaySeconds", 0)),
            data.get("times"),
        )
        kept = [r for r in self._rules if r.id != rule_id]
        if len(kept) >= MAX_RULES:
            raise TooManyDeliveryRules(f"at most {MAX_RULES} delivery rules in a namespace")
        self._rules = [*kept, rule]
        return rule

    def rules(self) -> list[DeliveryRule]:
        return list(self._rules)

    def remove(self, rule_id: str) -> bool:
        kept = [r for r in self._rules if r.id != rule_id]
        found = len(kept) != len(self._rules)
        self._rules = kept
        return found

    def clear(self) -> None:
        self._rules = []

    def take(self, webhook: str) -> DeliveryRule | None:
        """The first live rule for ``webhook``, counted as fired; None when none matches."""
        for rule in self._rules:
            if not rule.spent and (rule.webhook is None or rule.webhook == webhook):
                rule.fired += 1
                return rule
        return None
