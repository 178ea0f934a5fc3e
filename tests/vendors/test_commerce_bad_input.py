"""Bad input to the OCC API gets the errorModel (string status and errorCode) with a 4xx:
never a 500, never problem+json, never a stack trace."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

KIM = "/ccadmin/v1/profiles/se-570031"
PROFILES = "/ccadmin/v1/profiles"
JSON = {"content-type": "application/json"}


def error_model(r: httpx.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"  # not application/problem+json
    body = r.json()
    assert (
        {"errorCode", "message", "status"}
        <= set(body)
        <= {"errorCode", "message", "status", "devMessage"}
    )
    assert body["status"] == str(status) and isinstance(body["errorCode"], str)
    return body


@pytest.mark.parametrize(
    "raw",
    [
        b"{",
        b"{'firstName': 'A'}",
        b"nul",
        b"\xff\xfe{}",
        b'{"firstName": NaN}',
        b'{"a": 1}{"b": 2}',
        b'{"firstName": "\\ud800"}',
        b'{"n": 1' + b"0" * 400 + b"}",
    ],
)
@pytest.mark.parametrize("path", [KIM, PROFILES])
def test_malformed_json_is_22007(occ, raw, path):
    method = "put" if path == KIM else "post"
    body = error_model(occ.request(method, path, content=raw, headers=JSON))
    assert (body["errorCode"], body["message"]) == ("22007", "Invalid input provided.")
    assert body["devMessage"].startswith("Malformed JSON: ")


@pytest.mark.parametrize("raw", [b"[]", b'"text"', b"12", b"null", b""])
def test_a_body_that_is_not_an_object_is_22007(occ, raw):
    assert error_model(occ.put(KIM, content=raw, headers=JSON))["errorCode"] == "22007"


@pytest.mark.parametrize(
    "body",
    [
        {"shippingAddresses": "405 Example Street"},
        {"shippingAddresses": [["x"]]},
        {"shippingAddress": ["x"]},
        {"shippingAddress": None},
        {"roles": {"function": "buyer"}},
        {"roles": ["buyer"]},
        {"roles": [{"function": "buyer", "relativeTo": "900004"}]},
        {"shippingAddresses": [{"isDefaultAddress": "yes"}]},
    ],
)
def test_wrong_container_types_are_22007(occ, body):
    assert error_model(occ.put(KIM, json=body))["errorCode"] == "22007"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_wrong_media_type_is_22007(occ, content_type):
    r = occ.put(
        KIM, content=json.dumps({"firstName": "Kim"}), headers={"content-type": content_type}
    )
    assert error_model(r)["errorCode"] == "22007"


def test_two_megabyte_body_is_413(occ):
    r = occ.put(KIM, json={"firstName": "x" * (2 * 1024 * 1024)})
    assert error_model(r, 413) == {
        "errorCode": "22007",
        "message": "Request body too large.",
        "status": "413",
    }


@pytest.mark.parametrize("deep", ["[" * 2000 + "]" * 2000, '{"a":' * 2000 + "1" + "}" * 2000])
def test_2000_deep_nesting_is_22007(occ, deep):
    raw = ('{"firstName": "Kim", "dynamicStuff": ' + deep + "}").encode()
    assert error_model(occ.put(KIM, content=raw, headers=JSON))["errorCode"] == "22007"


@pytest.mark.parametrize(
    "text",
    ["\u202eevil\u202c", "nul\u0000byte", "😀" * 50, "Zoë Ŝtraße", "\ufeff", "a" * 10_000, "‮"],
)
def test_odd_unicode_round_trips(occ, text):
    body = occ.put(
        KIM,
        json={
            "firstName": text,
            "shippingAddresses": [
                {
                    "firstName": text,
                    "lastName": "B",
                    "address1": text,
                    "city": "C",
                    "country": "ZZ",
                    "state": text,
                    "postalCode": "1",
                }
            ],
        },
    )
    assert body.status_code == 200, body.text
    assert occ.get(KIM).json()["firstName"] == text


def test_odd_unicode_in_the_path(occ):
    body = error_model(occ.get("/ccadmin/v1/profiles/%F0%9F%98%80%E2%80%AE"), 404)
    assert body["message"] == "No profile found with the given id: 😀\u202e"


def test_huge_numbers_and_odd_values_never_500(occ):
    for value in (10**30, -1e308, 1.5, True, {}, [], [{}], {"$gt": ""}):
        r = occ.put(KIM, json={"firstName": "Kim", "gender": value, "dateOfBirth": value})
        assert r.status_code == 400, (value, r.text)
        error_model(r)
    r = occ.put(KIM, content=b'{"firstName": 1' + b"0" * 30 + b"}", headers=JSON)
    assert error_model(r)["errorCode"] in ("22007", "22024")


def test_unknown_properties_are_ignored(occ):
    before = occ.get(KIM).json()
    del before["links"]  # getProfile's; updateProfile answers the seed's shape
    r = occ.put(KIM, json={"shoeSize": 44, "catalog": "x", "id": "other", "repositoryId": "y"})
    assert r.status_code == 200 and r.json() == before


def test_unknown_path_is_404(occ):
    assert error_model(occ.get("/ccadmin/v1/nothing/here"), 404) == {
        "errorCode": "000404",
        "message": "No resource found at GET /ccadmin/v1/nothing/here.",
        "status": "404",
    }


def test_unknown_method_is_405_with_allow(occ):
    """Allow lists what the spec declares for the path (the spec is the list of methods),
    and HEAD beside GET: HTTP serves HEAD wherever GET is (RFC 9110, 9.3.2)."""
    spec = yaml.safe_load((ROOT / "openapi" / "commerce.yaml").read_text(encoding="utf-8"))
    declared = [
        m.upper()
        for m in spec["paths"]["/profiles/{profile_id}"]
        if m in ("get", "put", "post", "delete", "patch")
    ]
    method = next(m for m in ("DELETE", "PATCH", "POST") if m not in declared)
    r = occ.request(method, KIM)
    assert error_model(r, 405) == {
        "errorCode": "000405",
        "message": f"Method {method} is not allowed on /ccadmin/v1/profiles/se-570031.",
        "status": "405",
    }
    served = [n for m in declared for n in ((m, "HEAD") if m == "GET" else (m,))]
    assert r.headers["allow"] == ", ".join(served)


def test_malformed_json_is_answered_before_the_token_is_checked(http):
    """Documented in the spec: a body that cannot be read at all is refused first."""
    assert error_model(http.put(KIM, content=b"{", headers=JSON))["errorCode"] == "22007"
    assert error_model(http.put(KIM, json={"roles": "x"}), 401)["errorCode"] == "000002"


def test_bad_login_forms_are_22007(http):
    for data in (b"", b"grant_type=", b"\xff=\xfe"):
        r = http.post(
            "/ccadmin/v1/login",
            content=data,
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "Authorization": "Bearer emulator-app-key",
            },
        )
        assert error_model(r)["errorCode"] == "22007"
