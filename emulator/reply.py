"""A handler's answer and how it goes on the wire (orjson, exact bytes, no problem+json)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from emulator.errors import VendorError, echo, not_found


class Reply:
    """A handler's answer: status, JSON body (None = no body), extra headers.

    With ``media_type`` the body is bytes sent as they are, with that Content-Type (the
    docs pages, spec files and their assets); without it the body is JSON.
    """

    __slots__ = ("body", "headers", "media_type", "status")

    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        media_type: str | None = None,
    ):
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.media_type = media_type

    @classmethod
    def of(cls, error: VendorError) -> Reply:
        return cls(error.status, dict(error.body), error.headers)


def messages(reply: Reply) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ASGI start and body messages of a reply."""
    media_type = reply.media_type
    if media_type is None:
        payload = b"" if reply.body is None else orjson.dumps(reply.body)
    else:
        payload = reply.body
    # RFC 9110: a 204 (or 304) carries no Content-Length.
    headers = (
        [] if reply.status in (204, 304) else [(b"content-length", str(len(payload)).encode())]
    )
    if media_type is not None:
        headers.append((b"content-type", media_type.encode("latin-1")))
    elif reply.body is not None:
        headers.append((b"content-type", b"application/json"))
    if reply.headers:
        headers.extend(
            (k.lower().encode("latin-1"), str(v).encode("latin-1"))
            for k, v in reply.headers.items()
        )
    return (
        {"type": "http.response.start", "status": reply.status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    )


def packaged_file(
    name: str,
    media_types: Mapping[str, str],
    read: Callable[[str], bytes],
    headers: Mapping[str, str],
    what: str,
) -> Reply:
    """One file of a fixed table (the docs' and the dashboard's assets), or the control API's
    404 naming the known ones: a table look-up, so a name from a URL never becomes a path."""
    media_type = media_types.get(name)
    if media_type is None:
        raise not_found(f"No {what} {echo(name)} (known: {', '.join(media_types)})")
    return Reply(200, read(name), headers, media_type=media_type)
