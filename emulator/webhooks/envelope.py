"""A webhook message as it goes on the wire: the JSON body made once, and its signature.

"Secure webhooks": the POST carries an HMAC SHA512 of the raw UTF-8 bytes of the body,
keyed with the webhook's secret key (the string form), base64 encoded, in the
``X-Oracle-CC-WebHook-Signature`` header.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import orjson

SIGNATURE_HEADER = "X-Oracle-CC-WebHook-Signature"


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened, for the webhook ``webhook`` (the vendor's id, e.g.
    ``production-updateProfile``): ``key`` orders it (a profile's messages go out in the
    order they happened), ``message_type`` names it in the failed messages, ``body`` is the
    exact bytes every attempt sends; ``admin``: it came from an Admin API call."""

    api: str
    webhook: str
    key: str
    message_type: str
    body: bytes
    admin: bool = True

    @classmethod
    def of(
        cls, api: str, webhook: str, key: str, message_type: str, payload: Any, admin: bool = True
    ) -> Event:
        return cls(api, webhook, key, message_type, orjson.dumps(payload), admin)


def sign(secret: str, body: bytes) -> str:
    """base64(HMAC-SHA512(secret, body)): the value of ``X-Oracle-CC-WebHook-Signature``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha512).digest()
    return base64.b64encode(digest).decode("ascii")


def forged(secret: str, body: bytes) -> str:
    """A signature of the right form that does not verify (the `badSignature` fault)."""
    return sign(secret + "\x00forged", body)


def headers(body: bytes, signature: str) -> dict[str, str]:
    """The headers a delivery sends (httpx adds Host, Content-Length and its User-Agent)."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
