"""No pattern a client's input meets can backtrack (README, "HTTP limits"): each one's worst case,
as large as the server takes it, is answered while another client is answered meanwhile.

A body is taken up to its operation's cap (1 MiB for a vendor call, 4 MiB for a fault rule), a
request head up to what the server reads of one; a check whose time grows with the square
of its input (as `^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$` did on "x@a.a.a...@") holds the server for
hours at 1 MiB, and the other client goes unanswered past the guard.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from emulator import specs
from tests.control.conftest import APP_KEY, LOYALTY_PROFILE, VALID_UPDATE
from tests.control.meanwhile import GUARD, answered_meanwhile, serve
from tests.processes import Served

MB = 1024 * 1024
VENDOR_CAP = MB  # README: a vendor call's body is refused over 1 MiB
HEAD_SIZE = 60 * 1024  # a path, query or header value this long: the rest of the head fits
CONTROL_SPEC = specs.load("control.yaml")


def control_cap(path: str, method: str) -> int:
    """The body cap control.yaml sets for the operation."""
    return int(CONTROL_SPEC["paths"][path][method]["x-max-body-bytes"])


def filled(body: dict[str, Any], unit: str, cap: int, prefix: str = "", suffix: str = "") -> bytes:
    """``body`` as JSON whose one "@" value is prefix + unit * n + suffix, n as large as keeps
    the whole body within ``cap`` bytes."""
    empty = json.dumps(body).replace('"@"', json.dumps(prefix + suffix))
    n = (cap - len(empty.encode())) // len(json.dumps(unit)[1:-1].encode())
    value = json.dumps(prefix + unit * n + suffix)
    raw = json.dumps(body).replace('"@"', value).encode()
    assert cap - 64 < len(raw) <= cap, (len(raw), cap)
    return raw


@dataclass(frozen=True)
class Case:
    """One pattern at its worst: the request that feeds it, and the statuses it may get."""

    method: str
    path: str
    body: Callable[[], bytes] | None = None
    headers: dict[str, str] | None = None
    statuses: tuple[int, ...] = (400,)
    token: bool = False  # a commerce call: it carries a fresh access token
    form: bool = False


def _email(body: dict[str, Any], cap: int = VENDOR_CAP) -> Callable[[], bytes]:
    # "x@" + "a." * n + "@": the old pattern tried every "." as the one before the last part.
    return lambda: filled(body, "a.", cap, prefix="x@", suffix="@")


HEAD = "a" * HEAD_SIZE
SPACES = "%20" * (HEAD_SIZE // 3)
CASES: dict[str, Case] = {
    # Loyalty's email (docs/decisions.md#3): schemas.is_email, through the spec's format.
    "loyalty email, enrollMember": Case(
        "POST", "/client/users", _email({**VALID_UPDATE, "email": "@"})
    ),
    "loyalty email, updateProfile": Case(
        "PUT", LOYALTY_PROFILE, _email({**VALID_UPDATE, "email": "@"})
    ),
    # OCC's profile email: the same check, by the vendor's own checks (22026).
    "commerce email, createProfile": Case(
        "POST",
        "/ccadmin/v1/profiles",
        _email({"firstName": "A", "lastName": "B", "email": "@"}),
        token=True,
    ),
    "loyalty dateOfBirth, format date": Case(
        "PUT",
        LOYALTY_PROFILE,
        lambda: filled({**VALID_UPDATE, "dateOfBirth": "@"}, "1", VENDOR_CAP),
    ),
    # The spec's `pattern`s: the Rust regex crate, in jsonschema-rs and in the explanation.
    "loyalty postalZipCode, pattern": Case(
        "PUT",
        LOYALTY_PROFILE,
        lambda: filled({**VALID_UPDATE, "postalZipCode": "@"}, "A1A ", VENDOR_CAP, "A1A "),
    ),
    "loyalty phoneNumber, pattern": Case(
        "PUT",
        LOYALTY_PROFILE,
        lambda: filled({**VALID_UPDATE, "phoneNumber": "@"}, "(123) 456-", VENDOR_CAP),
    ),
    "loyalty extendedDataSource, pattern \\S": Case(
        "PUT",
        LOYALTY_PROFILE,
        lambda: filled({**VALID_UPDATE, "extendedDataSource": "@"}, " ", VENDOR_CAP),
    ),
    "loyalty correlationId, pattern \\S": Case(
        "POST",
        "/client/users/1000000001/sessions",
        lambda: filled({"correlationId": "@", "channel": "WEBSITE"}, "\t", VENDOR_CAP),
    ),
    # A form: the query-string parser's percent-decoding.
    "commerce login form, percent-decoding": Case(
        "POST",
        "/ccadmin/v1/login",
        lambda: b"grant_type=" + b"%" * (VENDOR_CAP - len(b"grant_type=")),
        form=True,
        headers={"Authorization": f"Bearer {APP_KEY}"},
    ),
    # Fault rules: the rule schema's id pattern (Python's jsonschema), header checks.
    "fault rule id, pattern": Case(
        "POST",
        "/_emulator/faults",
        lambda: filled({"id": "@", "delayMs": 1}, "a", control_cap("/faults", "post"), "", "!"),
    ),
    "fault rule respond header name": Case(
        "POST",
        "/_emulator/faults",
        lambda: filled(
            {"respond": {"status": 503, "headers": {"@": "v"}}},
            "a",
            control_cap("/faults", "post"),
            suffix="\n",
        ),
    ),
    "fault rule respond header value": Case(
        "POST",
        "/_emulator/faults",
        lambda: filled(
            {"respond": {"status": 503, "headers": {"x": "@"}}},
            "a",
            control_cap("/faults", "post"),
            suffix="\n",
        ),
    ),
    # Head-borne patterns: path and query parameters, the namespace header, the blank-id
    # paths, the phone index, the 405's Allow table. A head too large for the server is
    # refused (431) or closed before any pattern sees it.
    "namespace header": Case(
        "GET", "/_emulator/health", headers={"X-Emulator-Namespace": HEAD + "!"}
    ),
    "fault id, path parameter pattern": Case(
        "DELETE", "/_emulator/faults/" + HEAD + "!", statuses=(400, 404)
    ),
    "scenario name, path parameter pattern": Case(
        "PUT", "/_emulator/scenarios/" + HEAD + "!", statuses=(400, 404)
    ),
    "docs api, path parameter pattern": Case(
        "GET", "/_emulator/docs/" + HEAD + "!", statuses=(400, 404)
    ),
    "journal rule filter, query parameter pattern": Case(
        "GET", "/_emulator/requests?rule=" + HEAD + "!"
    ),
    # datetime.fromisoformat (C) reads it: Python 3.11 takes "11111111..." as 1111-11-11.
    "journal since filter, format date-time": Case(
        "GET", "/_emulator/requests?since=" + "1" * HEAD_SIZE, statuses=(200, 400)
    ),
    # An unrouted path is asked whether its id is blank (the vendor's own error then).
    "loyalty blank correlation id path": Case(
        "GET", "/client/users/" + SPACES + "/profilex", statuses=(404,)
    ),
    "commerce blank profile id path": Case(
        "GET", "/ccadmin/v1/profiles/" + SPACES + "/x", statuses=(404,), token=True
    ),
    "loyalty phone index": Case(
        "POST",
        "/client/users/" + "a" * HEAD_SIZE + "/sessions",
        lambda: b'{"correlationId": "c-1", "channel": "WEBSITE"}',
        headers={"X-Identifier-Type": "PHONE_NUMBER"},
        statuses=(404,),
    ),
    "405 Allow table": Case("PATCH", "/ccadmin/v1/profiles/" + HEAD, statuses=(405,)),
    # listProfiles' q (a SCIM filter, commerce/scim.py) and sort, as long as a head takes.
    "commerce q, unclosed parentheses": Case(
        "GET", "/ccadmin/v1/profiles?q=" + "(" * HEAD_SIZE, token=True
    ),
    "commerce q, nots nested": Case(
        "GET", "/ccadmin/v1/profiles?q=" + "not%20(" * (HEAD_SIZE // 7), token=True
    ),
    "commerce q, an unclosed string of escapes": Case(
        "GET", "/ccadmin/v1/profiles?q=email%20eq%20%22" + "%5C%22" * (HEAD_SIZE // 6), token=True
    ),
    "commerce q, comparisons past the bound": Case(
        "GET",
        "/ccadmin/v1/profiles?q=" + "%20or%20".join(["a%20eq%201"] * (HEAD_SIZE // 18)),
        token=True,
    ),
    "commerce q, one long attribute path": Case(
        "GET",
        "/ccadmin/v1/profiles?q=" + "a." * (HEAD_SIZE // 2) + "b%20pr",
        statuses=(200,),
        token=True,
    ),
    "commerce sort, many keys": Case(
        "GET",
        "/ccadmin/v1/profiles?sort=" + "a.b:desc," * (HEAD_SIZE // 9) + "x",
        statuses=(200,),
        token=True,
    ),
}
HEAD_REFUSED = 431  # a head over the server's bound (README, "HTTP limits")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve(tmp_path_factory.mktemp("linear")) as served:
        yield served


def _token(client: httpx.Client) -> str:
    r = client.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Bearer {APP_KEY}"},
    )
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


@pytest.mark.parametrize("name", list(CASES))
def test_a_patterns_worst_case_holds_no_other_client(server: Served, name: str) -> None:
    case = CASES[name]
    headers = dict(case.headers or {})
    with httpx.Client(
        base_url=server.url, timeout=GUARD, headers={"X-Emulator-Namespace": "linear"}
    ) as client:
        if case.token:
            headers["Authorization"] = f"Bearer {_token(client)}"
        content = case.body() if case.body else None
        if content is not None:
            headers["Content-Type"] = (
                "application/x-www-form-urlencoded" if case.form else "application/json"
            )

        def call() -> httpx.Response | None:
            try:
                return client.request(case.method, case.path, content=content, headers=headers)
            except httpx.RemoteProtocolError:
                return None  # closed without an answer: a head over the server's bound

        answer = answered_meanwhile(server.url, call, f"{case.method} {name}")
    if answer is None or answer.status_code == HEAD_REFUSED:
        assert case.body is None or len(case.path) > HEAD_SIZE, "a body's case was refused"
        return
    assert answer.status_code in case.statuses, (answer.status_code, answer.text[:300])
    assert answer.headers["content-type"].startswith("application/json")
    assert "Traceback" not in answer.text
