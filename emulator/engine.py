"""The fault engine of one namespace: its rules in order, the first live match of each stage
deciding (`arrive`, `checked`), their counters (`times`, `after`), lifetimes (`ttlSeconds`)
and draws (probabilities, delays) from one seeded RNG, the cap on how many it holds, and each
call's `Weighing`, the record near misses are read from."""

from __future__ import annotations

import copy
import math
import random
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from emulator.errors import echo
from emulator.matching import Call, matches
from emulator.rules import NAME_PATTERN, FaultRule, RuleError

EXPIRED_KEPT = 64  # expired rules an engine remembers, for near misses
# Rules a namespace holds at once (serve --max-rules): every call of the namespace weighs
# its rules, and adding one costs a pass over them. A test sets a handful; at 1000 an add
# costs ~0.1 ms and a call's weighing ~0.5 ms (~3 ms when every rule is a near miss of it),
# where 26k rules made an add ~14 ms and such a call ~90 ms.
MAX_RULES = 1000


class TooManyRules(RuleError):
    """The namespace holds as many rules as it may (``Engine.max_rules``)."""


@dataclass(frozen=True)
class Decision:
    """What to do with a call: wait delay_ms, then at most one of error, respond, fault (none = pass on)."""

    rule_id: str
    delay_ms: float = 0.0
    error: str | None = None
    respond: dict[str, Any] | None = None
    fault: str | None = None
    scenario: str | None = None  # the scenario the deciding rule came from

    @property
    def passes_through(self) -> bool:
        return self.error is None and self.respond is None and self.fault is None

    @property
    def acted(self) -> Acted:
        action = (
            "error"
            if self.error is not None
            else "respond"
            if self.respond is not None
            else "fault"
            if self.fault is not None
            else "delay"
        )
        return Acted(self.rule_id, self.scenario, action)


@dataclass(frozen=True, slots=True)
class Acted:
    """The rule that acted on a call, as the journal names it."""

    id: str
    scenario: str | None
    action: str  # error, respond, fault, or delay (a rule that only delayed the call)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.scenario, "action": self.action}


class Weighing:
    """How the rules of a namespace were weighed for one call, kept with its journal entry:
    the rules listed when it arrived (spent ones too) and the rules expired by then, which
    were spent, the stages weighed, and what each rule that matched drew. Near misses are
    read from it (`near_misses.near_misses`); nothing here is done for a namespace without rules."""

    __slots__ = ("expired", "outcomes", "rules", "spent", "stages")

    def __init__(self, rules: tuple[FaultRule, ...], expired: tuple[FaultRule, ...]) -> None:
        self.rules = rules
        self.spent = frozenset(id(rule) for rule in rules if rule.spent)
        self.expired = expired
        self.stages: set[str] = set()
        self.outcomes: dict[int, tuple[str, int]] = {}  # id(rule) -> (outcome, matched then)


