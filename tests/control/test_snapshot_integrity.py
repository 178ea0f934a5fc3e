"""Hostile and edited snapshots (PUT /_emulator/state) over HTTP: whatever id counters a
snapshot restores or leaves out, a new id never equals one in use; a counter is an integer in
its range or the snapshot is refused naming it; a document the handlers could not use is
refused naming its path, never stored to answer 500 later."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import httpx
import pytest

from emulator.clock import Clock

STATE = "/_emulator/state"
PROFILES = "/ccadmin/v1/profiles"
KIM, JILL = "se-570031", "se-570050"  # fixtures/commerce.yaml
ADA = "1000000001"  # fixtures/loyalty.yaml
MEMBER = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada.integrity@example.com",
    "postalZipCode": "H0H 0H0",
}
ADDRESS = {
    "firstName": "Jack",
    "lastName": "Black",
    "address1": "405 Example Street",
    "city": "Wake Forest",
    "selectedCountry": "US",
    "selectedState": "NC",
    "postalCode": "27587",
}
# The largest value a counter may hold (openapi/control.yaml, State): ten-digit accountIds
# and loyaltyIds; OCC's repository numbers of up to 15 digits.
LOYALTY_MAX, COMMERCE_MAX = 3_000_000_000, 10**15


def restore(http: httpx.Client, state: dict[str, Any]) -> None:
    r = http.put(STATE, json=state)
    assert r.status_code == 204, r.text


def with_counter(http: httpx.Client, collection: str, name: str, value: Any) -> dict[str, Any]:
    """The namespace's state with one counter set to ``value``."""
    state = http.get(STATE).json()
    state[collection][name] = {"next": value}
    return state


def login(http: httpx.Client) -> str:
    r = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- (a) a new id never equals one in use --------------------------------------------------


@pytest.mark.parametrize("counters", [{"accounts": {"next": 1}}, None])
def test_an_enrolment_never_takes_the_id_of_a_restored_account(
    http: httpx.Client, counters: dict[str, Any] | None
) -> None:
    """A snapshot edited to `next: 1`, or one without counters holding the account the kept
    counter would make next: the seeded account is left alone, the new one is fresh."""
    first = http.post("/client/users", json=MEMBER).json()
    state = http.get(STATE).json()
    taken = {
        "accountId": str(int(first["accountId"]) + 1),
        "loyaltyId": str(int(first["loyaltyId"]) + 1),
        "profile": {"firstName": "Taken"},
        "emd": {},
    }
    accounts = {**state["loyalty.accounts"], taken["accountId"]: taken}
    snapshot: dict[str, Any] = {"loyalty.accounts": accounts}
    if counters is not None:
        snapshot["loyalty.counters"] = counters
    restore(http, snapshot)

    r = http.post("/client/users", json={**MEMBER, "email": "second.integrity@example.com"})
    assert r.status_code == 201, r.text
    assert r.json()["accountId"] not in accounts
    assert r.json()["loyaltyId"] not in {a["loyaltyId"] for a in accounts.values()}
    after = http.get(STATE).json()["loyalty.accounts"]
    assert {key: after[key] for key in accounts} == accounts  # nobody overwritten


def test_an_enrolment_never_takes_a_loyalty_id_in_use(http: httpx.Client) -> None:
    """The account id is free but the loyaltyId the counter would make is some account's."""
    first = http.post("/client/users", json=MEMBER).json()
    state = http.get(STATE).json()
    taken = {
        "accountId": "custom-account",
        "loyaltyId": str(int(first["loyaltyId"]) + 1),
        "profile": {},
        "emd": {},
    }
    accounts = {**state["loyalty.accounts"], taken["accountId"]: taken}
    restore(http, {"loyalty.accounts": accounts})
    r = http.post("/client/users", json={**MEMBER, "email": "third.integrity@example.com"})
    assert r.status_code == 201, r.text
    assert r.json()["loyaltyId"] not in {a["loyaltyId"] for a in accounts.values()}
    session = http.post(
        f"/client/users/{taken['loyaltyId']}/sessions",
        json={"correlationId": "integrity-1", "channel": "WEB"},
        headers={"X-Identifier-Type": "LOYALTY_ID"},
    )
    assert session.json()["accountId"] == "custom-account"  # its loyaltyId still finds it


