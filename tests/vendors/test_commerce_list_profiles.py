"""listProfiles over HTTP (openapi/commerce.yaml, docs/decisions.md#15): the vendor's
"List profiles" reference and "REST query parameters" page give the keys, the default limit
(250), `fields`/`exclude` with or without `items.`, `totalResults` left out when `fields`
does not name it; the SCIM filter follows RFC 7644 3.4.2.2 (operators and attribute names in
any case, "and" binding tighter than "or"). A `q` that is not a filter gets the spec's 400."""

from __future__ import annotations

import httpx
import pytest
import yaml

from emulator.specs import OPENAPI_DIR

PROFILES = "/ccadmin/v1/profiles"
SPEC = yaml.safe_load((OPENAPI_DIR / "commerce.yaml").read_text())
EXAMPLES = SPEC["components"]["examples"]
INVALID_QUERY = EXAMPLES["Error000400InvalidQuery"]["value"]
# fixtures/commerce.yaml's profiles, in the order they are stored.
SEEDED = ["se-570031", "se-570040", "se-570041", "se-570050"]
LIST_KEYS = {"total", "totalResults", "offset", "limit", "links", "items"}


def listed(occ: httpx.Client, status: int = 200, **params: str) -> dict:
    r = occ.get(PROFILES, params=params)
    assert r.status_code == status, r.text
    return r.json()


def ids(occ: httpx.Client, **params: str) -> list[str]:
    return [item["id"] for item in listed(occ, **params)["items"]]


def create(occ: httpx.Client, **fields: str) -> str:
    r = occ.post(PROFILES, json=fields)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_list_has_the_vendors_keys_and_getprofiles_items(occ: httpx.Client) -> None:
    body = listed(occ)
    assert set(body) == LIST_KEYS
    assert (body["total"], body["totalResults"], body["offset"], body["limit"]) == (4, 4, 0, 250)
    assert body["links"] == [{"rel": "self", "href": f"{occ.base_url}{PROFILES}"}]
    assert [item["id"] for item in body["items"]] == SEEDED
    kim = occ.get(f"{PROFILES}/se-570031").json()
    assert body["items"][0] == kim  # as getProfile answers it, links included


def test_q_email_in_upper_case_operators_finds_exactly_one(occ: httpx.Client) -> None:
    first = create(occ, firstName="Ann", lastName="One", email="ann.one@example.com")
    create(occ, firstName="Ann", lastName="Two", email="ann.two@example.com")
    r = occ.get(PROFILES, params={"q": 'email EQ "ANN.ONE@example.com"'})
    body = r.json()
    assert [item["id"] for item in body["items"]] == [first]
    assert (body["total"], body["totalResults"]) == (1, 1)
    assert body["links"] == [{"rel": "self", "href": str(r.request.url)}]  # the URL used


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('firstName eq "Kim"', ["se-570031"]),
        ('FIRSTNAME Eq "kim"', ["se-570031"]),  # attribute names and operators in any case
        ('lastName ne "Hill"', ["se-570031", "se-570040", "se-570041"]),
        ('email co "approver"', ["se-570041"]),
        ('email sw "ALEX"', ["se-570040"]),
        ('lastName ew "SON"', ["se-570031"]),
        ('firstName gt "Jill"', ["se-570031"]),
        ('firstName le "Avery"', ["se-570040", "se-570041"]),
        ("profileType pr", ["se-570031", "se-570040", "se-570041"]),
        ("not (profileType pr)", ["se-570050"]),
        ('parentOrganization eq "900010"', ["se-570040", "se-570041"]),
        ('login eq "jill@example.com"', ["se-570050"]),  # the email, as no login was given
        # "and" binds tighter than "or": Kim, or (Alex and Avery's organization)
        (
            'firstName eq "Kim" OR lastName eq "Admin" AND parentOrganization eq "900010"',
            ["se-570031", "se-570040"],
        ),
        (
            '(firstName eq "Kim" or lastName eq "Admin") and parentOrganization eq "900010"',
            ["se-570040"],
        ),
        ('email eq "nobody@example.com"', []),
        ("shoeSize eq 44", []),  # a property no profile has
        ('password eq "Admin-Passw0rd"', []),  # never matched
    ],
)
def test_q_picks_the_profiles_the_filter_says(
    occ: httpx.Client, q: str, expected: list[str]
) -> None:
    assert ids(occ, q=q) == expected


