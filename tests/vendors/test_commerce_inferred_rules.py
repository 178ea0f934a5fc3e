"""Every refusal of updateProfile and createProfile found neither in the seed nor on the
vendor's pages is written into openapi/commerce.yaml, labelled `x-fidelity: inferred` with its
reason (docs/decisions.md#18): each one here answers its spec example to the character,
and the example is the operation's, so Prism, generated clients and the docs know it."""

from __future__ import annotations

import httpx
import pytest
import yaml

from emulator.specs import OPENAPI_DIR

SPEC = yaml.safe_load((OPENAPI_DIR / "commerce.yaml").read_text())
EXAMPLES = SPEC["components"]["examples"]
RESPONSES = SPEC["components"]["responses"]
KIM = "/ccadmin/v1/profiles/se-570031"
PROFILES = "/ccadmin/v1/profiles"
NEW = {"firstName": "Pat", "lastName": "Example", "email": "pat@example.com"}


def documented(response: str, example: str) -> dict:
    """The example, checked to be inferred with a reason and listed by the response."""
    node = EXAMPLES[example]
    assert node["x-fidelity"] == "inferred" and node["x-fidelity-reason"].strip(), example
    listed = {
        ref["$ref"].rsplit("/", 1)[1]
        for ref in RESPONSES[response]["content"]["application/json"]["examples"].values()
    }
    assert example in listed, (response, example)
    return node["value"]


def refused(r: httpx.Response) -> dict:
    assert r.status_code == 400, r.text
    return r.json()


def with_field(example: dict, field: str) -> dict:
    """A 22026 example for another field: `{0} is either missing or incorrect.`"""
    return {**example, "message": f"{field} is either missing or incorrect."}


@pytest.mark.parametrize(
    ("body", "example", "field"),
    [
        ({"firstName": ""}, "Error22026FirstName", "firstName"),
        ({"firstName": "   "}, "Error22026FirstName", "firstName"),
        ({"lastName": None}, "Error22026FirstName", "lastName"),
        ({"email": ""}, "Error22026Email", "email"),
        ({"email": "not-an-address"}, "Error22026Email", "email"),
        ({"email": "kim@example"}, "Error22026Email", "email"),
        ({"active": None}, "Error22026Active", "active"),
        ({"active": "yes"}, "Error22026Active", "active"),
        ({"parentOrganization": "900999"}, "Error22026ParentOrganization", "parentOrganization"),
    ],
)
def test_update_refusals_are_the_specs_inferred_examples(
    occ: httpx.Client, body: dict, example: str, field: str
) -> None:
    expected = documented("UpdateProfileBadRequest", example)
    assert refused(occ.put(KIM, json=body)) == with_field(expected, field)


@pytest.mark.parametrize(
    ("body", "example", "field"),
    [
        ({**NEW, "firstName": None}, "Error22026FirstName", "firstName"),
        ({"firstName": "Pat", "email": "pat@example.com"}, "Error22026FirstName", "lastName"),
        ({**NEW, "email": "pat.example.com"}, "Error22026Email", "email"),
        ({**NEW, "active": None}, "Error22026Active", "active"),
        (
            {**NEW, "parentOrganization": "nope"},
            "Error22026ParentOrganization",
            "parentOrganization",
        ),
    ],
)
def test_create_refusals_are_the_specs_inferred_examples(
    occ: httpx.Client, body: dict, example: str, field: str
) -> None:
    expected = documented("CreateProfileBadRequest", example)
    assert refused(occ.post(PROFILES, json=body)) == with_field(expected, field)


def test_a_taken_login_is_the_specs_inferred_example(occ: httpx.Client) -> None:
    expected = documented("CreateProfileBadRequest", "Error22007LoginInUse")
    body = {**NEW, "login": "kim@example.com"}  # Kim's login: her email
    assert refused(occ.post(PROFILES, json=body)) == expected


def test_the_login_needs_no_bearer_for_the_password_grant() -> None:
    """The login's security lists the empty requirement beside the bearer: a client generated
    or mocked from the spec sends the password grant without an Authorization header (the
    generated client does so over HTTP in tests/unit/test_client_generators.py)."""
    login = SPEC["paths"]["/login"]["post"]
    assert {} in login["security"] and {"bearerAuth": []} in login["security"]
    examples = login["requestBody"]["content"]["application/x-www-form-urlencoded"]["examples"]
    assert examples["password"]["value"]["grant_type"] == "password"
