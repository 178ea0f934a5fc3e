"""What the unit tests of fault rules share: a catalogue, a clock a test moves, rules and
calls in a line, and how a refusal's words are asserted."""

from __future__ import annotations

from typing import Any

from emulator.engine import Engine
from emulator.matching import Call
from emulator.rules import FaultRule

KNOWN = {"loyalty.EMAIL_ALREADY_EXISTS", "commerce.22001", "commerce.22002"}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rule(**data: Any) -> FaultRule:
    return FaultRule.parse(data, known_errors=KNOWN)


def call(
    api: str = "commerce",
    operation: str = "updateProfile",
    *,
    path_params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    body: Any = None,
) -> Call:
    return Call(
        api=api,
        operation=operation,
        path_params=path_params or {},
        headers=headers or {},
        body=body,
    )


def engine_with(*rules: FaultRule, **kwargs: Any) -> Engine:
    engine = Engine(**kwargs)
    for r in rules:
        engine.add(r)
    return engine


def fires(match: dict[str, Any], c: Call) -> bool:
    return engine_with(rule(match=match, fault="timeout")).decide(c) is not None


def names(message: str, text: str) -> None:
    """What the emulator words is asserted whole; where jsonschema words the reason (a type, a
    bound, an enum, a pattern), the message is only the field the emulator names, ending in
    ": ", and the reason after it is not pinned."""
    if message.endswith(": ") or not message:
        at = text.find(message)
        assert at >= 0 and len(text) > at + len(message), text
    else:
        assert message in text, text
