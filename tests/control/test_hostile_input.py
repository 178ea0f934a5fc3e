"""Hostile input on every API, over real HTTP and raw sockets.

- A body that never arrives whole (a Content-Length larger than what is sent, a chunked body
  without its last chunk, then the client leaves) is never executed and not journaled.
- Nesting is bounded at parse (64 levels; a state snapshot 128): deeper is the API's
  invalid-request error naming where, so nothing is stored that cannot be written back.
- Garbage of every kind (deep nesting, truncated and mismatched bodies, invalid UTF-8, lone
  surrogates, NUL, huge numbers, duplicate keys, 50 MB bodies, odd namespace headers) on
  loyalty, commerce and control calls: each answer is a status the operation's spec lists, in
  the API's own error shape (never a 500, never a trace), and afterwards the namespace's
  state, journal and faults still answer 200.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from emulator import specs
from emulator.server import EmulatorServer
from tests.control.conftest import (
    COMMERCE_PROFILE,
    LOYALTY_PROFILE,
    VALID_UPDATE,
    commerce_token,
    wait_for,
)

CONTROL = "/_emulator"
MB = 1024 * 1024


def nested_lists(depth: int, leaf: bytes = b"1") -> bytes:
    return b"[" * depth + leaf + b"]" * depth


def nested_objects(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def still_answers(http: httpx.Client) -> None:
    """The namespace is not poisoned: what it stored can be written back out."""
    for path in ("state", "requests", "faults", "config"):
        r = http.get(f"{CONTROL}/{path}")
        assert r.status_code == 200, (path, r.text[:300])


@pytest.fixture
def access_records() -> Iterator[list[logging.LogRecord]]:
    """The access log's records (one per vendor call, written once the call is over)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.getLogger("emulator.access")
    handler, level = Keep(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


# --- a body that never arrived whole -------------------------------------------------------------

UNFINISHED = {
    "content-length 500 too large": lambda body: (
        f"Content-Length: {len(body) + 500}\r\n\r\n".encode() + body
    ),
    "chunked without its last chunk": lambda body: (
        f"Transfer-Encoding: chunked\r\n\r\n{len(body):x}\r\n".encode() + body + b"\r\n"
    ),
    "content-length, then half-closed": lambda body: (
        f"Content-Length: {len(body) + 500}\r\n\r\n".encode() + body
    ),
}


@pytest.mark.parametrize("how", list(UNFINISHED))
def test_a_body_that_never_arrived_whole_is_not_executed(
    server: EmulatorServer,
    http: httpx.Client,
    namespace: str,
    how: str,
    access_records: list[logging.LogRecord],
) -> None:
    assert http.get(LOYALTY_PROFILE).json()["firstName"] == "Ada"  # fixtures/loyalty.yaml
    body = json.dumps({**VALID_UPDATE, "firstName": "Changed"}).encode()
    head = (
        f"PUT {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: "
        f"{namespace}\r\nContent-Type: application/json\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(head + UNFINISHED[how](body))
        if how.endswith("half-closed"):
            sock.shutdown(socket.SHUT_WR)  # FIN: no more bytes will come
            assert sock.recv(65536) == b""  # and no answer: the server closes in turn
    # The call is over once its access record is written (the journal is decided before).
    assert wait_for(
        lambda: [
            r
            for r in access_records
            if r.access["namespace"] == namespace and r.access["method"] == "PUT"
        ],
        timeout=10,
    )
    assert http.get(LOYALTY_PROFILE).json()["firstName"] == "Ada"  # nothing applied
    journal = http.get(f"{CONTROL}/requests").json()["requests"]
    assert [(e["method"], e["status"]) for e in journal] == [("GET", 200), ("GET", 200)]


def test_a_body_longer_than_its_content_length_is_cut_there(
    server: EmulatorServer, http: httpx.Client, namespace: str
) -> None:
    """What follows the declared length is the next request on the connection: the call
    is judged on the body it declared (here cut mid-JSON: malformed), never on more."""
    body = json.dumps({**VALID_UPDATE, "firstName": "Changed"}).encode()
    request = (
        f"PUT {LOYALTY_PROFILE} HTTP/1.1\r\nHost: emulator\r\nX-Emulator-Namespace: "
        f"{namespace}\r\nContent-Type: application/json\r\nConnection: close\r\n"
        f"Content-Length: {len(body) - 10}\r\n\r\n"
    ).encode() + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 ")
    error = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert (error["statusCode"], error["errorCode"]) == (400, "INVALID_REQUEST")
    assert error["errorMessage"].startswith("Invalid request: Malformed JSON")  # badBody
    assert http.get(LOYALTY_PROFILE).json()["firstName"] == "Ada"


def _responses(raw: bytes) -> list[tuple[bytes, dict[str, str], bytes]]:
    """(status line, headers, body) of each HTTP/1.1 response in `raw`, framed by Content-Length."""
    out = []
    while raw:
        head, _, rest = raw.partition(b"\r\n\r\n")
        status, *lines = head.split(b"\r\n")
        headers = {
            k.strip().lower().decode(): v.strip().decode()
            for k, _, v in (line.partition(b":") for line in lines)
        }
        size = int(headers["content-length"])
        out.append((status, headers, rest[:size]))
        raw = rest[size:]
    return out


def test_pipelined_calls_are_answered_in_order_each_whole(
    server: EmulatorServer, http: httpx.Client, namespace: str
) -> None:
    """Three calls in one TCP write: three whole answers, in order, the second and third
    seeing the first's write (each answer is one write of its status line, headers and body)."""
    body = json.dumps({**VALID_UPDATE, "firstName": "Piped"}).encode()
    common = f"Host: emulator\r\nX-Emulator-Namespace: {namespace}\r\n"
    calls = (
        (
            f"PUT {LOYALTY_PROFILE} HTTP/1.1\r\n{common}Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        + f"GET {LOYALTY_PROFILE} HTTP/1.1\r\n{common}\r\n".encode()
        + f"GET {LOYALTY_PROFILE} HTTP/1.1\r\n{common}Connection: close\r\n\r\n".encode()
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(calls)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    answers = _responses(answer)
    assert [status for status, _, _ in answers] == [b"HTTP/1.1 200 OK"] * 3
    assert json.loads(answers[0][2]) == {"debugMessage": "Profile Updated"}  # seed 000
    assert [json.loads(b)["firstName"] for _, _, b in answers[1:]] == ["Piped", "Piped"]
    assert all(h["content-type"] == "application/json" for _, h, _ in answers)


# --- nesting -----------------------------------------------------------------------------------


def test_nesting_is_bounded_at_64_levels_on_a_vendor_call(http: httpx.Client) -> None:
    # extendedData sits one level into the body: 63 more levels is the deepest a call may go.
    deepest = {**VALID_UPDATE, "extendedData": nested_objects(63)}
    assert http.put(LOYALTY_PROFILE, json=deepest).status_code == 200
    r = http.put(LOYALTY_PROFILE, json={**VALID_UPDATE, "extendedData": nested_objects(64)})
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Invalid request: extendedData.a: nested deeper than 64 levels",
        },
    )
    # The deepest stored document is written back out, and a snapshot of it restores.
    snapshot = http.get(f"{CONTROL}/state").json()
    assert http.put(f"{CONTROL}/state", json=snapshot).status_code == 204
    assert http.get(f"{CONTROL}/state").json() == snapshot
    still_answers(http)


@pytest.mark.parametrize("depth", [250, 300, 1000])
def test_deep_extended_data_is_refused_and_the_namespace_still_answers(
    http: httpx.Client, depth: int
) -> None:
    body = (
        json.dumps(VALID_UPDATE)[:-1].encode()
        + b', "extendedData": {"casl": '
        + nested_lists(depth)
        + b"}}"
    )
    r = http.put(LOYALTY_PROFILE, content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_REQUEST")
    if depth < 1024:  # orjson reads 1,024 levels: deeper is malformed JSON
        assert (
            r.json()["errorMessage"]
            == "Invalid request: extendedData.casl: nested deeper than 64 levels"
        )
    [entry] = http.get(f"{CONTROL}/requests").json()["requests"]
    assert (entry["operation"], entry["status"]) == ("updateProfile", 400)
    assert entry["body"] == body.decode()  # shown as text: too deep to be written as JSON
    still_answers(http)


def test_a_commerce_field_holding_a_deep_list_is_invalid_input(http: httpx.Client) -> None:
    http.headers["Authorization"] = f"Bearer {commerce_token(http)}"
    r = http.put(
        COMMERCE_PROFILE,
        content=b'{"firstName": ' + nested_lists(300) + b"}",
        headers={"content-type": "application/json"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "errorCode": "22007",
            "message": "Invalid input provided.",
            "status": "400",
            "devMessage": "firstName[0]: nested deeper than 64 levels",
        },
    )
    still_answers(http)


@pytest.mark.parametrize("path", ["/client/users", LOYALTY_PROFILE])
def test_a_deep_body_failing_an_any_of_is_the_invalid_request_error(
    http: httpx.Client, path: str
) -> None:
    """ProfileUpdate and enrolment need postalZipCode or postalCode (anyOf): this body
    has neither, and a field nested ~1,000 deep."""
    fields = {k: v for k, v in VALID_UPDATE.items() if k != "postalZipCode"}
    body = json.dumps(fields)[:-1].encode() + b', "gender": ' + nested_lists(1000) + b"}"
    method = "POST" if path == "/client/users" else "PUT"
    r = http.request(method, path, content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Invalid request: gender[0]: nested deeper than 64 levels",
        },
    )
    still_answers(http)


def test_a_fault_rule_with_a_deep_match_body_is_refused(http: httpx.Client) -> None:
    rule = b'{"fault": "timeout", "match": {"body": {"a": ' + nested_lists(300) + b"}}}"
    r = http.post(f"{CONTROL}/faults", content=rule, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()) == (
        400,
        {"error": "invalid_request", "detail": "match.body: nested deeper than 64 levels"},
    )
    assert http.get(f"{CONTROL}/faults").json() == []
    still_answers(http)


@pytest.mark.parametrize("depth", [129, 250, 1000])
def test_a_state_snapshot_is_bounded_at_128_levels(http: httpx.Client, depth: int) -> None:
    snapshot = http.get(f"{CONTROL}/state").json()
    account = snapshot["loyalty.accounts"]["1000000001"]
    account["emd"] = "<emd>"  # collection, key and emd are three levels
    deep = b'{"a": ' * (depth - 3) + b"1" + b"}" * (depth - 3)
    r = http.put(
        f"{CONTROL}/state",
        content=json.dumps(snapshot).encode().replace(b'"<emd>"', deep),
        headers={"content-type": "application/json"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "invalid_request",
            "detail": "loyalty.accounts.1000000001: nested deeper than 128 levels",
        },
    )
    account["emd"] = nested_objects(128 - 3)
    assert http.put(f"{CONTROL}/state", json=snapshot).status_code == 204
    assert http.get(f"{CONTROL}/state").json() == snapshot
    still_answers(http)


def test_a_config_patch_nested_too_deep_is_refused(http: httpx.Client) -> None:
    r = http.patch(f"{CONTROL}/config", json={"loyalty": {"extendedData": nested_objects(100)}})
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "invalid_request",
            "detail": "loyalty.extendedData: nested deeper than 64 levels",
        },
    )
    still_answers(http)


