"""The hand-written OpenAPI specs, parsed once (libyaml when present) and shared by all users."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from emulator import faults, resources

OPENAPI_DIR = resources.OPENAPI_DIR  # the shipped specs: in the wheel, or the checkout's openapi/
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
read_yaml = faults.read_yaml  # the one YAML loader (libyaml when present)


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> dict[str, Any]:
    return read_yaml(path)


def shared(name: str) -> dict[str, Any]:
    """openapi/<name> as parsed once, shared by every reader: never mutate it."""
    return _load(OPENAPI_DIR / name)


@functools.lru_cache(maxsize=None)
def source(name: str) -> bytes:
    """openapi/<name>'s bytes as written (the docs serve the file itself)."""
    return (OPENAPI_DIR / name).read_bytes()


def load(name: str) -> dict[str, Any]:
    """A fresh copy of openapi/<name> (Connexion resolves and mutates what it is given)."""
    import copy
    return copy.deepcopy(_load(OPENAPI_DIR / name))


def handler_name(operation_id: str) -> str:
    """A spec's operationId (the vendor's camelCase name) -> its snake_case handler name."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation_id)


def operations(name: str) -> dict[str, tuple[str, str]]:
    """operationId -> (METHOD, path template) of every operation openapi/<name> declares."""
    spec = _load(OPENAPI_DIR / name)
    return {operation["operationId"]: (method.upper(), template)
            for template, item in spec.get("paths", {}).items()
            for method, operation in item.items() if method in HTTP_METHODS}


def methods(name: str, template: str) -> tuple[str, ...]:
    """The METHODs openapi/<name> declares for one path template (e.g. "/profiles/{profile_id}")."""
    return tuple(method for method, path in operations(name).values() if path == template)


def response_examples(name: str) -> dict[str, list[tuple[int, Any]]]:
    """operationId -> (status, example body) of every JSON example of its responses in
    openapi/<name> ($refs to components followed; the `default` response has no status)."""
    spec = _load(OPENAPI_DIR / name)

    def deref(node: Any) -> Any:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 16:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            node, seen = target, seen + 1
        return node

    found: dict[str, list[tuple[int, Any]]] = {}
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            examples = found.setdefault(operation["operationId"], [])
            for status, response in operation.get("responses", {}).items():
                if not str(status).isdigit():
                    continue
                media = deref(response).get("content", {}).get("application/json", {})
                if "example" in media:
                    examples.append((int(status), media["example"]))
                for example in media.get("examples", {}).values():
                    example = deref(example)
                    if "value" in example:
                        examples.append((int(status), example["value"]))
    return found


def route_table(names: Iterable[str]) -> Callable[[str], list[str]]:
    """path -> the methods its spec declares (for the Allow header of a 405)."""
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for name in names:
        spec = _load(OPENAPI_DIR / name)
        base = spec.get("servers", [{"url": ""}])[0]["url"].rstrip("/")
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(base + template))
            methods = [m.upper() for m in item if m in HTTP_METHODS]
            routes.append((re.compile(f"^{pattern}/?$"), methods))

    def allowed(path: str) -> list[str]:
        return next((methods for regex, methods in routes if regex.match(path)), [])
    return allowed
