"""A partner's whole OCC flow over HTTP, and the two kinds of token it holds.

The vendor's "Refresh an access token" guide: tokens from an application key expire after
5 minutes, tokens from user credentials after 15 (docs/decisions.md#10); a refresh
"restarts the clock". Time moves with POST /_emulator/clock (decision 16), never by waiting.
"""

from __future__ import annotations

import httpx
import pytest

LOGIN = "/ccadmin/v1/login"
REFRESH = "/ccadmin/v1/refresh"
PROFILES = "/ccadmin/v1/profiles"
APP_KEY = {"Authorization": "Bearer emulator-app-key"}  # fixtures/commerce.yaml
USER = {
    "grant_type": "password",
    "username": "alex.admin@example.com",
    "password": "Admin-Passw0rd",
}
UNAUTHORIZED = {"errorCode": "000002", "message": "Authorization required.", "status": "401"}
APP_KEY_LIFETIME, USER_LIFETIME = 5 * 60, 15 * 60  # the vendor's guide


def advance(http: httpx.Client, minutes: float) -> None:
    r = http.post("/_emulator/clock", json={"advanceSeconds": minutes * 60})
    assert r.status_code == 200, r.text


def app_login(http: httpx.Client) -> dict:
    r = http.post(LOGIN, data={"grant_type": "client_credentials"}, headers=APP_KEY)
    assert r.status_code == 200, r.text
    return r.json()


def user_login(http: httpx.Client) -> dict:
    r = http.post(LOGIN, data=USER)  # no Authorization header
    assert r.status_code == 200, r.text
    return r.json()


def bearer(token: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {token['access_token']}"}


def works(http: httpx.Client, token: dict) -> bool:
    r = http.get(f"{PROFILES}/se-570031", headers=bearer(token))
    if r.status_code == 401:
        assert r.json() == UNAUTHORIZED
        return False
    assert r.status_code == 200, r.text
    return True


def test_the_partners_flow(http: httpx.Client) -> None:
    app, user = app_login(http), user_login(http)
    assert (app["expires_in"], user["expires_in"]) == (APP_KEY_LIFETIME, USER_LIFETIME)
    headers = bearer(app)
    created = []
    for n in (1, 2):
        body = {"firstName": "Flo", "lastName": f"Shopper{n}", "email": f"flo{n}@example.com"}
        r = http.post(PROFILES, json=body, headers=headers)
        assert r.status_code == 201, r.text
        created.append(r.json()["id"])
    r = http.get(PROFILES, params={"q": 'email EQ "flo2@example.com"'}, headers=headers)
    assert [item["id"] for item in r.json()["items"]] == [created[1]]
    r = http.put(f"{PROFILES}/{created[1]}", json={"lastName": "Found"}, headers=headers)
    assert (r.status_code, r.json()["lastName"]) == (200, "Found")

    advance(http, 6)
    r = http.get(PROFILES, headers=headers)
    assert (r.status_code, r.json()) == (401, UNAUTHORIZED)
    assert works(http, user)
    advance(http, 10)
    assert not works(http, user)
    assert works(http, app_login(http)) and works(http, user_login(http))


@pytest.mark.parametrize(("login", "lifetime"), [(app_login, 300), (user_login, 900)])
def test_each_kind_lives_its_own_lifetime_to_the_second(
    http: httpx.Client, login, lifetime
) -> None:
    token = login(http)
    advance(http, (lifetime - 1) / 60)
    assert works(http, token)
    advance(http, 1 / 60)
    assert not works(http, token)


@pytest.mark.parametrize(("login", "lifetime"), [(app_login, 300), (user_login, 900)])
def test_a_refresh_keeps_its_kinds_lifetime(http: httpx.Client, login, lifetime) -> None:
    token = login(http)
    advance(http, 4)
    r = http.post(REFRESH, headers=bearer(token))
    assert r.status_code == 200, r.text
    refreshed = r.json()
    assert refreshed["expires_in"] == lifetime
    advance(http, (lifetime - 1) / 60)  # the clock restarted at the refresh
    assert works(http, refreshed)
    advance(http, 1 / 60)
    assert not works(http, refreshed)


def test_both_lifetimes_are_configurable_per_namespace(http: httpx.Client) -> None:
    r = http.patch(
        "/_emulator/config",
        json={"commerce": {"tokenLifetimeSeconds": 60, "userTokenLifetimeSeconds": 120}},
    )
    assert r.status_code == 200, r.text
    assert r.json()["commerce"]["userTokenLifetimeSeconds"] == 120
    assert (app_login(http)["expires_in"], user_login(http)["expires_in"]) == (60, 120)
    assert http.post("/_emulator/reset").status_code == 204
    assert (app_login(http)["expires_in"], user_login(http)["expires_in"]) == (300, 900)
