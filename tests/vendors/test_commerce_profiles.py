"""OCC profiles over HTTP: the seed's own examples, create -> update -> get round trips with
addresses, the update semantics of issue 3, deterministic ids and race-free email uniqueness."""

from __future__ import annotations

import threading

import httpx
import pytest
import yaml

from emulator.specs import OPENAPI_DIR
from emulator.vendors.commerce.profiles import PROFILE_KEYS

EXAMPLES = yaml.safe_load((OPENAPI_DIR / "commerce.yaml").read_text())["components"]["examples"]
PROFILES = "/ccadmin/v1/profiles"
KIM = f"{PROFILES}/se-570031"
JILL = f"{PROFILES}/se-570050"
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
STORED_ADDRESS = {
    "firstName": "Jack",
    "lastName": "Black",
    "address1": "405 Example Street",
    "city": "Wake Forest",
    "postalCode": "27587",
    "country": "US",
    "countryName": "United States",
    "state": "NC",
    "regionName": "North Carolina",
    "state_ISOCode": "US-NC",
}
NEW = {"firstName": "Pat", "lastName": "Example", "email": "pat@example.com"}


def ok(r, status: int = 200) -> dict:
    assert r.status_code == status, r.text
    return r.json()


def self_link(occ, path: str) -> list[dict[str, str]]:
    """The vendor's `links` ("View a shopper profile", "Create a shopper profile"): the URL of
    ``path`` on the host the call went to."""
    return [{"rel": "self", "href": f"{occ.base_url}{path}".replace("https://", "http://")}]


def read(occ, path: str) -> dict:
    """getProfile's answer, its `links` checked and taken off: the updateProfile shape."""
    body = ok(occ.get(path))
    assert body.pop("links") == self_link(occ, path)
    return body


def test_seeded_profile_is_the_seed_response_example(occ):
    body = ok(occ.get(KIM))
    assert body == {**EXAMPLES["ProfileResponse"]["value"], "links": self_link(occ, KIM)}


def test_seed_sample_request_gives_the_seed_sample_response(occ):
    """The seed's sample request (with its "funtion" spelling) on the seed's profile: the seed's
    sample response but for what the request itself changes (firstName "kim", status Enrolled)."""
    body = ok(occ.put(KIM, json=EXAMPLES["UpdateProfileSampleRequest"]["value"]))
    expected = EXAMPLES["ProfileResponse"]["value"]
    expected = {
        **expected,
        "firstName": "kim",
        "loyaltyPrograms": [
            expected["loyaltyPrograms"][0],
            {**expected["loyaltyPrograms"][1], "status": "Enrolled"},
        ],
    }
    assert body == expected


def test_seed_request_example_stores_both_addresses_and_the_default(occ):
    body = ok(occ.put(JILL, json=EXAMPLES["UpdateProfileRequest"]["value"]))
    assert [list(body)] == [list(PROFILE_KEYS)]  # every key of the seed's example, in order
    extras = {
        "prefix": "",
        "middleName": "",
        "suffix": "",
        "jobTitle": "",
        "companyName": "",
        "address2": "",
        "address3": "",
        "county": "",
        "faxNumber": "",
    }
    first = {
        "repositoryId": "110100",
        "alias": "Address",
        **STORED_ADDRESS,
        **extras,
        "phoneNumber": "555123456",
    }
    second = {
        **first,
        "repositoryId": "110101",
        "alias": "Address##0",
        "firstName": "Jill",
        "lastName": "Hill",
        "address1": "415 Example Road",
        "phoneNumber": "55512345",
    }
    assert body["shippingAddresses"] == [first, second]
    assert body["shippingAddress"] == first  # isDefaultAddress: true
    assert (body["firstName"], body["email"], body["receiveEmail"], body["dateOfBirth"]) == (
        "Jack",
        "jack@example.com",
        "yes",
        "null",
    )