# --- garbage on every API ----------------------------------------------------------------------

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
FIFTY_MB = b'{"firstName": "' + b"x" * (50 * MB) + b'"}'

GARBAGE: dict[str, tuple[bytes, str]] = {
    "nested 250": (nested_lists(250), JSON),
    "nested 1,000": (nested_lists(1000), JSON),
    "nested 100,000": (nested_lists(100_000), JSON),
    "objects nested 250": (json.dumps({"firstName": nested_objects(250)}).encode(), JSON),
    "nested 100,000, unclosed": (b"[" * 100_000, JSON),
    "truncated": (b'{"firstName": "Ada", "lastNa', JSON),
    "empty": (b"", JSON),
    "json sent as a form": (json.dumps(VALID_UPDATE).encode(), FORM),
    "a form sent as json": (b"grant_type=client_credentials&firstName=Ada", JSON),
    "text/plain": (json.dumps(VALID_UPDATE).encode(), "text/plain"),
    "no content type": (json.dumps(VALID_UPDATE).encode(), ""),
    "invalid utf-8": (b'{"firstName": "\xff\xfe\xc3"}', JSON),
    "invalid utf-8 in a form": (b"grant_type=client_credentials&x=\xff\xfe", FORM),
    "lone surrogate escape": (b'{"firstName": "\\ud800"}', JSON),
    "lone surrogate bytes": (b'{"firstName": "\xed\xa0\x80"}', JSON),
    "nul escape": (b'{"firstName": "a\\u0000b", "fault": "\\u0000"}', JSON),
    "nul byte": (b'{"firstName": "a\x00b"}', JSON),
    "huge float": (b'{"firstName": 1e400, "seed": 1e400, "times": 1e400}', JSON),
    "huge integer": (b'{"firstName": ' + b"9" * 5000 + b', "seed": ' + b"9" * 5000 + b"}", JSON),
    "64-bit overflow": (b'{"seed": 18446744073709551616, "times": -9223372036854775809}', JSON),
    "duplicate keys": (
        b'{"firstName": "Ada", "firstName": 5, "fault": "timeout", "fault": 1}',
        JSON,
    ),
    "scalar body": (b'"just a string"', JSON),
    "null body": (b"null", JSON),
    "array body": (b"[]", JSON),
    "50 MB": (FIFTY_MB, JSON),
}

