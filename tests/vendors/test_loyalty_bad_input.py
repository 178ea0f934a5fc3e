"""Bad input to the loyalty API gets the vendor's error shape: never a 500, never problem+json."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "/client/users/seed-session-1/profile"
VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}


def assert_vendor_4xx(r: httpx.Response, status: int = 400) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"statusCode", "errorCode", "errorMessage"}
    assert body["statusCode"] == status
    return body


@pytest.mark.parametrize(
    "raw", [b"{", b"{'a': 1}", b"nul", b"\xff\xfe{}", b'{"a": NaN}', b"[]", b'"text"', b"12"]
)
def test_malformed_or_non_object_json(http, raw):
    body = assert_vendor_4xx(
        http.put(PROFILE, content=raw, headers={"content-type": "application/json"})
    )
    assert body["errorCode"] == "INVALID_REQUEST"
    assert body["errorMessage"].startswith("Invalid request: ")


def test_empty_body(http):
    assert_vendor_4xx(http.put(PROFILE, content=b"", headers={"content-type": "application/json"}))


@pytest.mark.parametrize(
    "field,value",
    [
        ("firstName", 123),
        ("extendedData", "casl"),
        ("extendedData", {"casl": "yes"}),
        ("email", ["a@b.co"]),
    ],
)
def test_wrong_types(http, field, value):
    body = assert_vendor_4xx(http.put(PROFILE, json={**VALID, field: value}))
    assert body["errorMessage"].startswith(f"Invalid request: {field}")


def test_unknown_field(http):
    body = assert_vendor_4xx(http.put(PROFILE, json={**VALID, "shoeSize": 44}))
    # The emulator's prefix, then the schema validator's own words, which name the field.
    assert body["errorMessage"].startswith("Invalid request: body: ")
    assert "'shoeSize'" in body["errorMessage"]


def test_wrong_content_type(http):
    assert_vendor_4xx(
        http.put(PROFILE, content=json.dumps(VALID), headers={"content-type": "text/plain"})
    )


def test_three_megabyte_body(http):
    big = {**VALID, "extendedData": {"blob": "x" * (3 * 1024 * 1024)}}
    body = assert_vendor_4xx(http.put(PROFILE, json=big), 413)
    assert body == {
        "statusCode": 413,
        "errorCode": "INVALID_REQUEST",
        "errorMessage": "Request body too large",
    }


def test_2000_deep_nesting(http):
    deep = "[" * 2000 + "]" * 2000
    raw = ('{"firstName": "A", "extendedData": {"x": ' + deep + "}}").encode()
    assert_vendor_4xx(http.put(PROFILE, content=raw, headers={"content-type": "application/json"}))
    obj = '{"a":' * 2000 + "1" + "}" * 2000
    assert_vendor_4xx(
        http.put(PROFILE, content=obj.encode(), headers={"content-type": "application/json"})
    )


@pytest.mark.parametrize("text", ["\u202e\u0000", "😀" * 50, "\udcff"])
def test_odd_unicode_is_stored_or_refused_never_500(http, text):
    raw = json.dumps({**VALID, "city": text}).encode()
    r = http.put(PROFILE, content=raw, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text


def test_unknown_path_and_method(http):
    """Allow lists what the spec declares for the path (the spec is the list of methods),
    and HEAD beside GET: HTTP serves HEAD wherever GET is (RFC 9110, 9.3.2)."""
    assert_vendor_4xx(http.get("/client/nothing/here"), 404)
    spec = yaml.safe_load((ROOT / "openapi" / "loyalty.yaml").read_text(encoding="utf-8"))
    declared = [
        m.upper()
        for m in spec["paths"]["/users/{correlation_id}/profile"]
        if m in ("get", "put", "post", "delete", "patch")
    ]
    method = next(m for m in ("DELETE", "PATCH", "POST") if m not in declared)
    r = http.request(method, PROFILE)
    assert_vendor_4xx(r, 405)
    served = [n for m in declared for n in ((m, "HEAD") if m == "GET" else (m,))]
    assert r.headers["allow"] == ", ".join(served)


def test_bad_namespace_header(server):
    r = httpx.put(server.url + PROFILE, json=VALID, headers={"X-Emulator-Namespace": "../x"})
    assert_vendor_4xx(r)


def test_twelve_concurrent_updates_to_one_email_exactly_one_wins(http, server, namespace):
    headers = {"X-Emulator-Namespace": namespace}
    sessions = []
    for i in range(12):
        account = http.post("/client/users", json={**VALID, "email": f"m{i}@example.com"}).json()
        http.post(
            f"/client/users/{account['accountId']}/sessions",
            json={"correlationId": f"race-{i}", "channel": "APP"},
        )
        sessions.append(f"race-{i}")
    barrier, statuses = threading.Barrier(12), []

    def update(correlation_id: str) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=10) as client:
            barrier.wait()
            r = client.put(
                f"/client/users/{correlation_id}/profile",
                json={**VALID, "email": "Same@Example.com"},
            )
            statuses.append((r.status_code, r.json().get("errorCode")))

    threads = [threading.Thread(target=update, args=(s,)) for s in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses, key=str) == [(200, None)] + [(400, "EMAIL_ALREADY_EXISTS")] * 11


def _chunked(raw: bytes):
    """A body httpx sends with Transfer-Encoding: chunked and no Content-Length."""
    yield raw[:5]
    yield raw[5:]


@pytest.mark.parametrize("raw", [json.dumps(VALID).encode(), b'{"firstName": ', b"[]"])
def test_a_chunked_body_is_answered_as_the_same_bytes_with_a_length(http, raw):
    sized = http.put(PROFILE, content=raw, headers={"content-type": "application/json"})
    chunked = http.put(PROFILE, content=_chunked(raw), headers={"content-type": "application/json"})
    assert chunked.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in chunked.request.headers
    assert (chunked.status_code, chunked.json()) == (sized.status_code, sized.json())