def test_q_matches_custom_properties(occ: httpx.Client) -> None:
    """A custom property is a key of the stored profile (a fixture's customProperties, a
    restored state's): matched by name in any case, numbers as numbers."""
    state = occ.get("/_emulator/state").json()
    state["commerce.profiles"]["se-570050"]["loyaltyTier"] = "Gold"
    state["commerce.profiles"]["se-570050"]["visits"] = 12
    state["commerce.profiles"]["se-570031"]["visits"] = 3
    assert occ.put("/_emulator/state", json=state).status_code == 204
    assert ids(occ, q='LoyaltyTier eq "gold"') == ["se-570050"]
    assert ids(occ, q="visits gt 5") == ["se-570050"]
    assert ids(occ, q="visits ge 3 and visits lt 12") == ["se-570031"]
    assert occ.get(f"{PROFILES}/se-570050").json()["loyaltyTier"] == "Gold"


def test_limit_offset_and_sort(occ: httpx.Client) -> None:
    assert ids(occ, limit="2") == SEEDED[:2]
    assert ids(occ, limit="2", offset="3") == SEEDED[3:]
    assert ids(occ, offset="9") == []
    top = listed(occ, limit="2147483647", offset="2147483647")  # the spec's maximum
    assert (top["limit"], top["offset"], top["items"]) == (2147483647, 2147483647, [])
    assert ids(occ, sort="firstName:asc") == ["se-570040", "se-570041", "se-570050", "se-570031"]
    assert ids(occ, sort="firstName:desc") == ["se-570031", "se-570050", "se-570041", "se-570040"]
    # several keys; profiles without the property last, whichever the direction
    assert ids(occ, sort="profileType:desc,firstName") == [
        "se-570040",
        "se-570041",
        "se-570031",
        "se-570050",
    ]
    body = listed(occ, limit="1", offset="1", sort="lastName:asc")
    assert (body["total"], body["offset"], body["limit"]) == (4, 1, 1)
    assert [item["lastName"] for item in body["items"]] == ["Anderson"]  # Admin, Anderson, ...


def test_fields_and_exclude(occ: httpx.Client) -> None:
    body = listed(occ, fields="items.id,items.email", limit="1")
    assert set(body) == LIST_KEYS - {"totalResults"}  # left out when fields does not name it
    assert body["items"] == [{"id": "se-570031", "email": "kim@example.com"}]
    body = listed(occ, fields="id,email,totalResults", limit="1")  # with or without items.
    assert body["totalResults"] == 4
    assert body["items"] == [{"id": "se-570031", "email": "kim@example.com"}]
    body = listed(occ, fields="items.id,items.parentOrganization.name", limit="1")
    assert body["items"] == [{"id": "se-570031", "parentOrganization": {"name": "Oracle"}}]
    body = listed(occ, fields="items.shippingAddresses.city", q='firstName eq "Jill"')
    assert body["items"] == [{"shippingAddresses": [{"city": "Wake Forest"}]}]
    kim = occ.get(f"{PROFILES}/se-570031").json()
    body = listed(occ, exclude="items.shippingAddresses,roles,totalResults", limit="1")
    assert "totalResults" not in body
    assert body["items"] == [
        {k: v for k, v in kim.items() if k not in ("shippingAddresses", "roles")}
    ]


