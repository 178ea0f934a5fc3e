"""OCC updateProfile over HTTP: every documented error code of seed 002, reached through state
or input, asserting status and the whole errorModel body; plus the catalogue's contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from emulator.specs import OPENAPI_DIR
from emulator.vendors.commerce import errors
from tests.seeds import COMMERCE, seed_text

ROOT = Path(__file__).resolve().parents[2]
KIM = "/ccadmin/v1/profiles/se-570031"  # the seed's example profile
ADMIN = "/ccadmin/v1/profiles/se-570040"  # Acme's account admin (has a password)
APPROVER = "/ccadmin/v1/profiles/se-570041"  # Acme's only active approver, approvals on
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


def login(http, **form: str) -> dict[str, str]:
    headers = {} if form else {"Authorization": "Bearer emulator-app-key"}
    r = http.post(
        "/ccadmin/v1/login", data=form or {"grant_type": "client_credentials"}, headers=headers
    )
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def wire(error, **params) -> tuple[int, dict]:
    filled = error.fill(**params) if params else error
    return filled.status, dict(filled.body)


def answer(r) -> tuple[int, dict]:
    assert r.headers["content-type"] == "application/json"
    return r.status_code, r.json()


def test_22000_blank_profile_id(occ):
    expected = (
        400,
        {"errorCode": "22000", "message": "Profile id is null or empty.", "status": "400"},
    )
    assert answer(occ.put("/ccadmin/v1/profiles/%20", json={"firstName": "A"})) == expected
    assert answer(occ.get("/ccadmin/v1/profiles/%20%20")) == expected
    # No id at all (a trailing slash): the same error, never a redirect.
    assert answer(occ.put("/ccadmin/v1/profiles/", json={"firstName": "A"})) == expected
    assert answer(occ.get("/ccadmin/v1/profiles/")) == expected


def test_22001_is_an_injectable_internal_error(occ):
    expected = (
        500,
        {
            "errorCode": "22001",
            "message": "An internal error occurred while getting the profile.",
            "status": "500",
        },
    )
    assert wire(errors.CATALOGUE["22001"]) == expected
    rule = {
        "match": {"api": "commerce", "operation": "updateProfile"},
        "error": "commerce.22001",
        "times": 1,
    }
    assert occ.post("/_emulator/faults", json=rule).status_code == 201
    assert answer(occ.put(KIM, json={"firstName": "Kim"})) == expected
    assert occ.put(KIM, json={"firstName": "Kim"}).status_code == 200  # times: 1


def test_22002_unknown_profile_id(occ):
    expected = (
        404,
        {
            "errorCode": "22002",
            "message": "No profile found with the given id: nope",
            "status": "404",
        },
    )
    assert answer(occ.put("/ccadmin/v1/profiles/nope", json={"firstName": "A"})) == expected
    assert answer(occ.get("/ccadmin/v1/profiles/nope")) == expected


def _invalid_input(r) -> str:
    """The 22007 errorModel; its devMessage, whose reason after the emulator's prefix is the
    JSON parser's or the schema validator's own words (not pinned here)."""
    status, body = answer(r)
    dev = body.pop("devMessage")
    assert (status, body) == (
        400,
        {"errorCode": "22007", "message": "Invalid input provided.", "status": "400"},
    )
    return dev


def test_22007_malformed_json(occ):
    r = occ.put(KIM, content=b'{"firstName": ', headers={"content-type": "application/json"})
    dev = _invalid_input(r)
    assert dev.startswith("Malformed JSON: ") and len(dev) > len("Malformed JSON: ")


def test_22007_wrong_container_type(occ):
    dev = _invalid_input(occ.put(KIM, json={"shippingAddresses": {"address1": "x"}}))
    assert dev.startswith("shippingAddresses: ") and "array" in dev


def test_22007_password_confirmation_mismatch(occ):
    r = occ.put(KIM, json={"newPassword": "Secret-1", "newConfirmPassword": "Secret-2"})
    assert answer(r) == (
        400,
        {
            "errorCode": "22007",
            "message": "Invalid input provided.",
            "status": "400",
            "devMessage": "newConfirmPassword does not match newPassword",
        },
    )


def test_22024_string_field_sent_as_a_number(occ):
    assert answer(occ.put(KIM, json={"firstName": 123})) == (
        400,
        {"errorCode": "22024", "message": "firstName(123) must be a String", "status": "400"},
    )


@pytest.mark.parametrize(
    "body,message",
    [
        ({"lastName": True}, "lastName(true) must be a String"),
        ({"email": ["kim@example.com"]}, 'email(["kim@example.com"]) must be a String'),
        (
            {"shippingAddresses": [{**ADDRESS, "postalCode": 27587}]},
            "postalCode(27587) must be a String",
        ),
    ],
)
def test_22024_names_the_field_and_the_value(occ, body, message):
    assert answer(occ.put(KIM, json=body)) == (
        400,
        {"errorCode": "22024", "message": message, "status": "400"},
    )


@pytest.mark.parametrize(
    "programs",
    [
        "XTRAREWARDS",
        {"programId": "prog1"},
        ["prog1"],
        [{"programName": "XTRAREWARDS"}],
        [{"programId": "prog1", "membershipId": 42}],
    ],
)
def test_22025_malformed_loyalty_programs(occ, programs):
    assert answer(occ.put(KIM, json={"loyaltyPrograms": programs})) == (
        400,
        {
            "errorCode": "22025",
            "message": "Format for loyaltyPrograms is incorrect. Please refer to API doc for more "
            "information",
            "status": "400",
        },
    )


def test_22026_address_without_address1(occ):
    address = {k: v for k, v in ADDRESS.items() if k != "address1"}
    assert answer(occ.put(JILL, json={"shippingAddresses": [address]})) == (
        400,
        {
            "errorCode": "22026",
            "message": "address1 is either missing or incorrect.",
            "status": "400",
        },
    )


@pytest.mark.parametrize(
    "body,field",
    [
        ({"receiveEmail": "maybe"}, "receiveEmail"),
        ({"email": "not-an-email"}, "email"),
        ({"firstName": "  "}, "firstName"),
        ({"active": "sometimes"}, "active"),
        ({"parentOrganization": "999999"}, "parentOrganization"),
        ({"shippingAddress": {**ADDRESS, "postalCode": ""}}, "postalCode"),
    ],
)
def test_22026_field_missing_or_incorrect(occ, body, field):
    assert answer(occ.put(KIM, json=body)) == (
        400,
        {
            "errorCode": "22026",
            "message": f"{field} is either missing or incorrect.",
            "status": "400",
        },
    )


@pytest.mark.parametrize(
    "address",
    [
        {**ADDRESS, "selectedState": "ZZ"},
        {**ADDRESS, "selectedState": "", "state": "ZZ"},
        {**ADDRESS, "selectedCountry": "CA", "selectedState": "NC"},
    ],
)
def test_22027_state_not_of_the_country(occ, address):
    assert answer(occ.put(JILL, json={"shippingAddresses": [address]})) == (
        400,
        {"errorCode": "22027", "message": "Invalid state is provided.", "status": "400"},
    )


@pytest.mark.parametrize(
    "roles,named",
    [
        ([{"function": "superuser", "relativeTo": {"id": "900004"}}], "superuser"),
        ([{"function": "buyer", "relativeTo": {"id": "nowhere"}}], "buyer"),
        ([{"function": "buyer"}, {"function": "owner"}], "owner"),
    ],
)
def test_89001_invalid_roles(occ, roles, named):
    assert answer(occ.put(KIM, json={"roles": roles})) == (
        400,
        {"errorCode": "89001", "message": f"Invalid roles provided: {named}", "status": "400"},
    )


def test_89003_admin_removing_own_admin_role(http):
    http.headers.update(
        login(
            http,
            grant_type="password",
            username="alex.admin@example.com",
            password="Admin-Passw0rd",
        )
    )
    r = http.put(ADMIN, json={"roles": [{"function": "buyer", "relativeTo": {"id": "900010"}}]})
    assert answer(r) == (
        400,
        {
            "errorCode": "89003",
            "message": "You cannot remove the admin role from yourself.",
            "status": "400",
        },
    )


def test_89003_does_not_apply_to_another_caller(occ):
    r = occ.put(ADMIN, json={"roles": [{"function": "buyer", "relativeTo": {"id": "900010"}}]})
    assert r.status_code == 200
    assert [role["function"] for role in r.json()["roles"]] == ["buyer"]


def test_100088_removing_approver_role_from_last_active_approver(occ):
    assert answer(occ.put(APPROVER, json={"roles": [{"function": "buyer"}]})) == (
        400,
        {
            "errorCode": "100088",
            "message": "You cannot remove the Approver role from this contact. The account has no "
            "other active Approvers. Approvals are still enabled and/or there are orders "
            "pending approval.",
            "status": "400",
        },
    )


def test_100089_deactivating_last_active_approver(occ):
    assert answer(occ.put(APPROVER, json={"active": False})) == (
        400,
        {
            "errorCode": "100089",
            "message": "You cannot deactivate this contact. The account has no other active "
            "Approvers. Approvals are still enabled and/or there are orders pending "
            "approval",
            "status": "400",
        },
    )


def test_approver_may_go_once_another_active_approver_exists(occ):
    second = {
        "firstName": "Bo",
        "lastName": "Backup",
        "email": "bo@example.com",
        "parentOrganization": "900010",
        "roles": [{"function": "approver"}],
    }
    assert occ.post("/ccadmin/v1/profiles", json=second).status_code == 201
    assert occ.put(APPROVER, json={"roles": [{"function": "buyer"}]}).status_code == 200
    assert occ.put(APPROVER, json={"active": False}).status_code == 200


def test_email_in_use_is_case_insensitive(occ):
    assert answer(occ.put(JILL, json={"email": "KIM@Example.com"})) == (
        400,
        {
            "errorCode": "22007",
            "message": "Email address KIM@Example.com is already in use.",
            "status": "400",
        },
    )


def test_check_order_first_failure_wins(occ):
    body = {"firstName": 1, "receiveEmail": "maybe", "roles": [{"function": "superuser"}]}
    assert answer(occ.put("/ccadmin/v1/profiles/nope", json=body))[1]["errorCode"] == "22024"
    del body["firstName"]
    assert answer(occ.put("/ccadmin/v1/profiles/nope", json=body))[1]["errorCode"] == "22026"
    del body["receiveEmail"]
    assert answer(occ.put("/ccadmin/v1/profiles/nope", json=body))[1]["errorCode"] == "89001"
    assert answer(occ.put("/ccadmin/v1/profiles/nope", json={}))[1]["errorCode"] == "22002"


# ------------------------------------------------------------------ the catalogue's contract


def _spec_examples() -> list[dict]:
    spec = yaml.safe_load((OPENAPI_DIR / "commerce.yaml").read_text())
    return [example["value"] for example in spec["components"]["examples"].values()]


def test_catalogue_names_and_wire_types():
    seed_codes = {
        "22000",
        "22001",
        "22002",
        "22007",
        "22024",
        "22025",
        "22026",
        "22027",
        "89001",
        "89003",
        "100088",
        "100089",
    }
    assert seed_codes <= set(errors.CATALOGUE)
    for name, error in errors.CATALOGUE.items():
        body = error.filled_example().body
        assert body["status"] == str(error.status), name  # strings on the wire
        assert isinstance(body["errorCode"], str), name
        if name in seed_codes:
            assert body["errorCode"] == name


def test_every_catalogue_entry_is_an_example_of_the_spec():
    examples = _spec_examples()
    for name, error in errors.CATALOGUE.items():
        if name in ("RESOURCE_NOT_FOUND", "METHOD_NOT_ALLOWED"):
            continue  # unrouted paths are outside every operation of the spec
        assert dict(error.filled_example().body) in examples, name


def test_documented_messages_are_verbatim_from_the_seed():
    text = seed_text(COMMERCE)
    documented = {name: e for name, e in errors.CATALOGUE.items() if e.fidelity == "documented"}
    assert set(documented) == {"22024", "22025", "22026", "22027", "100088", "100089"}
    for name, error in documented.items():
        template = error.body["message"].replace("{field}", "{0}").replace("{value}", "{1}")
        assert f"|{name}|{template}" in text, name
