"""ES Loyalty flow over HTTP: enrol, start sessions by each identifier type, read back."""

from __future__ import annotations

import pytest

from emulator.vendors.loyalty import errors

MEMBER = {
    "firstName": "Alan",
    "lastName": "Turing",
    "dateOfBirth": "1912-06-23",
    "gender": "M",
    "email": "Alan@Example.com",
    "postalZipCode": "12345",
    "phoneNumber": "(212) 555-0199",
    "externalId": "crm-42",
    "partnerLinkId": "pl-42",
    "externalAgentId": "agent-42",
}


def enrol(http, **changes):
    r = http.post("/client/users", json={**MEMBER, **changes})
    assert r.status_code == 201, r.text
    return r.json()


def session(http, identifier, kind=None, correlation_id="c-1", channel="APP"):
    headers = {"X-Identifier-Type": kind} if kind else {}
    return http.post(
        f"/client/users/{identifier}/sessions",
        headers=headers,
        json={"correlationId": correlation_id, "channel": channel},
    )


def test_enrol_returns_new_ids(http):
    first, second = enrol(http), enrol(http, email="other@example.com")
    assert first == {"accountId": "1000001000", "loyaltyId": "7000001000"}
    assert second == {"accountId": "1000001001", "loyaltyId": "7000001001"}


def test_enrol_applies_update_profile_rules(http):
    r = http.post("/client/users", json={**MEMBER, "email": "ada@EXAMPLE.com"})
    assert (r.status_code, r.json()) == (400, dict(errors.EMAIL_ALREADY_EXISTS.body))
    r = http.post("/client/users", json={"firstName": "A", "lastName": "B"})
    assert r.json()["errorMessage"] == (
        "The following missing fields are mandatory: dateOfBirth gender email postalCode"
    )


@pytest.mark.parametrize(
    "kind,identifier",
    [
        (None, "{accountId}"),
        ("ACCOUNT_ID", "{accountId}"),
        ("LOYALTY_ID", "{loyaltyId}"),
        ("EMAIL", "alan@example.COM"),
        ("EXTERNAL_ID", "crm-42"),
        ("PARTNER_LINK_ID", "pl-42"),
        ("PHONE_NUMBER", "2125550199"),
        ("EXTERNAL_AGENT_ID", "agent-42"),
    ],
)
def test_session_by_each_identifier_type(http, kind, identifier):
    ids = enrol(http)
    r = session(http, identifier.format(**ids), kind, correlation_id="c-kind")
    assert (r.status_code, r.json()) == (201, {**ids, "correlationId": "c-kind", "channel": "APP"})
    profile = http.get("/client/users/c-kind/profile").json()
    assert profile["accountId"] == ids["accountId"] and profile["email"] == "Alan@Example.com"


def test_session_for_unknown_account(http):
    r = session(http, "nobody@example.com", "EMAIL")
    assert (r.status_code, r.json()) == (
        404,
        {
            "statusCode": 404,
            "errorCode": "NOT_FOUND",
            "errorMessage": "No account found for EMAIL: nobody@example.com",
        },
    )


@pytest.mark.parametrize("correlation_id", ["", "   "])
def test_session_needs_a_correlation_id(http, correlation_id):
    r = session(http, "1000000001", correlation_id=correlation_id)
    assert (r.status_code, r.json()) == (400, dict(errors.MISSING_CORRELATION_ID.body))


def test_session_needs_a_channel(http):
    r = http.post("/client/users/1000000001/sessions", json={"correlationId": "c", "channel": " "})
    assert (r.status_code, r.json()) == (400, dict(errors.MISSING_CHANNEL.body))
    r = http.post("/client/users/1000000001/sessions", json={"correlationId": "c", "channel": None})
    assert (r.status_code, r.json()) == (400, dict(errors.MISSING_CHANNEL.body))


def test_unknown_identifier_type_is_refused(http):
    r = session(http, "1000000001", "SHOE_SIZE")
    assert r.status_code == 400 and r.json()["errorCode"] == "INVALID_REQUEST"


def test_enrolled_member_updates_and_reads_extended_data(http):
    ids = enrol(http)
    session(http, ids["accountId"], correlation_id="c-emd")
    body = {
        **MEMBER,
        "extendedData": {"bankName": "ES Bank", "doNotText": True},
        "extendedDataSource": "BANKING_INFO",
    }
    body.pop("externalId"), body.pop("partnerLinkId"), body.pop("externalAgentId")
    assert http.put("/client/users/c-emd/profile", json=body).json() == {
        "debugMessage": "Profile Updated"
    }
    assert http.get("/client/users/c-emd/profile/emd").json() == {
        "bankName": "ES Bank",
        "doNotText": True,
    }
    assert (
        http.get(
            "/client/users/c-emd/profile/emd", params={"extendedDataSource": "MARKETING"}
        ).json()
        == {}
    )


def test_extended_data_is_empty_object_when_none(http):
    session(http, "1000000002", correlation_id="c-none")
    assert http.get("/client/users/c-none/profile/emd").json() == {}


def test_extended_data_replaced_per_source_and_kept_when_omitted(http):
    base = {
        "firstName": "Ada",
        "lastName": "Lovelace",
        "dateOfBirth": "1985-12-10",
        "gender": "F",
        "email": "ada@example.com",
        "postalZipCode": "H0H 0H0",
    }
    path = "/client/users/seed-session-1/profile"
    http.put(
        path, json={**base, "extendedDataSource": "MARKETING", "extendedData": {"casl": False}}
    )
    assert http.get(path + "/emd").json() == {"casl": False}
    http.put(path, json=base)
    assert http.get(path + "/emd").json() == {"casl": False}


def test_unknown_session_on_reads(http):
    for path in ("/client/users/zzz/profile", "/client/users/zzz/profile/emd"):
        r = http.get(path)
        assert (r.status_code, r.json()) == (
            404,
            {
                "statusCode": 404,
                "errorCode": "NOT_FOUND",
                "errorMessage": "Invalid session correlation ID: zzz",
            },
        )


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/client/users/"), ("GET", "/client/users/zzz/profile/")]
)
def test_a_trailing_slash_is_not_a_route_and_never_a_redirect(http, method, path):
    r = http.request(method, path, json={} if method == "POST" else None)
    assert (r.status_code, r.json()) == (
        404,
        {
            "statusCode": 404,
            "errorCode": "NOT_FOUND",
            "errorMessage": f"No resource at {method} {path}",
        },
    )
