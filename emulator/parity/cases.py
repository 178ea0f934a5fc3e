"""Parity cases: a sequence of vendor calls written in YAML, with variables and captures.

A case file (the shipped ones are in ``emulator/parity/shipped/<api>/``)::

    api: loyalty
    summary: Enrol a member, start a session, update the profile.
    env:                                  # environment variables the case reads
      LOYALTY_AUTHORIZATION: {optional: true}
    headers: {Authorization: "${env.LOYALTY_AUTHORIZATION}"}   # on every step
    vars: {email: "parity-${unique}@example.com"}
    steps:
      - name: enrol
        operation: enrollMember
        method: POST
        path: /client/users
        json: {firstName: Ada, email: "${email}", ...}
        capture: {accountId: body.accountId}
        expect: {status: 201}

``${name}`` is a variable (``unique``: a fresh value per run, ``vars``, captures of earlier
steps) or ``${env.NAME}``; a string that is one reference keeps the value's type. JSON
bodies may hold generators: ``{$fill: {bytes: N, key: K}}`` (an object of exactly N bytes of
compact JSON), ``{$keys: {count: N, prefix: P, value: V}}`` (N keys P01..PN), ``{$text:
{bytes: N}}`` (a string of N characters). Cases only call the vendor: what they need they
create, or take from the environment.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from emulator import specs
from emulator.jsonyaml import read_yaml
from emulator.vendors import VENDORS

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"
NAME = r"^[a-z0-9][a-z0-9-]{0,47}$"  # also a namespace's and a file's name
UNROUTED = "unrouted"  # the operation of a step whose path or method the vendor lacks
BUILTINS = ("unique",)
_REF = re.compile(r"\$\{([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\}")

_TEMPLATES = {"type": "object", "additionalProperties": {"type": "string"}}
_CONSTRAINT = {
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "atLeast": {"type": "integer"},
        "atMost": {"type": "integer"},
        "includes": {"type": "string"},
        "excludes": {"type": "string"},
        "equals": {"type": ["boolean", "integer", "string"]},
    },
}
_STEP = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "operation", "method", "path"],
    "properties": {
        "name": {"type": "string", "pattern": NAME},
        "summary": {"type": "string"},
        "operation": {"type": "string"},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]},
        "path": {"type": "string", "pattern": "^/"},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
        "json": {},
        "form": _TEMPLATES,
        "raw": {"type": "string"},
        "capture": {
            "type": "object",
            "propertyNames": {"pattern": r"^[A-Za-z_]\w*$"},
            "additionalProperties": {
                "oneOf": [
                    {"type": "string"},
                    {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["from"],
                        "properties": {"from": {"type": "string"}, "secret": {"type": "boolean"}},
                    },
                ]
            },
        },
        "compareHeaders": {"type": "array", "items": {"type": "string"}},
        "expect": {
            "type": "object",
            "additionalProperties": False,
            "required": ["status"],
            "properties": {
                "status": {"type": "integer"},
                "error": {"type": "string"},
                "body": {},
            },
        },
        "probe": {
            "type": "object",
            "additionalProperties": False,
            "required": ["setting"],
            "properties": {
                "setting": {"type": "string"},
                "ok": _CONSTRAINT,
                "refused": _CONSTRAINT,
                "value": {"type": "string"},
            },
        },
    },
}
SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["api", "steps"],
    "properties": {
        "name": {"type": "string", "pattern": NAME},
        "api": {"enum": [vendor.name for vendor in VENDORS]},
        "summary": {"type": "string"},
        "env": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secret": {"type": "boolean"},
                    "optional": {"type": "boolean"},
                    "emulator": {"type": "string"},
                    "about": {"type": "string"},
                },
            },
        },
        "headers": _TEMPLATES,
        "vars": _TEMPLATES,
        "steps": {"type": "array", "minItems": 1, "items": _STEP},
    },
}
DEFAULT_HEADERS = ("content-type",)  # the response headers compared when a step names none


class CaseError(ValueError):
    """A case file that is not a case: the message names the file and the field."""


class Missing(LookupError):
    """A template names a value this run does not have (an unset variable, a failed capture)."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass(frozen=True)
class EnvVar:
    secret: bool = True
    optional: bool = False
    emulator: str | None = None  # the value an emulator with the shipped fixtures accepts


@dataclass(frozen=True)
class Capture:
    source: str  # "body.a.b[0]", "headers.location", "status"
    secret: bool = False


@dataclass(frozen=True)
class Step:
    name: str
    operation: str
    method: str
    path: str
    headers: Mapping[str, str | None]
    json: Any = None
    form: Mapping[str, str] | None = None
    raw: str | None = None
    capture: Mapping[str, Capture] = field(default_factory=dict)
    compare_headers: tuple[str, ...] = DEFAULT_HEADERS
    expect: Mapping[str, Any] | None = None
    probe: Mapping[str, Any] | None = None
    has_json: bool = False


@dataclass(frozen=True)
class Case:
    name: str
    api: str
    summary: str
    env: Mapping[str, EnvVar]
    headers: Mapping[str, str]
    vars: Mapping[str, str]
    steps: tuple[Step, ...]
    source: Mapping[str, Any]  # the case as written (with its name): snapshots embed it

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


