"""Seed 002's own "Sample Request" sent to the seed's profile answers its "Sample Response
Payload", except where docs/decisions.md#9 says they disagree: the emulator stores what was
sent, so there the answer holds the sent values. Both JSON texts are read from the seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.seeds import COMMERCE, seed_text

ROOT = Path(__file__).resolve().parents[2]
REQUEST_MARK = "Sample Request:"
RESPONSE_MARK = "Sample Response Payload returned by endpoint:"
PROFILE = "/ccadmin/v1/profiles/se-570031"  # the seed response's "id"


def _json_after(text: str, mark: str) -> Any:
    start = text.index(mark) + len(mark)
    value, _ = json.JSONDecoder().raw_decode(text[start:].lstrip())
    return value


def seed_samples() -> tuple[dict[str, Any], dict[str, Any]]:
    """(Sample Request, Sample Response Payload), as the seed writes them."""
    text = seed_text(COMMERCE)
    return _json_after(text, REQUEST_MARK), _json_after(text, RESPONSE_MARK)


def test_the_seed_samples_disagree_where_requirements_5_9_says():
    """firstName "kim" sent, "Kim" shown; XTRAMILES sent Enrolled, shown RequestForEnrollment."""
    sent, shown = seed_samples()
    assert shown["id"] == PROFILE.rsplit("/", 1)[1]
    assert (sent["firstName"], shown["firstName"]) == ("kim", "Kim")
    statuses = {
        p["programName"]: (p["status"], q["status"])
        for p, q in zip(sent["loyaltyPrograms"], shown["loyaltyPrograms"], strict=True)
    }
    assert statuses == {
        "XTRAREWARDS": ("Enrolled", "Enrolled"),
        "XTRAMILES": ("Enrolled", "RequestForEnrollment"),
    }


def test_the_seed_sample_request_answers_the_seed_sample_response(occ):
    sent, shown = seed_samples()
    r = occ.put(PROFILE, json=sent)
    assert r.status_code == 200, r.text
    answer = r.json()
    assert sorted(answer) == sorted(shown)

    # docs/decisions.md#9: sent fields replace stored ones, so the answer holds what was sent.
    assert answer["firstName"] == sent["firstName"]
    assert answer["loyaltyPrograms"] == [
        {**shown_program, "status": sent_program["status"]}
        for shown_program, sent_program in zip(
            shown["loyaltyPrograms"], sent["loyaltyPrograms"], strict=True
        )
    ]

    # Everywhere else: the seed's response, key for key.
    differing = {
        key: (answer[key], shown[key])
        for key in shown
        if key not in ("firstName", "loyaltyPrograms") and answer[key] != shown[key]
    }
    assert differing == {}
    read_back = occ.get(PROFILE).json()
    read_back.pop("links")  # getProfile's own (the vendor's "View a shopper profile")
    assert read_back == answer