def test_a_profile_created_after_counters_restored_low_takes_a_fresh_id(
    http: httpx.Client,
) -> None:
    token = login(http)
    before = http.get(f"{PROFILES}/{KIM}", headers=bearer(token)).json()
    restore(http, with_counter(http, "commerce.counters", "profiles", int(KIM[3:])))
    r = http.post(
        PROFILES,
        json={"firstName": "Pat", "lastName": "Example", "email": "pat.integrity@example.com"},
        headers=bearer(token),
    )
    assert r.status_code == 201, r.text
    assert r.json()["id"] not in http.get(STATE).json()["commerce.profiles"].keys() - {
        r.json()["id"]
    }
    assert r.json()["id"] != KIM
    assert http.get(f"{PROFILES}/{KIM}", headers=bearer(token)).json() == before


def _address_ids(state: dict[str, Any]) -> set[str]:
    ids = set()
    for profile in state["commerce.profiles"].values():
        addresses = [*profile["shippingAddresses"], profile["shippingAddress"] or {}]
        ids |= {a["repositoryId"] for a in addresses if a.get("repositoryId")}
    for org in state["commerce.organizations"].values():
        addresses = [*org.get("secondaryAddresses", []), org.get("shippingAddress") or {}]
        ids |= {a["repositoryId"] for a in addresses if a.get("repositoryId")}
    return ids


def test_a_new_shipping_address_never_takes_a_repository_id_in_use(http: httpx.Client) -> None:
    """Jill's seeded address is 110050: with the counter set there, a new address of hers
    must not take it (nor any other address's)."""
    token = login(http)
    jill = http.get(f"{PROFILES}/{JILL}", headers=bearer(token)).json()
    kept = jill["shippingAddresses"][0]
    state = with_counter(http, "commerce.counters", "addresses", int(kept["repositoryId"]))
    in_use = _address_ids(state)
    restore(http, state)
    r = http.put(
        f"{PROFILES}/{JILL}",
        json={"shippingAddresses": [kept, ADDRESS]},
        headers=bearer(token),
    )
    assert r.status_code == 200, r.text
    old, new = r.json()["shippingAddresses"]
    assert old == kept
    assert new["repositoryId"] not in in_use
    assert r.json()["shippingAddress"] == jill["shippingAddress"]  # still the seeded one


def test_a_new_role_never_takes_a_repository_id_in_use(http: httpx.Client) -> None:
    token = login(http)
    kim = http.get(f"{PROFILES}/{KIM}", headers=bearer(token)).json()
    (buyer,) = kim["roles"]
    state = with_counter(http, "commerce.counters", "roles", int(buyer["repositoryId"]))
    in_use = {
        role["repositoryId"]
        for profile in state["commerce.profiles"].values()
        for role in profile["roles"]
    }
    restore(http, state)
    approver = {"function": "approver", "relativeTo": {"id": buyer["relativeTo"]["id"]}}
    r = http.put(f"{PROFILES}/{KIM}", json={"roles": [buyer, approver]}, headers=bearer(token))
    assert r.status_code == 200, r.text
    old, new = r.json()["roles"]
    assert old == buyer
    assert new["function"] == "approver" and new["repositoryId"] not in in_use


@pytest.mark.parametrize("written", [int, float], ids=["100001", "100001.0"])
def test_a_new_loyalty_membership_never_takes_a_repository_id_in_use(
    http: httpx.Client, written: type
) -> None:
    """A membership's repositoryId is a JSON number: 100001.0 is the id 100001 too."""
    token = login(http)
    kim = http.get(f"{PROFILES}/{KIM}", headers=bearer(token)).json()
    programs = kim["loyaltyPrograms"]
    lowest = min(p["repositoryId"] for p in programs)
    state = with_counter(http, "commerce.counters", "loyalty", lowest)
    for program in state["commerce.profiles"][KIM]["loyaltyPrograms"]:
        program["repositoryId"] = written(program["repositoryId"])
    restore(http, state)
    new = {"programId": "prog3", "membershipId": "m-3", "programName": "XTRA", "status": None}
    r = http.put(
        f"{PROFILES}/{KIM}", json={"loyaltyPrograms": [*programs, new]}, headers=bearer(token)
    )
    assert r.status_code == 200, r.text
    *old, added = r.json()["loyaltyPrograms"]
    assert old == programs
    assert added["repositoryId"] not in {p["repositoryId"] for p in programs}


