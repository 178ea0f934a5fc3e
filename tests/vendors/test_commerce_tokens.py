"""OCC access tokens at scale: a login costs the same however many tokens are live, expired
ones are dropped as new ones are issued (a snapshot's too), and an expired token, dropped or
not, is answered with the documented 401. The token clock is moved, never waited for."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from emulator.state import Collection

LOGIN = "/ccadmin/v1/login"
KIM = "/ccadmin/v1/profiles/se-570031"
APP_KEY = {"Authorization": "Bearer emulator-app-key"}
# README ("Errors come in OCC's errorModel"): a call without a valid token.
UNAUTHORIZED = {"errorCode": "000002", "message": "Authorization required.", "status": "401"}
TOKENS = "commerce.tokens"


@pytest.fixture
def clock(http: httpx.Client) -> Callable[[float], None]:
    """``clock(s)`` moves the namespace's time s seconds on (POST /_emulator/clock)."""

    def advance(seconds: float) -> None:
        r = http.post("/_emulator/clock", json={"advanceSeconds": seconds})
        assert r.status_code == 200, r.text

    return advance


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The token records the server reads: each one a scan yields, each one looked up."""
    read: list[str] = []
    iterate, get = Collection.__iter__, Collection.get

    def counted_iter(self: Collection) -> Iterator[Any]:
        for doc in iterate(self):
            if self.name == TOKENS:
                read.append(doc["token"])
            yield doc

    def counted_get(self: Collection, key: str) -> Any:
        if self.name == TOKENS:
            read.append(key)
        return get(self, key)

    monkeypatch.setattr(Collection, "__iter__", counted_iter)
    monkeypatch.setattr(Collection, "get", counted_get)
    yield read


def login(http: httpx.Client) -> str:
    r = http.post(LOGIN, data={"grant_type": "client_credentials"}, headers=APP_KEY)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def tokens(http: httpx.Client) -> dict[str, Any]:
    r = http.get("/_emulator/state")
    assert r.status_code == 200
    return r.json()[TOKENS]


def with_tokens(http: httpx.Client, count: int, expires_at: float) -> dict[str, Any]:
    """The namespace's state, holding ``count`` more tokens that expire at ``expires_at``."""
    state = http.get("/_emulator/state").json()
    for n in range(count):
        token = f"restored-{n}"
        state[TOKENS][token] = {
            "token": token,
            "subject": {"type": "application", "id": "emulator-app-key"},
            "issuedAt": expires_at - 300,
            "expiresAt": expires_at,
        }
    return state


def test_a_login_reads_none_of_the_live_tokens(http: httpx.Client, reads: list[str]) -> None:
    r = http.put("/_emulator/state", json=with_tokens(http, 2000, time.time() + 3600))
    assert r.status_code == 204, r.text
    login(http)  # the first login after a restore learns the tokens' expiries, once
    reads.clear()
    for _ in range(3):
        login(http)
    assert reads == []  # no scan, no look-up: nothing had expired
    assert len(tokens(http)) == 2000 + 4


def test_expired_tokens_are_dropped_as_new_ones_are_issued(
    http: httpx.Client, clock: Callable[[float], None]
) -> None:
    r = http.patch("/_emulator/config", json={"commerce": {"tokenLifetimeSeconds": 1}})
    assert r.status_code == 200, r.text
    for _ in range(300):
        login(http)
        clock(2)
    assert len(tokens(http)) == 1  # the last one, expired since: the next login drops it
    login(http)
    assert len(tokens(http)) == 1


def test_a_snapshots_expired_tokens_are_dropped_too(http: httpx.Client, reads: list[str]) -> None:
    state = with_tokens(http, 450, time.time() - 1)
    state[TOKENS]["kept"] = {**state[TOKENS]["restored-0"], "token": "kept"}
    state[TOKENS]["kept"]["expiresAt"] = time.time() + 3600
    assert http.put("/_emulator/state", json=state).status_code == 204
    for _ in range(5):  # a login drops up to 100 expired tokens (its cost stays bounded)
        login(http)
    assert sorted(token for token in tokens(http) if not token.startswith("ey")) == ["kept"]
    reads.clear()
    login(http)
    assert reads == []


def test_an_expired_token_dropped_or_not_gets_the_documented_401(
    http: httpx.Client, clock: Callable[[float], None]
) -> None:
    expired = login(http)
    clock(301)  # the application key's tokens live 300 s (fixtures/commerce.yaml)
    bearer = {"Authorization": f"Bearer {expired}"}
    r = http.get(KIM, headers=bearer)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    assert expired in tokens(http)
    fresh = login(http)  # drops the expired one
    assert set(tokens(http)) == {fresh}
    r = http.get(KIM, headers=bearer)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    assert http.get(KIM, headers={"Authorization": f"Bearer {fresh}"}).status_code == 200
