"""PUT /_emulator/state takes only state the handlers can use: the one state schema (the data
file is read with the same one) refuses the rest with a 400 naming the path, and leaves the
namespace as it was."""

from __future__ import annotations

import copy
import json

import httpx
import pytest

CONTROL = "/_emulator"


class Named(tuple):
    """A refusal worded by the schema checker: the emulator owns the path before the colon
    and the field or value named after it, not the checker's sentence around them."""

    def __new__(cls, path: str, names: str) -> Named:
        return super().__new__(cls, (path, names))

    def matches(self, detail: str) -> bool:
        path, names = self
        return detail.startswith(f"{path}: ") and names in detail[len(path) + 2 :]


MEMBER = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada.snapshot@example.com",
    "postalZipCode": "H0H 0H0",
}


@pytest.mark.parametrize(
    ("state", "detail"),
    [
        (
            {},
            "(top level): names no collection; send the collections GET /_emulator/state "
            "returns (an empty one as {})",
        ),
        ({"loyalty.sessions": {"s1": {}}}, Named("loyalty.sessions.s1", "'correlationId'")),
        (
            {"loyalty.accounts": {"1000000001": {"profile": {}}}},
            Named("loyalty.accounts.1000000001", "'accountId'"),
        ),
        (
            {"loyalty.counters": {"accounts": {"next": "x"}}},
            Named("loyalty.counters.accounts.next", "'x'"),
        ),
        ({"loyalty.counters": {}}, Named("loyalty.counters", "'accounts'")),
        (
            {
                "loyalty.sessions": {
                    "s1": {"correlationId": "other", "accountId": "1000000001", "channel": "WEB"}
                }
            },
            "loyalty.sessions.s1.correlationId: 'other' is not the document's key 's1'",
        ),
        (
            {"commerce.profiles": {"se-1": {"id": "se-1", "email": "a@b.co"}}},
            Named("commerce.profiles.se-1", "'derivedPriceListGroup'"),
        ),
        (
            {
                "commerce.tokens": {
                    "t": {"token": "t", "subject": {}, "issuedAt": 1, "expiresAt": 2}
                }
            },
            Named("commerce.tokens.t.subject", "'type'"),
        ),
    ],
)
def test_state_the_handlers_cannot_use_is_refused_naming_the_path(
    http: httpx.Client, state: dict, detail: str | Named
) -> None:
    before = http.get(f"{CONTROL}/state").json()
    r = http.put(f"{CONTROL}/state", json=state)
    assert (r.status_code, sorted(r.json())) == (400, ["detail", "error"])
    assert r.json()["error"] == "invalid_request"
    if isinstance(detail, Named):
        assert detail.matches(r.json()["detail"]), r.json()["detail"]
    else:
        assert r.json()["detail"] == detail
    assert http.get(f"{CONTROL}/state").json() == before


def test_a_document_deeper_than_json_is_written_back_is_refused(http: httpx.Client) -> None:
    """orjson reads 1,024 levels but writes 255: such a document could never be read back
    (GET /_emulator/state) nor persisted."""
    state = http.get(f"{CONTROL}/state").json()
    state["loyalty.accounts"]["1000000001"]["emd"] = {"MARKETING": "DEEP"}
    body = json.dumps(state).replace('"DEEP"', '{"x": ' * 990 + "{}" + "}" * 990)
    r = http.put(f"{CONTROL}/state", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "detail": r.json()["detail"]}
    assert r.json()["detail"].startswith("loyalty.accounts.1000000001: ")  # names the document
    assert http.get(f"{CONTROL}/state").status_code == 200


def test_a_snapshot_round_trips_and_the_handlers_use_it(http: httpx.Client) -> None:
    snapshot = http.get(f"{CONTROL}/state").json()
    assert http.put(f"{CONTROL}/state", json=snapshot).status_code == 204
    assert http.get(f"{CONTROL}/state").json() == snapshot
    assert http.post("/client/users", json=MEMBER).status_code == 201
    token = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    assert token.status_code == 200


def test_counters_left_out_of_a_snapshot_keep_their_values(http: httpx.Client) -> None:
    """Collections left out are emptied, but the id counters carry on: ids handed out are
    never handed out again, and enrolment still works."""
    first = http.post("/client/users", json=MEMBER).json()["accountId"]
    counters = copy.deepcopy(http.get(f"{CONTROL}/state").json()["loyalty.counters"])
    assert http.put(f"{CONTROL}/state", json={"loyalty.sessions": {}}).status_code == 204
    state = http.get(f"{CONTROL}/state").json()
    assert state["loyalty.accounts"] == {} and state["loyalty.counters"] == counters
    second = http.post("/client/users", json=MEMBER)
    assert second.status_code == 201 and int(second.json()["accountId"]) == int(first) + 1