def _jti(token: str) -> int:
    """The token's id: the emulator's tokens are JWT-shaped (openapi/commerce.yaml)."""
    payload = token.split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])


def test_a_new_access_token_never_equals_one_in_use(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two logins in the same second with the token counter restored to the first one's id
    would make the same token; the second must be a token of its own."""
    monkeypatch.setattr(Clock, "wall", lambda self: 1_900_000_000.0)
    first = login(http)
    restore(http, with_counter(http, "commerce.counters", "tokens", _jti(first)))
    second = login(http)
    assert second != first
    assert len(http.get(STATE).json()["commerce.tokens"]) == 2


def test_a_counter_at_its_maximum_still_issues_fresh_ids(http: httpx.Client) -> None:
    """Every number above used up: new ids take numbers no id has, in the vendor's form, and
    the state still round-trips."""
    restore(http, with_counter(http, "loyalty.counters", "accounts", LOYALTY_MAX - 1))
    ids = []
    for n in range(3):
        r = http.post("/client/users", json={**MEMBER, "email": f"top{n}.integrity@example.com"})
        assert r.status_code == 201, r.text
        ids.append(r.json())
    assert ids[0] == {"accountId": "3999999999", "loyaltyId": "9999999999"}
    assert all(len(i["accountId"]) == len(i["loyaltyId"]) == 10 for i in ids)
    state = http.get(STATE).json()
    assert len({i["accountId"] for i in ids} | set(state["loyalty.accounts"])) == len(
        state["loyalty.accounts"]
    )
    assert len({i["accountId"] for i in ids}) == len({i["loyaltyId"] for i in ids}) == 3
    restore(http, state)


# --- (c) a counter is an integer in its range ----------------------------------------------


class Named(tuple):
    """A refusal worded by the schema checker: the path before the colon and the value named
    after it are the emulator's; the checker's sentence around them is not."""

    def __new__(cls, path: str, names: str) -> Named:
        return super().__new__(cls, (path, names))

    def matches(self, detail: str) -> bool:
        path, names = self
        return detail.startswith(f"{path}: ") and names in detail[len(path) + 2 :]


@pytest.mark.parametrize(
    ("collection", "name", "value", "named"),
    [
        ("loyalty.counters", "accounts", 1e30, "1e+30"),
        ("loyalty.counters", "accounts", 5.5, "5.5"),
        ("loyalty.counters", "accounts", -1, "-1"),
        ("loyalty.counters", "accounts", True, "True"),
        ("loyalty.counters", "accounts", LOYALTY_MAX + 1, str(LOYALTY_MAX + 1)),
        ("commerce.counters", "profiles", 1e30, "1e+30"),
        ("commerce.counters", "addresses", 2.5, "2.5"),
        ("commerce.counters", "tokens", COMMERCE_MAX + 1, str(COMMERCE_MAX + 1)),
        ("commerce.counters", "roles", 2**64, "e+19"),  # past 64 bits, JSON reads a float
    ],
)
def test_a_counter_that_is_no_integer_in_its_range_is_refused_naming_it(
    http: httpx.Client, collection: str, name: str, value: Any, named: str
) -> None:
    before = http.get(STATE).json()
    r = http.put(STATE, json=with_counter(http, collection, name, value))
    assert (r.status_code, sorted(r.json())) == (400, ["detail", "error"]), r.text
    assert r.json()["error"] == "invalid_request"
    detail = r.json()["detail"]
    assert Named(f"{collection}.{name}.next", named).matches(detail), detail
    assert http.get(STATE).json() == before


def test_a_counter_written_as_a_whole_float_is_that_integer(http: httpx.Client) -> None:
    """JSON Schema's integer 5 may be written 5.0: the id made of it is the integer's."""
    restore(http, with_counter(http, "loyalty.counters", "accounts", 5.0))
    r = http.post("/client/users", json=MEMBER)
    assert r.status_code == 201, r.text
    assert r.json() == {"accountId": "1000000005", "loyaltyId": "7000000005"}
    assert http.get(STATE).json()["loyalty.counters"] == {"accounts": {"next": 6}}


def test_the_largest_counters_are_accepted(http: httpx.Client) -> None:
    state = http.get(STATE).json()
    state["loyalty.counters"]["accounts"]["next"] = LOYALTY_MAX
    for counter in state["commerce.counters"].values():
        counter["next"] = COMMERCE_MAX
    restore(http, state)
    assert http.get(STATE).json() == state


# --- (b) documents the handlers could not use are refused ----------------------------------


def _edited(http: httpx.Client, collection: str, key: str, edit: Any) -> dict[str, Any]:
    state = http.get(STATE).json()
    edit(state[collection][key])
    return state


@pytest.mark.parametrize(
    ("collection", "key", "edit", "named"),
    [
        (
            "commerce.profiles",
            JILL,
            lambda p: p["shippingAddresses"][0].pop("repositoryId"),
            Named(f"commerce.profiles.{JILL}.shippingAddresses[0]", "'repositoryId'"),
        ),
        (
            "commerce.profiles",
            KIM,
            lambda p: p.update(loyaltyPrograms=[{"x": 1}]),
            Named(f"commerce.profiles.{KIM}.loyaltyPrograms[0]", "is a required property"),
        ),
        (
            "commerce.profiles",
            KIM,
            lambda p: p["roles"][0].pop("function"),
            Named(f"commerce.profiles.{KIM}.roles[0]", "'function'"),
        ),
        (
            "commerce.profiles",
            KIM,
            lambda p: p["roles"][0].update(relativeTo="900004"),
            Named(f"commerce.profiles.{KIM}.roles[0].relativeTo", "'900004'"),
        ),
        (
            "commerce.organizations",
            "900010",
            lambda o: o.update(ordersPendingApproval=None),
            Named("commerce.organizations.900010.ordersPendingApproval", "None"),
        ),
        (
            "loyalty.accounts",
            ADA,
            lambda a: a["profile"].update(firstName=7),
            Named(f"loyalty.accounts.{ADA}.profile.firstName", "7"),
        ),
        (
            "loyalty.accounts",
            ADA,
            lambda a: a["profile"].update(accountId="someone-else"),
            Named(f"loyalty.accounts.{ADA}.profile", "'accountId'"),
        ),
    ],
)
def test_a_document_the_handlers_could_not_use_is_refused_naming_its_path(
    http: httpx.Client, collection: str, key: str, edit: Any, named: Named
) -> None:
    before = http.get(STATE).json()
    r = http.put(STATE, json=_edited(http, collection, key, edit))
    assert (r.status_code, sorted(r.json())) == (400, ["detail", "error"]), r.text
    assert named.matches(r.json()["detail"]), r.json()["detail"]
    assert http.get(STATE).json() == before


def test_a_role_without_relative_to_is_used_as_the_handlers_make_one(http: httpx.Client) -> None:
    """A role with no organization of its own is accepted: updates and reads keep working."""
    token = login(http)
    state = http.get(STATE).json()
    kim = copy.deepcopy(state["commerce.profiles"][KIM])
    kim["roles"] = [{"function": "buyer", "repositoryId": "100006"}]
    state["commerce.profiles"][KIM] = kim
    restore(http, state)
    for body in ({"firstName": "Kimberly"}, {"roles": [{"function": "buyer"}]}, {"active": False}):
        r = http.put(f"{PROFILES}/{KIM}", json=body, headers=bearer(token))
        assert r.status_code == 200, r.text
    assert http.get(f"{PROFILES}/{KIM}", headers=bearer(token)).status_code == 200