# (api, method, path); commerce's profile calls carry a fresh token.
ENDPOINTS = [
    ("loyalty", "PUT", LOYALTY_PROFILE),
    ("loyalty", "POST", "/client/users"),
    ("loyalty", "POST", "/client/users/1000000002/sessions"),
    ("commerce", "PUT", COMMERCE_PROFILE),
    ("commerce", "POST", "/ccadmin/v1/profiles"),
    ("commerce", "POST", "/ccadmin/v1/login"),
    ("control", "POST", f"{CONTROL}/faults"),
    ("control", "PUT", f"{CONTROL}/state"),
    ("control", "PATCH", f"{CONTROL}/config"),
]
SPEC_FILES = {"loyalty": "loyalty.yaml", "commerce": "commerce.yaml", "control": "control.yaml"}


def documented_statuses(api: str, method: str, path: str) -> set[int]:
    """The statuses the operation's spec lists (its responses; `default` stands for any
    error status, which then still has to come in the API's error shape)."""
    spec = specs.load(SPEC_FILES[api])
    base = {"loyalty": "/client", "commerce": "/ccadmin/v1", "control": "/_emulator"}[api]
    relative = path.removeprefix(base)
    for template, item in spec["paths"].items():
        parts, given = template.split("/"), relative.split("/")
        if len(parts) == len(given) and all(
            p == g or p.startswith("{") for p, g in zip(parts, given, strict=True)
        ):
            responses = item[method.lower()]["responses"]
            return {int(status) for status in responses if status != "default"}
    raise AssertionError(f"no operation for {method} {path}")