class Engine:
    """An ordered rule list, first match wins, probabilities and delays from one seeded RNG."""

    def __init__(
        self,
        *,
        seed: int | None = 0,
        clock: Callable[[], float] = time.monotonic,
        max_rules: int = MAX_RULES,
    ) -> None:
        self.max_rules = max_rules  # rules held at once, spent ones included (0: no cap)
        self._rules: list[FaultRule] = []
        self._scenarios: list[str] = []
        self._rng = random.Random(seed)
        self._clock = clock
        self._next_id = 1
        self._live = 0  # rules neither spent nor expired (recounted whenever the list changes)
        self._live_checked = 0  # of which act after the vendor's checks
        self._listed: tuple[FaultRule, ...] = ()  # the rules as of the last change
        # Rules that expired (ttlSeconds), the latest last: near misses still name them.
        self._expired: deque[FaultRule] = deque(maxlen=EXPIRED_KEPT)
        self._lock = threading.Lock()

    def add(self, rule: FaultRule, *, front: bool = False) -> str:
        """Add a rule at the end (or the front); return its id, `f-<n>` when it had none.
        :class:`TooManyRules` when the engine holds ``max_rules`` already."""
        with self._lock:
            self._expire(self._clock())  # expired rules make room
            self._check_room(len(self._rules) + 1)
            taken = {r.id for r in self._rules}
            if rule.id is None:
                while f"f-{self._next_id}" in taken:
                    self._next_id += 1
                rule.id = f"f-{self._next_id}"
                self._next_id += 1
            elif rule.id in taken:
                raise RuleError(f"id: {echo(rule.id)} is already in use")
            rule.expires_at = None if rule.ttl_seconds is None else self._clock() + rule.ttl_seconds
            self._rules.insert(0, rule) if front else self._rules.append(rule)
            self._recount()
            return rule.id

    @property
    def active(self) -> bool:
        """Whether any live rule is loaded: the request path asks this before building a Call."""
        return self._live > 0

    def _recount(self) -> None:
        self._live = sum(not r.spent for r in self._rules)
        self._live_checked = sum(not r.spent and r.stage == "checked" for r in self._rules)
        self._listed = tuple(self._rules)

    @property
    def listed(self) -> bool:
        """Whether any rule is listed (spent ones too) or expired lately: a call's near
        misses are then worth keeping."""
        return bool(self._listed or self._expired)

    def weighing(self) -> Weighing:
        """A new call's record of how the rules are weighed for it (see :class:`Weighing`)."""
        with self._lock:
            if self._live:
                self._expire(self._clock())
            return Weighing(self._listed, tuple(self._expired))

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [r for r in self._rules if r.id != rule_id]
            self._forget(lambda r: r.id == rule_id)
            self._recount()
            return len(self._rules) < before

    def clear(self) -> None:
        """Drop every rule, scenario rules included, deactivate all scenarios and restart ids."""
        with self._lock:
            self._rules, self._scenarios, self._next_id = [], [], 1
            self._expired.clear()
            self._recount()

    def rules(self) -> list[FaultRule]:
        """The rules in match order, spent ones included (expired ones are dropped)."""
        with self._lock:
            self._expire(self._clock())
            return list(self._rules)

    def reseed(self, seed: int | None) -> None:
        with self._lock:
            self._rng = random.Random(seed)

    def activate(self, name: str, rules: list[FaultRule]) -> None:
        """Put a scenario's rules in front (replacing them if it was active), ids `s-<name>-<n>`."""
        if not re.fullmatch(NAME_PATTERN, name):
            raise RuleError(f"scenario name {echo(name)} does not match {NAME_PATTERN}")
        with self._lock:
            now = self._clock()
            self._expire(now)
            self._check_room(sum(r.scenario != name for r in self._rules) + len(rules))
            fresh = [
                replace(
                    r,
                    id=f"s-{name}-{n}",
                    scenario=name,
                    matched=0,
                    fired=0,
                    spent=False,
                    expires_at=None if r.ttl_seconds is None else now + r.ttl_seconds,
                )
                for n, r in enumerate(rules, start=1)
            ]
            self._rules = fresh + [r for r in self._rules if r.scenario != name]
            self._forget(lambda r: r.scenario == name)
            self._scenarios = [s for s in self._scenarios if s != name] + [name]
            self._recount()

    def deactivate(self, name: str) -> bool:
        with self._lock:
            was_active = name in self._scenarios
            self._rules = [r for r in self._rules if r.scenario != name]
            self._forget(lambda r: r.scenario == name)
            self._scenarios = [s for s in self._scenarios if s != name]
            self._recount()
            return was_active

    def active_scenarios(self) -> list[str]:
        """Active scenario names, oldest activation first."""
        with self._lock:
            return list(self._scenarios)

    def arrive(self, call: Call, weighing: Weighing | None = None) -> Decision | None:
        """A call has arrived: the first live `arrival` rule that matches it decides (delays,
        transport faults, answers asked for on arrival). None: no such rule acts.
        ``weighing``: the call's record, for its near misses."""
        return self._first(call, "arrival", weighing)

    def checked(self, call: Call, weighing: Weighing | None = None) -> Decision | None:
        """The call passed the vendor's own checks: the first live `checked` rule that matches
        it decides (errors and responds, by default)."""
        return self._first(call, "checked", weighing)

    @property
    def waits(self) -> bool:
        """Whether a live rule acts after the vendor's checks (the request path then keeps
        the call for :meth:`checked`)."""
        return self._live_checked > 0

    def decide(self, call: Call) -> Decision | None:
        """The outcome of both stages for a call that passes every check: the arrival
        decision when it answers or breaks the call, else the checked one (or the arrival
        decision, a delay that lets the call through)."""
        first = self.arrive(call)
        if first is not None and not first.passes_through:
            return first
        return self.checked(call) or first

    def _first(self, call: Call, stage: str, weighing: Weighing | None = None) -> Decision | None:
        """First match wins, among the rules of one stage. A rule that matches but draws "not
        this time" lets the next rule match (docs/decisions.md#13); one still letting its first
        `after` matches pass decides that they pass untouched."""
        if weighing is not None:
            weighing.stages.add(stage)
        if not self._live:  # hot path: no rules, no lock
            return None
        with self._lock:
            self._expire(self._clock())
            for rule in self._rules:
                if rule.spent or rule.stage != stage or not matches(rule.match, call):
                    continue
                outcome = self._apply(rule)
                if weighing is not None:
                    weighing.outcomes[id(rule)] = (
                        "declined"
                        if outcome is _DECLINED
                        else "after"
                        if outcome is None
                        else "acted",
                        rule.matched,
                    )
                if outcome is not _DECLINED:
                    return outcome  # type: ignore[return-value]
            return None

    def _apply(self, rule: FaultRule) -> Decision | object | None:
        rule.matched += 1
        if rule.matched <= rule.after:
            return None
        # Draw only for real probabilities, so adding a p=1 rule leaves seeded sequences alone.
        if rule.probability < 1 and self._rng.random() >= rule.probability:
            return _DECLINED
        rule.fired += 1
        if rule.times is not None and rule.fired >= rule.times:
            rule.spent = True  # stays listed, with its counters, until removed or cleared
            self._recount()
        return Decision(
            rule_id=rule.id or "",
            delay_ms=self._delay(rule),
            error=rule.error,
            respond=copy.deepcopy(rule.respond),
            fault=rule.fault,
            scenario=rule.scenario,
        )

    def _delay(self, rule: FaultRule) -> float:
        if rule.delay_ms is not None:
            return float(rule.delay_ms)
        if rule.delay is None:
            return 0.0
        if "uniform" in rule.delay:
            low, high = rule.delay["uniform"]
            return self._rng.uniform(low, high)
        spec = rule.delay["lognormal"]
        return float(
            min(spec["median"] * math.exp(spec["sigma"] * self._rng.gauss(0.0, 1.0)), spec["maxMs"])
        )

    def _expire(self, now: float) -> None:
        if any(r.expires_at is not None and now >= r.expires_at for r in self._rules):
            self._expired.extend(
                r for r in self._rules if r.expires_at is not None and now >= r.expires_at
            )
            self._rules = [r for r in self._rules if r.expires_at is None or now < r.expires_at]
            self._recount()

    def _check_room(self, wanted: int) -> None:
        if self.max_rules and wanted > self.max_rules:
            raise TooManyRules(
                f"would hold {wanted} fault rules, over its cap of {self.max_rules} "
                f"(--max-rules): remove some first"
            )

    def _forget(self, gone: Callable[[FaultRule], bool]) -> None:
        """Expired rules that were removed (or replaced) are no longer named as near misses."""
        kept = [r for r in self._expired if not gone(r)]
        if len(kept) < len(self._expired):
            self._expired = deque(kept, maxlen=EXPIRED_KEPT)


_DECLINED = object()  # a rule matched but its draw said "not this time": the next one may match
