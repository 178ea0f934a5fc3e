"""OCC string fields over HTTP: a non-string value is 22024 `{0}({1}) must be a String`
(seed 002) wherever the field is, top level, the default shippingAddress or an item of
shippingAddresses; in the check order of commerce.yaml (token, body shape, then 22024);
null where the spec admits it, 22026 where a required field gets it."""

from __future__ import annotations

import pytest

KIM = "/ccadmin/v1/profiles/se-570031"  # the seed's example profile
JILL = "/ccadmin/v1/profiles/se-570050"  # a B2C shopper
ADDRESS = {
    "firstName": "Jack",
    "lastName": "Black",
    "address1": "405 Example Street",
    "city": "Wake Forest",
    "country": "United States",
    "selectedCountry": "US",
    "state": "North Carolina",
    "selectedState": "NC",
    "postalCode": "27587",
}


def answer(r) -> tuple[int, dict]:
    assert r.headers["content-type"] == "application/json"
    return r.status_code, r.json()


def not_a_string(message: str) -> tuple[int, dict]:
    return 400, {"errorCode": "22024", "message": message, "status": "400"}


def missing_or_incorrect(field: str) -> tuple[int, dict]:
    return 400, {
        "errorCode": "22026",
        "message": f"{field} is either missing or incorrect.",
        "status": "400",
    }


@pytest.mark.parametrize(
    "body,message",
    [
        ({"firstName": 123}, "firstName(123) must be a String"),
        ({"gender": False}, "gender(false) must be a String"),
        ({"dateOfBirth": 19851210}, "dateOfBirth(19851210) must be a String"),
        ({"parentOrganization": 900004}, "parentOrganization(900004) must be a String"),
        ({"newPassword": {"value": "x"}}, 'newPassword({"value":"x"}) must be a String'),
    ],
)
def test_22024_at_the_top_level(occ, body, message):
    assert answer(occ.put(KIM, json=body)) == not_a_string(message)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("address1", ["405 Example Street"], 'address1(["405 Example Street"]) must be a String'),
        ("postalCode", 27587, "postalCode(27587) must be a String"),
        ("selectedState", True, "selectedState(true) must be a String"),
    ],
)
def test_22024_in_the_default_shipping_address(occ, field, value, message):
    body = {"shippingAddress": {**ADDRESS, field: value}}
    assert answer(occ.put(JILL, json=body)) == not_a_string(message)


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("city", 42, "city(42) must be a String"),
        ("firstName", {"given": "Jack"}, 'firstName({"given":"Jack"}) must be a String'),
        ("faxNumber", 5551234, "faxNumber(5551234) must be a String"),
    ],
)
def test_22024_in_a_shipping_addresses_item(occ, field, value, message):
    body = {"shippingAddresses": [ADDRESS, {**ADDRESS, field: value}]}
    assert answer(occ.put(JILL, json=body)) == not_a_string(message)


def test_22024_on_create_too(occ):
    body = {"firstName": "Pat", "lastName": 7, "email": "pat@example.com"}
    assert answer(occ.post("/ccadmin/v1/profiles", json=body)) == not_a_string(
        "lastName(7) must be a String"
    )


def test_the_token_comes_before_22024(http):
    r = http.put(KIM, json={"firstName": 123})
    assert answer(r)[0] == 401


def test_body_shape_comes_before_22024(occ):
    body = {"firstName": 123, "roles": "buyer"}
    status, error = answer(occ.put(KIM, json=body))
    dev = error.pop("devMessage")  # the field, then the schema validator's own words
    assert (status, error) == (
        400,
        {"errorCode": "22007", "message": "Invalid input provided.", "status": "400"},
    )
    assert dev.startswith("roles: ") and len(dev) > len("roles: ")
    body = {"firstName": 123, "loyaltyPrograms": "XTRAREWARDS"}
    assert answer(occ.put(KIM, json=body)) == (
        400,
        {
            "errorCode": "22025",
            "message": "Format for loyaltyPrograms is incorrect. Please refer to API doc for more "
            "information",
            "status": "400",
        },
    )


def test_the_profile_is_checked_before_its_addresses(occ):
    body = {"shippingAddresses": [{**ADDRESS, "postalCode": 27587}], "lastName": 1}
    assert answer(occ.put(JILL, json=body)) == not_a_string("lastName(1) must be a String")


def test_22024_comes_before_22026(occ):
    body = {
        "receiveEmail": "maybe",
        "shippingAddresses": [{**ADDRESS, "address1": None, "county": 12}],
    }
    assert answer(occ.put(JILL, json=body)) == not_a_string("county(12) must be a String")


@pytest.mark.parametrize(
    "body,field",
    [
        ({"firstName": None}, "firstName"),
        ({"email": None}, "email"),
        ({"receiveEmail": None}, "receiveEmail"),
        ({"shippingAddresses": [{**ADDRESS, "address1": None}]}, "address1"),
        ({"shippingAddresses": [{**ADDRESS, "postalCode": None}]}, "postalCode"),
        ({"shippingAddress": {**ADDRESS, "lastName": None}}, "lastName"),
    ],
)
def test_a_required_string_sent_as_null_is_missing_or_incorrect(occ, body, field):
    assert answer(occ.put(JILL, json=body)) == missing_or_incorrect(field)


def test_optional_strings_may_be_null(occ):
    r = occ.put(
        KIM,
        json={
            "gender": None,
            "dateOfBirth": None,
            "locale": None,
            "daytimeTelephoneNumber": None,
            "newPassword": None,
            "newConfirmPassword": None,
        },
    )
    status, body = answer(r)
    assert status == 200
    assert [body[k] for k in ("gender", "dateOfBirth", "locale", "daytimeTelephoneNumber")] == [
        None,
        None,
        None,
        None,
    ]


def test_a_null_country_gives_way_to_selected_country(occ):
    """The seed: selectedCountry and selectedState take precedence over country and state."""
    body = {"shippingAddresses": [{**ADDRESS, "country": None, "state": None}]}
    status, profile = answer(occ.put(JILL, json=body))
    assert status == 200
    assert (
        profile["shippingAddresses"][0]["country"],
        profile["shippingAddresses"][0]["state"],
    ) == ("US", "NC")