def assert_api_answer(api: str, method: str, path: str, r: httpx.Response) -> None:
    assert r.status_code != 500, r.text[:500]
    assert r.status_code in documented_statuses(api, method, path), (r.status_code, r.text[:300])
    assert "Traceback" not in r.text
    if r.status_code < 400:
        return
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()
    if api == "loyalty":
        assert error.keys() == {"statusCode", "errorCode", "errorMessage"}
        assert error["statusCode"] == r.status_code
    elif api == "commerce":
        assert (
            {"errorCode", "message", "status"}
            <= error.keys()
            <= {"errorCode", "message", "status", "devMessage"}
        )
        assert error["status"] == str(r.status_code)
    else:
        assert error.keys() == {"error", "detail"}
        assert len(r.content) < 1000  # a refused value is quoted cut short


def send(
    http: httpx.Client, api: str, method: str, path: str, body: bytes, content_type: str
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    if api == "commerce" and "login" not in path:
        headers["authorization"] = f"Bearer {commerce_token(http)}"
    elif api == "commerce":
        headers["authorization"] = "Bearer emulator-app-key"
    try:
        return http.request(method, path, content=body, headers=headers)
    except httpx.WriteError:
        # The server answered (413) and closed before the whole 50 MB was sent; the client
        # saw the connection go. Ask on a fresh connection that it is still well.
        pytest.skip("the client could not finish sending after the server's answer")


@pytest.mark.parametrize(
    "garbage",
    [pytest.param(g, marks=pytest.mark.slow) if g == "50 MB" else g for g in GARBAGE],
)
@pytest.mark.parametrize(
    ("api", "method", "path"), ENDPOINTS, ids=[f"{m} {p}" for _, m, p in ENDPOINTS]
)
def test_garbage_gets_the_apis_documented_error(
    http: httpx.Client, api: str, method: str, path: str, garbage: str
) -> None:
    body, content_type = GARBAGE[garbage]
    r = send(http, api, method, path, body, content_type)
    assert_api_answer(api, method, path, r)
    still_answers(http)


ODD_NAMESPACES = [
    "",
    " ",
    "a" * 65,
    "../../etc",
    "a b",
    "tab\there",
    "emoji-\u00fc",
    "semi;colon",
    "x" * 10_000,
    "default\r",
]


@pytest.mark.parametrize("name", ODD_NAMESPACES, ids=[repr(n[:12]) for n in ODD_NAMESPACES])
@pytest.mark.parametrize(
    ("api", "method", "path"),
    [
        ("loyalty", "GET", LOYALTY_PROFILE),
        ("commerce", "GET", COMMERCE_PROFILE),
        ("control", "GET", f"{CONTROL}/state"),
        ("control", "POST", f"{CONTROL}/faults"),
    ],
    ids=["loyalty", "commerce", "control state", "control faults"],
)
def test_an_odd_namespace_header_is_the_apis_invalid_request(
    server: EmulatorServer, api: str, method: str, path: str, name: str
) -> None:
    raw_name = name.encode("latin-1")
    request = (
        (
            f"{method} {path} HTTP/1.1\r\nHost: emulator\r\nConnection: close\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n"
        ).encode()
        + b"X-Emulator-Namespace: "
        + raw_name
        + b"\r\n\r\n{}"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, payload = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    if status == 400 and not payload.startswith(b"{"):
        return  # the HTTP parser refused the header line itself (a bare CR): no call was made
    r = httpx.Response(
        status,
        headers=[tuple(line.split(b": ", 1)) for line in head.split(b"\r\n")[1:]],
        content=payload,
    )
    assert_api_answer(api, method, path, r)
    if (
        name.strip()
        and name == name.strip()
        and len(name) <= 64
        and all(c.isalnum() or c in "_.-" for c in name)
    ):
        return  # a good name after all
    assert status == 400
    assert (
        server.app.runtime.existing(name) is None
        and server.app.runtime.existing(name.strip()) is None
    ) or name.strip() == "default"


def test_a_deep_body_is_refused_whatever_rules_are_active(http: httpx.Client) -> None:
    """The rules weigh the call before its spec failure is answered: a rule matching on the
    body walks it, and a `checked` rule must not act on a body the vendor refuses."""
    for rule in (
        {"delayMs": 1, "match": {"body": {"extendedData": {"a": 1}}}},
        {"respond": {"status": 503}, "match": {"operation": "updateProfile"}},
    ):
        assert http.post(f"{CONTROL}/faults", json=rule).status_code == 201
    body = (
        json.dumps(VALID_UPDATE)[:-1].encode() + b', "extendedData": ' + nested_lists(1000) + b"}"
    )
    r = http.put(LOYALTY_PROFILE, content=body, headers={"content-type": "application/json"})
    assert (r.status_code, r.json()["errorCode"]) == (400, "INVALID_REQUEST")
    assert [rule["matched"] for rule in http.get(f"{CONTROL}/faults").json()] == [0, 0]
    still_answers(http)