def load(path: Path) -> list[Case]:
    """The cases of a file, or of every ``*.yaml`` of a folder (by name)."""
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise CaseError(f"{path}: no case files (*.yaml)")
    cases = [load_file(file) for file in files]
    names = [case.name for case in cases]
    for name in names:
        if names.count(name) > 1:
            raise CaseError(f"{path}: two cases are named {name!r}")
    return cases


def load_file(path: Path) -> Case:
    try:
        doc = read_yaml(path)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CaseError(f"{path}: cannot read it: {exc}") from None
    if isinstance(doc, dict) and "name" not in doc:
        doc = {"name": path.stem, **doc}
    return from_doc(doc, str(path))


def shipped(api: str) -> list[Case]:
    return load(SHIPPED_DIR / api)


def from_doc(doc: Any, where: str) -> Case:
    """A case from its parsed document, checked (``where`` names it in errors)."""
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(SCHEMA).iter_errors(doc))
    if error is not None:
        at = ".".join(str(part) for part in error.absolute_path) or "(top level)"
        raise CaseError(f"{where}: {at}: {error.message}")
    if "name" not in doc:
        raise CaseError(f"{where}: name: a case needs a name")
    steps = tuple(_step(item) for item in doc["steps"])
    case = Case(
        name=doc["name"],
        api=doc["api"],
        summary=doc.get("summary", ""),
        env={
            name: EnvVar(**{key: value for key, value in spec.items() if key != "about"})
            for name, spec in doc.get("env", {}).items()
        },
        headers=dict(doc.get("headers", {})),
        vars=dict(doc.get("vars", {})),
        steps=steps,
        source=doc,
    )
    _check(case, where)
    return case


def _step(item: dict[str, Any]) -> Step:
    capture = {
        name: Capture(spec)
        if isinstance(spec, str)
        else Capture(spec["from"], spec.get("secret", False))
        for name, spec in item.get("capture", {}).items()
    }
    return Step(
        name=item["name"],
        operation=item["operation"],
        method=item["method"],
        path=item["path"],
        headers=dict(item.get("headers", {})),
        json=item.get("json"),
        form=item.get("form"),
        raw=item.get("raw"),
        capture=capture,
        compare_headers=tuple(h.lower() for h in item.get("compareHeaders", DEFAULT_HEADERS)),
        expect=item.get("expect"),
        probe=item.get("probe"),
        has_json="json" in item,
    )


def _check(case: Case, where: str) -> None:
    """What the schema cannot say: one body per step, names defined before use, operations
    the API has."""
    vendor = next(vendor for vendor in VENDORS if vendor.name == case.api)
    operations = set(specs.operations(vendor.spec)) | {UNROUTED}
    known = {*BUILTINS, *(f"env.{name}" for name in case.env)}
    for name, template in case.vars.items():
        if name in BUILTINS:
            raise CaseError(f"{where}: vars.{name}: {name!r} is a built-in variable")
        _check_refs(template, known, f"{where}: vars.{name}")
        known.add(name)
    _check_refs(case.headers, known, f"{where}: headers")
    seen: set[str] = set()
    for index, step in enumerate(case.steps):
        at = f"{where}: steps[{index}] ({step.name})"
        if step.name in seen:
            raise CaseError(f"{at}: another step has this name")
        seen.add(step.name)
        if step.operation not in operations:
            raise CaseError(
                f"{at}: operation {step.operation!r} is not one of {case.api}'s: "
                f"{', '.join(sorted(operations))}"
            )
        if sum(body is not None for body in (step.form, step.raw)) + step.has_json > 1:
            raise CaseError(f"{at}: give one of json, form and raw")
        for part in (step.path, step.headers, step.json, step.form, step.raw):
            _check_refs(part, known, at)
        for name in step.capture:
            if name in BUILTINS or name in case.vars:
                raise CaseError(f"{at}: capture {name!r} would hide a variable of that name")
            known.add(name)


def _check_refs(value: Any, known: set[str], where: str) -> None:
    for ref in references(value):
        if ref not in known:
            raise CaseError(f"{where}: ${{{ref}}} is not defined before it is used")


def references(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield from _REF.findall(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from references(key)
            yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def expand(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` with its ``${...}`` references and generators filled in from ``scope``
    (``Missing`` when one is not there)."""
    if isinstance(value, str):
        whole = _REF.fullmatch(value)
        if whole:
            return _lookup(scope, whole.group(1))
        return _REF.sub(lambda match: str(_lookup(scope, match.group(1))), value)
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return _generate(*next(iter(value.items())), scope)
        return {expand(key, scope): expand(item, scope) for key, item in value.items()}
    if isinstance(value, list):
        return [expand(item, scope) for item in value]
    return value


def _lookup(scope: Mapping[str, Any], name: str) -> Any:
    if name not in scope:
        raise Missing(name)
    return scope[name]


def _generate(kind: str, spec: Any, scope: Mapping[str, Any]) -> Any:
    spec = expand(spec, scope)
    if kind == "$fill":  # {"<key>": "xxx..."}: exactly `bytes` of compact JSON
        overhead = len(f'{{"{spec["key"]}":""}}')
        return {spec["key"]: "x" * (int(spec["bytes"]) - overhead)}
    if kind == "$keys":
        count = int(spec["count"])
        width = len(str(count)) if count > 9 else 2
        return {f"{spec['prefix']}{n:0{width}d}": spec.get("value") for n in range(1, count + 1)}
    if kind == "$text":
        return "x" * int(spec["bytes"])
    raise Missing(kind)