@pytest.mark.parametrize(
    "q",
    [
        "email",
        "email eq",
        'email eq "x',
        'email regex "x"',
        'email eq "x" and',
        '(email eq "x"',
        'email eq "x")',
        'not email eq "x"',
        'emails[type eq "work"]',
        "email co 5",
        "firstName gt true",
        "",
        'email eq "\\x"',
        "visits eq 1e99999",
        "a.b. eq 1",
        "email eq @",
    ],
)
def test_a_q_that_is_not_a_filter_is_the_specs_400(occ: httpx.Client, q: str) -> None:
    body = listed(occ, 400, q=q)
    assert {k: v for k, v in body.items() if k != "devMessage"} == {
        k: v for k, v in INVALID_QUERY.items() if k != "devMessage"
    }
    assert body["devMessage"].startswith("q: ")


def test_the_400_says_where(occ: httpx.Client) -> None:
    assert listed(occ, 400, q="email") == INVALID_QUERY  # the spec's example, to the character


@pytest.mark.parametrize("sort", ["firstName:up", ":asc", "a..b:asc", ","])
def test_a_sort_that_is_not_property_direction_is_a_400(occ: httpx.Client, sort: str) -> None:
    body = listed(occ, 400, sort=sort)
    assert (body["errorCode"], body["message"], body["status"]) == (
        "000400",
        "Invalid query.",
        "400",
    )
    assert body["devMessage"].startswith("sort: ")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("limit", "x"),
        ("offset", "-1"),
        ("limit", "2.5"),
        ("limit", "2147483648"),  # one past the spec's maximum
        ("offset", "2868439566572682604605079552"),  # past any 64-bit integer
    ],
)
def test_a_limit_or_offset_that_is_not_a_count_is_22007(
    occ: httpx.Client, name: str, value: str
) -> None:
    body = listed(occ, 400, **{name: value})
    assert (body["errorCode"], body["message"]) == ("22007", "Invalid input provided.")


@pytest.mark.parametrize("flag", ["true", "false"])
def test_use_advanced_q_parser_is_taken_and_nested_filters_read(
    occ: httpx.Client, flag: str
) -> None:
    """The spec: one parser, the advanced one, whatever the flag says."""
    q = '((firstName eq "Kim") or (not (lastName ne "Hill")))'
    assert ids(occ, q=q, useAdvancedQParser=flag) == ["se-570031", "se-570050"]


def test_a_use_advanced_q_parser_that_is_not_a_boolean_is_22007(http: httpx.Client) -> None:
    """Read before the token (the spec's ListProfilesBadRequest): no Authorization here."""
    r = http.get(PROFILES, params={"useAdvancedQParser": "yes"})
    body = r.json()
    assert (r.status_code, body["errorCode"], body["message"], body["status"]) == (
        400,
        "22007",
        "Invalid input provided.",
        "400",
    )


def test_listing_needs_a_token(http: httpx.Client) -> None:
    r = http.get(PROFILES)
    assert (r.status_code, r.json()) == (
        401,
        {"errorCode": "000002", "message": "Authorization required.", "status": "401"},
    )


def test_duplicate_emails_when_the_namespace_allows_them(occ: httpx.Client) -> None:
    """ "Create a shopper profile": emails are unique unless duplicateEmailsAllowed is on; then
    profiles share one, each with its own login (the email is the login when none is sent)."""
    refused = occ.post(
        PROFILES, json={"firstName": "K", "lastName": "A", "email": "kim@example.com"}
    )
    assert refused.json() == EXAMPLES["Error22007EmailInUse"]["value"]
    r = occ.patch("/_emulator/config", json={"commerce": {"duplicateEmailsAllowed": True}})
    assert r.status_code == 200, r.text
    no_login = occ.post(
        PROFILES, json={"firstName": "K", "lastName": "A", "email": "kim@example.com"}
    )
    assert no_login.json() == EXAMPLES["Error22007LoginInUse"]["value"]  # Kim's login
    twin = create(occ, firstName="K", lastName="A", email="kim@example.com", login="kim-twin")
    assert ids(occ, q='email eq "kim@example.com"') == ["se-570031", twin]
    assert ids(occ, q='login eq "KIM-TWIN"') == [twin]
