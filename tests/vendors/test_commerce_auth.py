"""OCC auth over HTTP: application-key and user logins, the bearer check on every other
operation, token expiry (a fake clock, no sleeping), refresh, and the auth switch."""

from __future__ import annotations

import base64
import json

import pytest

LOGIN = "/ccadmin/v1/login"
REFRESH = "/ccadmin/v1/refresh"
KIM = "/ccadmin/v1/profiles/se-570031"
APP_KEY = {"Authorization": "Bearer emulator-app-key"}
CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}
UNAUTHORIZED = (401, {"errorCode": "000002", "message": "Authorization required.", "status": "401"})
PROTECTED = [
    ("get", KIM, None),
    ("put", KIM, {"firstName": "Kim"}),
    (
        "post",
        "/ccadmin/v1/profiles",
        {"firstName": "A", "lastName": "B", "email": "ab@example.com"},
    ),
    ("post", REFRESH, None),
]


def token(http, headers=APP_KEY, **form: str) -> str:
    r = http.post(LOGIN, data=form or CLIENT_CREDENTIALS, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def call(http, method: str, path: str, body, headers) -> tuple[int, dict]:
    r = http.request(method, path, json=body, headers=headers)
    assert r.headers["content-type"] == "application/json"
    return r.status_code, r.json()


@pytest.fixture
def clock(http):
    """Move the namespace's time (POST /_emulator/clock): ``clock(301)`` is five minutes and
    a second later."""

    def advance(seconds: float) -> None:
        r = http.post("/_emulator/clock", json={"advanceSeconds": seconds})
        assert r.status_code == 200, r.text

    return advance


def configure(http, **commerce) -> None:
    r = http.patch("/_emulator/config", json={"commerce": commerce})
    assert r.status_code == 200, r.text


def test_login_with_the_application_key(http):
    r = http.post(LOGIN, data=CLIENT_CREDENTIALS, headers=APP_KEY)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 300)
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    assert claims["sub"] == "application:emulator-app-key"
    assert claims["exp"] - claims["iat"] == 300


def test_the_token_opens_every_operation(http):
    headers = bearer(token(http))
    assert http.get(KIM, headers=headers).status_code == 200
    assert http.put(KIM, json={"gender": "female"}, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, bearer("wrong-key"), {"Authorization": "Basic ZW11"}, {"Authorization": "Bearer"}],
    ids=["none", "wrong", "basic", "empty"],
)
def test_login_refuses_a_missing_or_wrong_application_key(http, headers):
    r = http.post(LOGIN, data=CLIENT_CREDENTIALS, headers=headers)
    assert (r.status_code, r.json()) == UNAUTHORIZED


def test_an_access_token_is_not_an_application_key(http):
    r = http.post(LOGIN, data=CLIENT_CREDENTIALS, headers=bearer(token(http)))
    assert (r.status_code, r.json()) == UNAUTHORIZED


def test_login_with_an_unknown_grant_type_is_invalid_input(http):
    r = http.post(LOGIN, data={"grant_type": "implicit"}, headers=APP_KEY)
    assert r.status_code == 400
    body = r.json()
    dev = body.pop("devMessage")  # the field, then the schema validator's own words
    assert body == {"errorCode": "22007", "message": "Invalid input provided.", "status": "400"}
    assert dev.startswith("grant_type: ") and len(dev) > len("grant_type: ")


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_no_token_is_refused(http, method, path, body):
    assert call(http, method, path, body, {}) == UNAUTHORIZED


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_unknown_token_is_refused(http, method, path, body):
    assert call(http, method, path, body, bearer("eyJhbGciOiJIUzI1NiJ9.e30.forged")) == UNAUTHORIZED
    assert call(http, method, path, body, APP_KEY) == UNAUTHORIZED  # the key is not a token


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_expired_token_is_refused(http, clock, method, path, body):
    headers = bearer(token(http))
    clock(299)
    assert call(http, method, path, body, headers)[0] != 401
    clock(2)
    assert call(http, method, path, body, headers) == UNAUTHORIZED


def test_token_lifetime_is_read_from_the_config_per_request(http, clock):
    configure(http, tokenLifetimeSeconds=10)
    r = http.post(LOGIN, data=CLIENT_CREDENTIALS, headers=APP_KEY)
    assert r.json()["expires_in"] == 10
    headers = bearer(r.json()["access_token"])
    clock(9)
    assert http.get(KIM, headers=headers).status_code == 200
    clock(2)
    assert call(http, "get", KIM, None, headers) == UNAUTHORIZED


def test_refresh_issues_a_new_working_token(http, clock):
    old = token(http)
    clock(200)
    r = http.post(REFRESH, headers=bearer(old))
    assert r.status_code == 200
    new = r.json()["access_token"]
    assert new != old and r.json()["token_type"] == "bearer"
    clock(200)  # the old token has expired, the refreshed one has not
    assert call(http, "get", KIM, None, bearer(old)) == UNAUTHORIZED
    assert http.get(KIM, headers=bearer(new)).status_code == 200


def test_refresh_with_an_expired_token_is_refused(http, clock):
    old = token(http)
    clock(301)
    assert call(http, "post", REFRESH, None, bearer(old)) == UNAUTHORIZED


def test_tokens_belong_to_their_namespace(http, server):
    headers = {**bearer(token(http)), "X-Emulator-Namespace": "another-namespace-x"}
    r = http.get(KIM, headers=headers)
    assert (r.status_code, r.json()) == UNAUTHORIZED


def test_reset_forgets_tokens(http):
    headers = bearer(token(http))
    assert http.post("/_emulator/reset").status_code in (200, 204)
    assert call(http, "get", KIM, None, headers) == UNAUTHORIZED


def test_seeded_user_logs_in_with_email_and_password(http):
    value = token(
        http,
        {},
        grant_type="password",
        username="Alex.Admin@example.com",
        password="Admin-Passw0rd",
    )
    claims = json.loads(base64.urlsafe_b64decode(value.split(".")[1] + "=="))
    assert claims["sub"] == "profile:se-570040"
    assert http.get(KIM, headers=bearer(value)).status_code == 200


@pytest.mark.parametrize(
    "username,password",
    [
        ("alex.admin@example.com", "wrong"),
        ("kim@example.com", ""),  # no password seeded
        ("nobody@example.com", "Admin-Passw0rd"),
    ],
)
def test_user_login_with_wrong_credentials_is_refused(http, username, password):
    r = http.post(
        LOGIN, data={"grant_type": "password", "username": username, "password": password}
    )
    assert (r.status_code, r.json()) == UNAUTHORIZED


@pytest.mark.parametrize("method,path,body", PROTECTED)
def test_auth_switched_off_needs_no_token(http, method, path, body):
    configure(http, authEnabled=False)
    assert call(http, method, path, body, {})[0] in (200, 201)
    r = http.post(LOGIN, data=CLIENT_CREDENTIALS, headers=bearer("any-key"))
    assert r.status_code == 200


def test_auth_switch_is_per_namespace(http, server):
    configure(http, authEnabled=False)
    r = http.get(KIM, headers={"X-Emulator-Namespace": "auth-still-on"})
    assert (r.status_code, r.json()) == UNAUTHORIZED


def test_a_chunked_login_form_logs_in(http):
    def chunks():
        yield b"grant_type="
        yield b"client_credentials"

    r = http.post(
        LOGIN,
        content=chunks(),
        headers={**APP_KEY, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
