"""Near misses: why each rule listed when a call arrived did not act on it, read from the
call's `Weighing` and the match result (`matching.differences`), closest rules first
(`GET /_emulator/requests/{id}/near-misses`)."""

from __future__ import annotations

from typing import Any

from emulator.engine import Weighing
from emulator.matching import Call, differences

# Why a rule did not act on a call, in the order they are looked for: what it matches first,
# then its counters and its stage. `shadowed`: it matched, but an earlier rule of its stage
# decided first.
REASONS = (
    "api",
    "operation",
    "pathParams",
    "headerMissing",
    "headerDiffers",
    "body",
    "spent",
    "expired",
    "after",
    "probability",
    "stage",
    "shadowed",
)


def _miss(reason: str, detail: str) -> dict[str, Any]:
    return {"reason": reason, "detail": detail}


def near_misses(weighing: Weighing | None, call: Call) -> list[dict[str, Any]]:
    """For each rule listed when the call arrived (and each expired one) that did not act on
    it, the first reason why, closest rules first: a rule that matched and was held back by
    its counters or its stage before one that differs in one field, before one that differs
    in two. Each item: ``rule`` (its JSON with today's counters), ``reason`` (one of
    :data:`REASONS`), ``detail`` (in words), ``distance`` (how many ways its match differs
    from the call), and ``path``/``expected``/``actual`` where a field differs."""
    if weighing is None:
        return []
    found: list[tuple[int, int, dict[str, Any]]] = []
    listed = {id(rule) for rule in weighing.rules}
    rules = [*weighing.rules, *(r for r in weighing.expired if id(r) not in listed)]
    deciders = {
        rule.stage: rule.id
        for rule in weighing.rules
        if weighing.outcomes.get(id(rule), ("",))[0] in ("acted", "after")
    }
    for order, rule in enumerate(rules):
        outcome, matched = weighing.outcomes.get(id(rule), ("", 0))
        if outcome == "acted":
            continue
        misses = list(differences(rule.match, call))
        if misses:
            item = misses[0].to_dict()
        elif id(rule) in weighing.spent:
            item = _miss("spent", f"spent: it fired its {rule.times} time(s) before this call")
        elif id(rule) not in listed:
            item = _miss("expired", f"expired: its ttlSeconds ({rule.ttl_seconds}) had run out")
        elif outcome == "after":
            item = _miss(
                "after",
                f"after not reached: this was match {matched} of the {rule.after} it lets through",
            )
        elif outcome == "declined":
            item = _miss("probability", f"probability {rule.probability}: the draw said no")
        elif rule.stage not in weighing.stages:
            item = _miss(
                "stage",
                f"it acts at stage {rule.stage}, which the call never reached "
                "(it was answered before the vendor's checks passed)",
            )
        else:
            first = deciders.get(rule.stage)
            item = _miss(
                "shadowed",
                f"an earlier rule of stage {rule.stage} decided first"
                + (f" ({first})" if first else ""),
            )
        found.append(
            (len(misses), order, {"rule": rule.to_dict(), **item, "distance": len(misses)})
        )
    return [item for _, _, item in sorted(found, key=lambda entry: entry[:2])]
