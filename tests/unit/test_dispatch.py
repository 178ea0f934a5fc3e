"""Spec failures are values the Dispatcher holds the handler to: what the API leaves to a
handler is refused at ctx.checked(); a handler that never got there can neither write nor
answer (an emulator bug shows as the vendor's internal error, never as accepted input and
never as stored state)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from emulator.app import create_app
from emulator.context import RequestContext
from emulator.reply import Reply
from emulator.vendors.loyalty import handlers

PROFILE = "/client/users/seed-session-1/profile"
VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1990-01-01",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}


def put(app: Any, body: dict[str, Any]) -> httpx.Response:
    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://emulator") as client:
            return await client.put(PROFILE, json=body)

    return asyncio.run(call())


@pytest.fixture
def careless(monkeypatch: pytest.MonkeyPatch) -> list[RequestContext]:
    """updateProfile as a handler that writes the body without its checks or ctx.checked()."""
    seen: list[RequestContext] = []

    async def update_profile(ctx: RequestContext) -> Reply:
        seen.append(ctx)
        session = ctx.store["loyalty.sessions"].get("seed-session-1")
        assert session is not None
        accounts = ctx.store["loyalty.accounts"]
        account = accounts.get(session["accountId"])
        assert account is not None
        accounts.put(
            account["accountId"], {**account, "profile": {**account["profile"], **ctx.body}}
        )
        return Reply(200, {"debugMessage": "Profile Updated"})

    monkeypatch.setattr(handlers, "update_profile", update_profile)
    return seen


@pytest.fixture
def forgetful(monkeypatch: pytest.MonkeyPatch) -> list[RequestContext]:
    """updateProfile as a handler that forgets the spec's errors and ctx.checked()."""
    seen: list[RequestContext] = []

    async def update_profile(ctx: RequestContext) -> Reply:
        seen.append(ctx)
        return Reply(200, {"debugMessage": "Profile Updated"})

    monkeypatch.setattr(handlers, "update_profile", update_profile)
    return seen


def test_a_handler_that_skips_its_checks_cannot_accept_what_the_spec_refuses(
    forgetful: list,
) -> None:
    app = create_app()
    r = put(app, {**VALID, "gender": "X"})  # an enum failure loyalty reports in its own order
    assert forgetful, "the failure was meant to be left to the handler"
    assert (r.status_code, r.json()["errorCode"]) == (500, "INTERNAL_ERROR")


def test_a_valid_call_is_answered_without_checked(forgetful: list) -> None:
    app = create_app()
    assert put(app, VALID).status_code == 200


def test_a_failure_the_api_words_at_once_never_reaches_the_handler(forgetful: list) -> None:
    app = create_app()
    r = put(app, {**VALID, "extendedData": "not an object"})
    assert r.status_code == 400 and not forgetful


def test_a_handler_that_writes_without_its_checks_stores_nothing(
    careless: list, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app()
    r = put(app, {**VALID, "firstName": "Grace", "gender": "X"})
    assert careless, "the failure was meant to be left to the handler"
    assert (r.status_code, r.json()["errorCode"]) == (500, "INTERNAL_ERROR")
    assert "loyalty.updateProfile wrote before ctx.checked()" in caplog.text
    store = careless[0].namespace.store
    session = store["loyalty.sessions"].get("seed-session-1")
    profile = store["loyalty.accounts"].get(session["accountId"])["profile"]
    assert (profile.get("gender"), profile["firstName"]) != ("X", "Grace"), profile
    assert profile["firstName"] == "Ada", "the seed's profile, unchanged"


def test_a_careless_handler_given_a_valid_call_still_writes(careless: list) -> None:
    """The refusal is the spec's failure, not the handler: the same write of a valid body."""
    app = create_app()
    assert put(app, {**VALID, "firstName": "Grace"}).status_code == 200
    store = careless[0].namespace.store
    session = store["loyalty.sessions"].get("seed-session-1")
    assert store["loyalty.accounts"].get(session["accountId"])["profile"]["firstName"] == "Grace"