def test_create_update_get_round_trip_with_addresses(occ):
    created = ok(occ.post(PROFILES, json={**NEW, "shippingAddresses": [ADDRESS]}), 201)
    assert created == {"id": "se-570100", "links": self_link(occ, PROFILES)}
    path = f"{PROFILES}/{created['id']}"
    profile = read(occ, path)
    kept = profile["shippingAddresses"][0]
    assert kept == {"repositoryId": "110100", **STORED_ADDRESS}
    assert profile["shippingAddress"] == {}  # nothing flagged isDefaultAddress

    home = {**kept, "isDefaultAddress": True, "city": "Raleigh"}
    work = {**ADDRESS, "address1": "1 Office Park", "isDefaultAddress": False}
    updated = ok(
        occ.put(
            path,
            json={"lastName": "Sample", "receiveEmail": "yes", "shippingAddresses": [work, home]},
        )
    )
    assert [a["repositoryId"] for a in updated["shippingAddresses"]] == ["110101", "110100"]
    assert updated["shippingAddress"] == {**kept, "city": "Raleigh"}
    assert (updated["firstName"], updated["lastName"], updated["receiveEmail"]) == (
        "Pat",
        "Sample",
        "yes",
    )
    assert read(occ, path) == updated


def test_sent_fields_replace_and_omitted_fields_stay(occ):
    before = read(occ, KIM)
    after = ok(occ.put(KIM, json={"gender": None, "daytimeTelephoneNumber": "212-555-0000"}))
    assert after == {**before, "gender": None, "daytimeTelephoneNumber": "212-555-0000"}


def test_shipping_addresses_replace_the_list(occ):
    ok(occ.put(JILL, json={"shippingAddresses": [ADDRESS, {**ADDRESS, "address1": "2 Road"}]}))
    body = ok(occ.put(JILL, json={"shippingAddresses": [{**ADDRESS, "address1": "3 Lane"}]}))
    assert [a["address1"] for a in body["shippingAddresses"]] == ["3 Lane"]
    assert ok(occ.put(JILL, json={"shippingAddresses": []}))["shippingAddresses"] == []


def test_unknown_repository_id_gets_a_fresh_one(occ):
    body = ok(occ.put(JILL, json={"shippingAddresses": [{**ADDRESS, "repositoryId": "110033"}]}))
    assert body["shippingAddresses"][0]["repositoryId"] == "110100"  # 110033 is not Jill's


def test_default_slot_stays_while_its_address_stays(occ):
    seeded = ok(occ.get(JILL))["shippingAddress"]
    assert seeded["repositoryId"] == "110050"
    body = ok(occ.put(JILL, json={"shippingAddresses": [ADDRESS, {**seeded}]}))
    assert body["shippingAddress"] == seeded  # nothing flagged: the previous default stays
    body = ok(occ.put(JILL, json={"shippingAddresses": [ADDRESS]}))
    assert body["shippingAddress"] == {}  # the previous default is gone


def test_deprecated_shipping_address_sets_the_default(occ):
    body = ok(occ.put(JILL, json={"shippingAddress": {**ADDRESS, "address1": "9 Default St"}}))
    assert body["shippingAddress"]["address1"] == "9 Default St"
    assert [a["address1"] for a in body["shippingAddresses"]] == [
        "415 Example Road",
        "9 Default St",
    ]
    assert ok(occ.put(JILL, json={"shippingAddress": {}}))["shippingAddress"] == {}


def test_selected_country_and_state_take_precedence(occ):
    address = {
        **ADDRESS,
        "country": "Canada",
        "state": "Ontario",
        "selectedCountry": "US",
        "selectedState": "NC",
    }
    stored = ok(occ.put(JILL, json={"shippingAddresses": [address]}))["shippingAddresses"][0]
    assert (stored["country"], stored["state"]) == ("US", "NC")


@pytest.mark.parametrize(
    "country,state,expected",
    [
        ("Canada", "quebec", ("CA", "QC", "Canada", "Quebec")),
        ("US", "US-NY", ("US", "NY", "United States", "New York")),
    ],
)
def test_country_and_state_names_resolve_to_codes(occ, country, state, expected):
    address = {
        **ADDRESS,
        "country": country,
        "state": state,
        "selectedCountry": "",
        "selectedState": "",
    }
    stored = ok(occ.put(JILL, json={"shippingAddresses": [address]}))["shippingAddresses"][0]
    assert (
        stored["country"],
        stored["state"],
        stored["countryName"],
        stored["regionName"],
    ) == expected


def test_other_countries_keep_their_state_as_sent(occ):
    address = {
        **ADDRESS,
        "country": "United Kingdom",
        "selectedCountry": "GB",
        "state": "Kent",
        "selectedState": "",
    }
    stored = ok(occ.put(JILL, json={"shippingAddresses": [address]}))["shippingAddresses"][0]
    assert (stored["country"], stored["countryName"], stored["state"]) == (
        "GB",
        "United Kingdom",
        "Kent",
    )


