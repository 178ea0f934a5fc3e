"""A namespace's webhook subscribers: for each of the vendor's webhook ids, the target URLs,
the secret key and the resend settings ("Manage failed webhook calls": by default resent
every hour, at most 5 attempts; both set per webhook), and where a delivery may go at all
(``Outbound``: loopback, or the hosts the server was started with)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import yaml

from emulator.jsonyaml import json_path, read_yaml

RESEND_DELAY_SECONDS = 3600  # "By default, the interval is one hour"
MAX_ATTEMPTS = 5  # "and the maximum number of attempts is 5"
TIMEOUT_SECONDS = 10.0  # how long a subscriber may take to answer (inferred: undocumented)
WEBHOOK_ID = "^[A-Za-z0-9_.-]{1,64}$"  # a fixture file's webhook ids (control.yaml's pattern)
FILE = "webhooks.yaml"  # the fixtures folder's subscribers, every namespace's to start with

SUBSCRIBER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "minLength": 1, "maxLength": 2048},
        "secret": {"type": "string", "minLength": 1, "maxLength": 1024},
        "resendDelaySeconds": {"type": "number", "minimum": 0, "maximum": 31536000},
        "maxNumberOfResendAttempts": {"type": "integer", "minimum": 1, "maximum": 100},
        "applyResendDelayToFirstAttempt": {"type": "boolean"},
        "timeoutSeconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 300},
        "adminUpdates": {"type": "boolean"},
    },
}
FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "subscribers": {
            "type": "object",
            "propertyNames": {"pattern": WEBHOOK_ID},
            "additionalProperties": {**SUBSCRIBER_SCHEMA, "required": ["url", "secret"]},
        }
    },
}


class SubscriberError(ValueError):
    """A subscriber that cannot be kept (a URL it may not reach, a bad field); the message
    names the field."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    """Where the messages of one webhook go, and how they are resent."""

    id: str
    urls: tuple[str, ...]
    secret: str
    resend_delay_seconds: float = RESEND_DELAY_SECONDS
    max_attempts: int = MAX_ATTEMPTS
    delay_first: bool = False  # applyResendDelayToFirstAttempt
    timeout_seconds: float = TIMEOUT_SECONDS
    admin_updates: bool = True  # Admin API writes fire it (inferred: undocumented)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": self.urls[0] if self.urls else None,
            "urls": list(self.urls),
            "secret": self.secret,
            "resendDelaySeconds": self.resend_delay_seconds,
            "maxNumberOfResendAttempts": self.max_attempts,
            "applyResendDelayToFirstAttempt": self.delay_first,
            "timeoutSeconds": self.timeout_seconds,
            "adminUpdates": self.admin_updates,
        }

    def changed(self, data: Mapping[str, Any]) -> Subscriber:
        """This subscriber with the settings ``data`` gives (the control API's names)."""
        fields: dict[str, Any] = {}
        if "url" in data:
            fields["urls"] = (data["url"],)
        if "urls" in data:
            fields["urls"] = tuple(data["urls"])
        for name, attr in _SETTINGS.items():
            if name in data:
                fields[attr] = data[name]
        return replace(self, **fields)


_SETTINGS = {
    "secret": "secret",
    "resendDelaySeconds": "resend_delay_seconds",
    "maxNumberOfResendAttempts": "max_attempts",
    "applyResendDelayToFirstAttempt": "delay_first",
    "timeoutSeconds": "timeout_seconds",
    "adminUpdates": "admin_updates",
}


class Outbound:
    """Where deliveries may go: loopback always; another host only when the server was
    started with it (``--webhook-host``; ``*``: any). A URL is checked when it is registered,
    never resolved here: a name other than ``localhost`` must be allowed by name. Holds the
    one HTTP client deliveries go through (made on the loop at the first delivery; no
    proxies from the environment, no redirects followed: a 3xx is not a 2xx)."""

    def __init__(self, hosts: frozenset[str] = frozenset()) -> None:
        self.hosts = frozenset(host.lower() for host in hosts)
        self._client: httpx.AsyncClient | None = None

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(trust_env=False, follow_redirects=False, timeout=None)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    def check(self, url: str) -> str | None:
        """Why ``url`` may not be a webhook's target; None when it may."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 (a port out of range raises here)
        except ValueError:
            return f"{url!r} is not a URL"
        if parts.scheme not in ("http", "https") or not host:
            return f"{url!r} is not an http(s) URL"
        if _loopback(host) or "*" in self.hosts or host.lower() in self.hosts:
            return None
        return (
            f"{url!r}: outbound calls go to loopback only; start the server with "
            f"--webhook-host {host} to allow that host"
        )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def make(webhook: str, data: Mapping[str, Any], outbound: Outbound) -> Subscriber:
    """A subscriber from the control API's body (checked by its spec), its URLs checked."""
    error = next(jsonschema.Draft7Validator(SUBSCRIBER_SCHEMA).iter_errors(data), None)
    if error is not None:
        where = json_path(error.absolute_path) or "(body)"
        raise SubscriberError(f"{where}: {error.message}")
    blank = Subscriber(webhook, (), data.get("secret") or "")
    subscriber = blank.changed(data)
    for url in subscriber.urls:
        reason = outbound.check(url)
        if reason is not None:
            raise SubscriberError(f"url: {reason}")
    return subscriber


def load(folder: Path, outbound: Outbound) -> dict[str, Subscriber]:
    """The subscribers of ``folder``/webhooks.yaml (none when there is no such file);
    :class:`SubscriberError` names the file and the field."""
    path = folder / FILE
    if not path.exists():
        return {}
    try:
        doc = read_yaml(path) or {}
    except yaml.YAMLError as exc:
        raise SubscriberError(f"{path}: not valid YAML: {exc}") from None
    error = jsonschema.exceptions.best_match(
        jsonschema.Draft7Validator(FILE_SCHEMA).iter_errors(doc)
    )
    if error is not None:
        where = json_path(error.absolute_path) or "(top level)"
        raise SubscriberError(f"{path}: {where}: {error.message}")
    out = {}
    for webhook, data in doc.get("subscribers", {}).items():
        try:
            out[webhook] = make(webhook, data, outbound)
        except SubscriberError as exc:
            raise SubscriberError(f"{path}: subscribers.{webhook}.{exc}") from None
    return out
