"""The hand-written OpenAPI specs, parsed once (libyaml when present) and shared by all users.

A spec is a JSON document written in YAML, and is given in JSON's types (its keys strings:
YAML reads a status such as `200:` as an int). Its parse is cached as JSON (~0.5 ms to read
where the YAML takes ~16 ms for the three specs: without it a cold start took 3-6% more CPU)
where and when Python caches bytecode: beside the spec in `__pycache__/` (or under
PYTHONPYCACHEPREFIX), never written when Python writes no bytecode (PYTHONDONTWRITEBYTECODE)
or where it cannot write; a cache is used only when it holds the parse of the file's bytes
as they are now, by this YAML reader.
"""

from __future__ import annotations

import functools
import hashlib
import re
import sys
from collections.abc import Callable, Iterable
from importlib.util import cache_from_source
from pathlib import Path
from typing import Any

import orjson

from emulator import jsonyaml, resources
from emulator.files import write_atomically

OPENAPI_DIR = resources.OPENAPI_DIR  # the shipped specs: in the wheel, or the checkout's openapi/
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
CACHE_FORMAT = 1  # what a parse cache holds: its key line, then the document as JSON


@functools.cache
def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = parse(path)  # a spec is an object
    return document


def parse(path: Path) -> Any:
    """A spec file's document in JSON's types: from its parse cache when that holds this
    file's parse, else from the YAML (then cached, when Python writes bytecode)."""
    source = path.read_bytes()  # read once: the cache's key is the parse's source
    key = cache_key(source)
    cache = cache_path(path)
    if cache is not None:
        cached = _read_cache(cache, key)
        if cached is not None:
            return cached
    document = jsonyaml.load_yaml(source.decode("utf-8"))
    try:
        data = orjson.dumps(document, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:  # a value JSON cannot carry (an int past 64 bits): as read
        return document
    if cache is not None and not sys.dont_write_bytecode:
        _write_cache(cache, key, data)
    return orjson.loads(data)


def cache_key(source: bytes) -> bytes:
    """What a cache must have been made from: these bytes, this YAML reader, this format."""
    made_by = f"{CACHE_FORMAT} {jsonyaml.YAML_READER}\n".encode()
    return hashlib.sha256(made_by + source).hexdigest().encode("ascii")


def cache_path(path: Path) -> Path | None:
    """Where the parse of `path` is cached: where Python would keep its bytecode."""
    try:
        return Path(cache_from_source(str(path))).with_name(f"{path.name}.json")
    except (NotImplementedError, ValueError):  # no bytecode cache in this Python
        return None


def _read_cache(cache: Path, key: bytes) -> Any:
    try:
        raw = cache.read_bytes()
    except OSError:
        return None
    head, newline, body = raw.partition(b"\n")
    if head != key or not newline:
        return None  # another file's (an edited spec), another reader's or a torn write
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def _write_cache(cache: Path, key: bytes, data: bytes) -> None:
    """Whole or not at all (files.write_atomically); nothing when it cannot be written. The
    cache is readable by whoever may read the spec."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(cache, lambda out: out.write(key + b"\n" + data), binary=True, mode=0o644)
    except OSError:
        pass


def shared(name: str) -> dict[str, Any]:
    """openapi/<name> as parsed once, shared by every reader: never mutate it."""
    return _load(OPENAPI_DIR / name)


@functools.cache
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
    return {
        operation["operationId"]: (method.upper(), template)
        for template, item in spec.get("paths", {}).items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def methods(name: str, template: str) -> tuple[str, ...]:
    """The METHODs openapi/<name> declares for one path template (e.g. "/profiles/{profile_id}")."""
    return tuple(method for method, path in operations(name).values() if path == template)


BODY_LIMIT = "x-max-body-bytes"  # an operation's own cap on its request body, in bytes


def body_limits(name: str) -> dict[tuple[str, str], int]:
    """(METHOD, path) -> the body cap of each operation of openapi/<name> that sets its own
    (``x-max-body-bytes``). A body is read before the call is routed: a path is looked up
    as it is, then segment by segment against the templates with parameters
    (``API.body_cap``)."""
    spec = _load(OPENAPI_DIR / name)
    base = spec.get("servers", [{"url": ""}])[0]["url"].rstrip("/")
    limits = {}
    for template, item in spec.get("paths", {}).items():
        for method, operation in item.items():
            if method in HTTP_METHODS and BODY_LIMIT in operation:
                limits[(method.upper(), base + template)] = int(operation[BODY_LIMIT])
    return limits


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
    """path -> the methods served there (for the Allow header of a 405): those its spec
    declares, and HEAD beside GET (every GET route answers HEAD, without the body)."""
    routes: list[tuple[re.Pattern[str], list[str]]] = []
    for name in names:
        spec = _load(OPENAPI_DIR / name)
        base = spec.get("servers", [{"url": ""}])[0]["url"].rstrip("/")
        for template, item in spec["paths"].items():
            pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(base + template))
            methods = [m.upper() for m in item if m in HTTP_METHODS]
            if "GET" in methods and "HEAD" not in methods:
                methods.insert(methods.index("GET") + 1, "HEAD")
            routes.append((re.compile(f"^{pattern}/?$"), methods))

    def allowed(path: str) -> list[str]:
        return next((methods for regex, methods in routes if regex.match(path)), [])

    return allowed