@pytest.mark.parametrize("value", ["yes", "no"])
def test_receive_email_yes_or_no(occ, value):
    assert ok(occ.put(KIM, json={"receiveEmail": value}))["receiveEmail"] == value


@pytest.mark.parametrize("sent,stored", [(False, "false"), ("true", "true"), (True, "true")])
def test_active_is_stored_as_the_seed_shows_it(occ, sent, stored):
    assert ok(occ.put(JILL, json={"active": sent}))["active"] == stored


def test_roles_keep_their_repository_id_and_get_new_ones(occ):
    body = ok(
        occ.put(
            KIM,
            json={
                "roles": [
                    {"function": "buyer"},
                    {"function": "accountAddressManager", "relativeTo": {"id": "900004"}},
                ]
            },
        )
    )
    assert body["roles"] == [
        {"function": "buyer", "relativeTo": {"id": "900004"}, "repositoryId": "100006"},
        {
            "function": "accountAddressManager",
            "relativeTo": {"id": "900004"},
            "repositoryId": "100100",
        },
    ]


def test_parent_organization_is_returned_whole(occ):
    created = ok(
        occ.post(PROFILES, json={**NEW, "parentOrganization": "900010", "profileType": "b2b_user"}),
        201,
    )
    body = ok(occ.get(f"{PROFILES}/{created['id']}"))
    assert body["parentOrganization"] == {
        "name": "Acme Supplies",
        "repositoryId": "900010",
        "description": "B2B account with order approvals enabled",
        "active": True,
        "shippingAddress": {},
        "secondaryAddresses": [],
        "id": "900010",
        "billingAddress": {},
    }
    assert (
        ok(occ.put(f"{PROFILES}/{created['id']}", json={"parentOrganization": None}))[
            "parentOrganization"
        ]
        is None
    )


def test_create_needs_names_and_email(occ):
    for field in ("firstName", "lastName", "email"):
        body = {k: v for k, v in NEW.items() if k != field}
        r = occ.post(PROFILES, json=body)
        assert (r.status_code, r.json()) == (
            400,
            {
                "errorCode": "22026",
                "message": f"{field} is either missing or incorrect.",
                "status": "400",
            },
        )


def test_ids_are_deterministic_per_namespace(occ):
    ids = [
        ok(occ.post(PROFILES, json={**NEW, "email": f"p{i}@example.com"}), 201)["id"]
        for i in range(3)
    ]
    assert ids == ["se-570100", "se-570101", "se-570102"]


def test_refused_calls_consume_no_ids(occ):
    occ.post(PROFILES, json={**NEW, "email": "kim@example.com"})
    occ.put(JILL, json={"shippingAddresses": [ADDRESS], "email": "kim@example.com"})
    assert ok(occ.post(PROFILES, json={**NEW, "shippingAddresses": [ADDRESS]}), 201)["id"] == (
        "se-570100"
    )
    assert ok(occ.get(f"{PROFILES}/se-570100"))["shippingAddresses"][0]["repositoryId"] == "110100"


def test_own_email_in_another_case_is_not_in_use(occ):
    assert ok(occ.put(KIM, json={"email": "Kim@Example.com"}))["email"] == "Kim@Example.com"
    r = occ.post(PROFILES, json={**NEW, "email": "kim@example.com"})  # still Kim's
    assert (r.status_code, r.json()["errorCode"]) == (400, "22007")


def test_freed_email_can_be_taken(occ):
    ok(occ.put(KIM, json={"email": "kim.anderson@example.com"}))
    assert ok(occ.post(PROFILES, json={**NEW, "email": "KIM@example.com"}), 201)


def test_twelve_concurrent_creates_with_one_email_exactly_one_wins(occ, server, namespace):
    headers = {"X-Emulator-Namespace": namespace, "Authorization": occ.headers["Authorization"]}
    barrier, results = threading.Barrier(12), []

    def create(i: int) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            barrier.wait()
            r = client.post(
                PROFILES, json={**NEW, "firstName": f"P{i}", "email": "Same@Example.com"}
            )
            results.append((r.status_code, r.json().get("errorCode")))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == [(201, None)] + [(400, "22007")] * 11
