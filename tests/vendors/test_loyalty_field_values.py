"""ES Loyalty over HTTP: the value lists of seed 000's body table are accepted as the seed
writes them (every province and state, Ontario's "ON" included), and blank values that the
spec refuses still get the vendor's own messages."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from tests.seeds import LOYALTY, seed_text

ROOT = Path(__file__).resolve().parents[2]
# A valid update (README, "ES Loyalty in three calls") without its email: each call brings its own.
PROFILE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "postalZipCode": "H0H 0H0",
}


def seed_province_states() -> list[str]:
    """Every quoted two-letter code of the seed's `| provinceState |` row."""
    row = next(
        line for line in seed_text(LOYALTY).splitlines() if line.startswith("| provinceState |")
    )
    return re.findall(r'"([A-Z]{2})"', row)


def test_the_seed_row_is_read_whole():
    codes = seed_province_states()
    assert len(codes) == len(set(codes)) == 13 + 59 + 3  # provinces, states, military states
    assert {"ON", "QC", "NY", "AE"} <= set(codes)


def _email() -> str:
    return f"member-{uuid.uuid4().hex[:12]}@example.com"


def test_every_seed_province_and_state_is_accepted_on_enrolment(http):
    refused = {}
    for code in seed_province_states():
        r = http.post("/client/users", json={**PROFILE, "email": _email(), "provinceState": code})
        if r.status_code != 201:
            refused[code] = (r.status_code, r.json())
    assert refused == {}


def test_every_seed_province_and_state_is_accepted_on_update(http):
    refused = {}
    for code in seed_province_states():
        r = http.put(
            "/client/users/seed-session-1/profile",
            json={**PROFILE, "email": "ada@example.com", "provinceState": code},
        )
        if (r.status_code, r.json()) != (200, {"debugMessage": "Profile Updated"}):
            refused[code] = (r.status_code, r.json())
        else:
            assert http.get("/client/users/seed-session-1/profile").json()["provinceState"] == code
    assert refused == {}


@pytest.mark.parametrize("correlation_id", ["", " ", "\t "])
def test_a_blank_session_correlation_id_gets_the_documented_message(http, correlation_id):
    r = http.post(
        "/client/users/1000000001/sessions",
        json={"correlationId": correlation_id, "channel": "WEBSITE"},
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Must provide a session correlation ID",
        },
    )


@pytest.mark.parametrize("channel", ["", "  "])
def test_a_blank_session_channel_is_refused(http, channel):
    r = http.post(
        "/client/users/1000000001/sessions",
        json={"correlationId": f"c-{uuid.uuid4().hex[:8]}", "channel": channel},
    )
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": "Must provide a channel",
        },
    )


@pytest.mark.parametrize("source", ["", "   "])
def test_a_blank_extended_data_source_is_not_a_valid_source(http, source):
    """The seed's `{value} is not valid extended data source.`, with the blank value."""
    body = {
        **PROFILE,
        "email": "ada@example.com",
        "extendedDataSource": source,
        "extendedData": {"casl": True},
    }
    r = http.put("/client/users/seed-session-1/profile", json=body)
    assert (r.status_code, r.json()) == (
        400,
        {
            "statusCode": 400,
            "errorCode": "INVALID_REQUEST",
            "errorMessage": f"{source} is not valid extended data source.",
        },
    )
