"""Which configuration setting explains a difference, and the value the vendor's answers give it.

A step may carry a probe: the setting it depends on (a dotted name in its vendor's
configuration, ``Vendor.config_schema``) and what the vendor's answer says of it::

    probe: {setting: extendedData.dataSizeLimitKb, ok: {atLeast: 3}, refused: {atMost: 2}}
    probe: {setting: validSources, ok: {includes: PPN}, refused: {excludes: PPN}}
    probe: {setting: tokenLifetimeSeconds, value: body.expires_in}
    probe: {setting: duplicateEmailsAllowed, ok: {equals: true}, refused: {equals: false}}

``ok`` is what a 2xx answer says, ``refused`` what a 4xx says, ``value`` where a 2xx answer
holds the setting itself. Bounds narrow a number, ``includes``/``excludes`` a list,
``equals`` gives a switch its value; the
configuration that removes the differences keeps every setting the evidence allows and moves
the others the least it takes.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from emulator.parity.cases import Missing, Step
from emulator.parity.compare import Difference, dotted
from emulator.parity.runner import lookup
from emulator.vendors import VENDORS


@dataclass(frozen=True)
class Evidence:
    setting: str
    kind: str  # atLeast, atMost, includes, excludes, equals
    value: Any
    where: str  # case/step


def _answered(response: Mapping[str, Any]) -> str | None:
    status = response["status"]
    return "ok" if 200 <= status < 300 else "refused" if 400 <= status < 500 else None


def evidence(step: Step, response: Mapping[str, Any], where: str) -> Evidence | None:
    """What the vendor's answer to ``step`` says of the setting it probes, if anything."""
    probe = step.probe
    answered = _answered(response)
    if probe is None or answered is None:
        return None
    if "value" in probe:
        if answered != "ok":
            return None
        try:
            return Evidence(probe["setting"], "equals", lookup(response, probe["value"]), where)
        except Missing:
            return None
    said = probe.get(answered)
    if said is None:
        return None
    ((kind, value),) = said.items()
    return Evidence(probe["setting"], kind, value, where)


def schema_of(api: str, setting: str) -> Mapping[str, Any] | None:
    """The setting's schema in the vendor's configuration, or None (no such setting)."""
    node: Mapping[str, Any] = next(v for v in VENDORS if v.name == api).config_schema
    for part in setting.split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


def describe(found: Evidence) -> str:
    return {
        "atLeast": f"is at least {found.value}",
        "atMost": f"is at most {found.value}",
        "includes": f"includes {found.value}",
        "excludes": f"leaves out {found.value}",
        "equals": f"is {found.value}",
    }[found.kind]


def explain(
    api: str,
    step: Step,
    vendor: Mapping[str, Any],
    emulator: Mapping[str, Any],
    differences: list[Difference],
    where: str,
) -> str | None:
    """The setting these differences of one step come from, worded, or None."""
    found = evidence(step, vendor, where)
    if found is None or step.probe is None:
        return None
    if "value" in step.probe:
        if not any(d.path == dotted(_parts(step.probe["value"])) for d in differences):
            return None
    elif _answered(vendor) == _answered(emulator):
        return None
    known = "" if schema_of(api, found.setting) is not None else " (no such setting here)"
    return (
        f"{api} setting {found.setting}{known}: the vendor's {describe(found)}; "
        "`profile-emulator parity config` writes it"
    )


def _parts(path: str) -> list[str | int]:
    return [
        int(part) if part.isdigit() else part
        for part in path.replace("[", ".").replace("]", "").split(".")
    ]


def infer(
    api: str, config: Mapping[str, Any], found: list[Evidence]
) -> tuple[dict[str, Any], list[str]]:
    """``config`` with each probed setting moved to what the evidence allows; and a line for
    each setting changed or left alone (evidence that contradicts itself, an unknown setting)."""
    result = copy.deepcopy(dict(config))
    said = []
    for setting in dict.fromkeys(item.setting for item in found):
        items = [item for item in found if item.setting == setting]
        schema = schema_of(api, setting)
        if schema is None:
            said.append(
                f"{setting}: not a setting of this emulator's {api} configuration; left out"
            )
            continue
        current = _get(result, setting)
        value, problem = _narrow(schema, current, items)
        if problem:
            said.append(f"{setting}: {problem}; left at {current!r}")
        elif value != current:
            _set(result, setting, value)
            said.append(f"{setting}: {current!r} -> {value!r} ({_because(items, current)})")
    schema = next(v for v in VENDORS if v.name == api).config_schema
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(schema).iter_errors(result))
    if error is not None:
        return copy.deepcopy(dict(config)), [
            *said,
            f"the result is not a valid configuration ({error.message}); nothing changed",
        ]
    return result, said


def _because(items: list[Evidence], current: Any) -> str:
    """The evidence that moved the setting (what the current value contradicts)."""
    moved = [
        item
        for item in items
        if (item.kind == "equals" and item.value != current)
        or (item.kind == "includes" and item.value not in (current or []))
        or (item.kind == "excludes" and item.value in (current or []))
        or (item.kind == "atLeast" and current is not None and current < item.value)
        or (item.kind == "atMost" and current is not None and current > item.value)
    ]
    shown = "; ".join(f"{item.where}: {describe(item)}" for item in moved[:3])
    return shown + (f"; and {len(moved) - 3} more" if len(moved) > 3 else "")


def _narrow(schema: Mapping[str, Any], current: Any, items: list[Evidence]) -> tuple[Any, str]:
    equals = {repr(item.value): item.value for item in items if item.kind == "equals"}
    if len(equals) > 1:
        return current, f"the vendor answered {', '.join(sorted(equals))}"
    if schema.get("type") == "array":
        added = [item.value for item in items if item.kind == "includes"]
        removed = {item.value for item in items if item.kind == "excludes"}
        if set(added) & removed:
            return (
                current,
                f"the vendor both took and refused {', '.join(sorted(set(added) & removed))}",
            )
        if equals:
            return next(iter(equals.values())), ""
        kept = [value for value in current or [] if value not in removed]
        return kept + [value for value in dict.fromkeys(added) if value not in kept], ""
    if equals:
        return next(iter(equals.values())), ""
    low = max((item.value for item in items if item.kind == "atLeast"), default=None)
    high = min((item.value for item in items if item.kind == "atMost"), default=None)
    if low is not None and high is not None and low > high:
        return current, f"the vendor's answers put it at least {low} and at most {high}"
    value = current if current is not None else low if low is not None else high
    if low is not None and value < low:
        value = low
    if high is not None and value > high:
        value = high
    return value, ""


def _get(config: Mapping[str, Any], setting: str) -> Any:
    node: Any = config
    for part in setting.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _set(config: dict[str, Any], setting: str, value: Any) -> None:
    *parents, last = setting.split(".")
    node = config
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
