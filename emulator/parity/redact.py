"""What is secret in a recording: credentials' headers and keys, the paths a user lists, and the
check that none of their values reaches a file."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

# Body and form keys whose values are credentials, wherever they are (case-insensitive).
SECRET_KEYS = frozenset(
    {
        "access_token",
        "refresh_token",
        "id_token",
        "token",
        "password",
        "oldpassword",
        "newpassword",
        "newconfirmpassword",
        "client_secret",
        "apikey",
        "api_key",
    }
)
# Request and response headers whose values are credentials.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
SEARCHED_FROM = 4  # a secret this long or longer is also searched for inside text
_SCHEME = re.compile(r"^\s*[A-Za-z][\w-]*\s+")  # "Bearer ", "Basic "
_PART = re.compile(r"([^.\[\]]+)|\[(\d+|\*)\]")

Path = tuple[str | int, ...]


class PathError(ValueError):
    """A ``--redact`` pattern that is not a JSON path."""


class RedactionError(Exception):
    """A secret would have been written: nothing was (the message names which secret)."""


def secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.lower() in SECRET_KEYS


def secret_header(name: Any) -> bool:
    return isinstance(name, str) and name.lower() in SECRET_HEADERS


def credential(value: str) -> str:
    """A header value without its scheme ("Bearer abc" -> "abc")."""
    return _SCHEME.sub("", value, count=1).strip()


def credential_left(value: str, labels: re.Pattern[str]) -> bool:
    """A header value still holds something besides its scheme and labels."""
    return bool(labels.sub("", _SCHEME.sub("", value, count=1)).strip())


class Paths:
    """The JSON paths a user lists (``--redact``), inside request and response bodies:
    ``email`` (that key at any depth), ``shippingAddresses[*].phoneNumber`` (from the top,
    ``*`` any one key or index)."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [self._parts(pattern) for pattern in patterns]

    @staticmethod
    def _parts(pattern: str) -> tuple[str, ...]:
        parts = tuple(key or index for key, index in _PART.findall(pattern))
        if not parts:
            raise PathError(f"--redact {pattern!r}: not a JSON path")
        return parts

    def match(self, path: Path) -> bool:
        """``path``: inside a body (no ``body`` or ``json`` in front)."""
        for parts in self.patterns:
            if len(parts) == 1 and path and _fits(parts[0], path[-1]):
                return True
            if len(parts) == len(path) and all(map(_fits, parts, path)):
                return True
        return False


def _fits(part: str, key: str | int) -> bool:
    return part == "*" or part == str(key)


def leaks(text: str, secrets: Mapping[Any, str]) -> list[str]:
    """The labels of the secrets (value -> label) found in ``text``, as written or as JSON
    escapes them."""
    found = []
    for value, label in secrets.items():
        if not isinstance(value, str) or len(value) < SEARCHED_FROM:
            continue
        escaped = orjson.dumps(value).decode()[1:-1]
        if value in text or escaped in text:
            found.append(label)
    return sorted(set(found))


def check(text: str, secrets: Mapping[Any, str], where: str) -> None:
    """Refuse (RedactionError) to write ``text`` to ``where`` when it holds a secret."""
    found = leaks(text, secrets)
    if found:
        raise RedactionError(f"{where}: not written: it would hold the value of {', '.join(found)}")
