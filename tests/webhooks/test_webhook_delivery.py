"""A profile change reaches the partner's endpoint over real HTTP as the vendor's pages
describe it: the "Shopper Profile Update" envelope, signed as "Secure webhooks" says (the
test checks the signature with its own HMAC), after the vendor call has answered, in the
order the changes happened."""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading

import httpx

from emulator.client import Emulator
from tests.subscriber import HANG_GUARD, Subscriber
from tests.webhooks.conftest import SECRET, UPDATE

PROFILE = "se-570031"


def signature(secret: str, body: bytes) -> str:
    """ "Secure webhooks": HMAC SHA512 of the raw body, keyed with the secret, base64."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha512).digest()).decode()


def test_an_update_posts_the_signed_envelope(occ: httpx.Client, subscribed: Subscriber) -> None:
    r = occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Ada"})
    assert r.status_code == 200, r.text
    (got,) = subscribed.wait_for(1)
    assert got.headers["content-type"] == "application/json"
    assert got.headers["x-oracle-cc-webhook-signature"] == signature(SECRET, got.body)
    envelope = got.json()
    assert set(envelope) == {"profileId", "profile", "siteId", "type"}
    assert envelope["profileId"] == PROFILE
    assert envelope["type"] == "atg.dps.ProfileUpdate"
    assert envelope["profile"] == r.json()  # the profile as the update answered it
    assert envelope["profile"]["firstName"] == "Ada"


def test_a_refused_update_posts_nothing(occ: httpx.Client, subscribed: Subscriber) -> None:
    r = occ.put("/ccadmin/v1/profiles/nope", json={"firstName": "Ada"})
    assert r.status_code == 404
    r = occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Grace"})
    assert r.status_code == 200
    (got,) = subscribed.wait_for(1)  # the only one: the refused call sent none
    assert got.json()["profile"]["firstName"] == "Grace"


def test_one_profile_s_changes_arrive_in_order(occ: httpx.Client, subscribed: Subscriber) -> None:
    names = [f"Name{i}" for i in range(8)]
    for name in names:
        assert (
            occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": name}).status_code == 200
        )
    got = subscribed.wait_for(len(names))
    assert [g.json()["profile"]["firstName"] for g in got] == names


def test_each_attempt_is_in_the_journal(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Ada"})
    subscribed.wait_for(1)
    emulator.wait_for_webhook(UPDATE, profile=PROFILE)
    entries = occ.get("/_emulator/requests", params={"operation": UPDATE}).json()["requests"]
    (entry,) = entries
    assert entry["direction"] == "outbound"
    assert entry["method"] == "POST"
    assert entry["path"] == subscribed.url
    assert entry["status"] == 200
    assert entry["delivery"] == {
        "key": PROFILE,
        "attempt": 1,
        "of": 5,
        "outcome": "delivered",
        "fault": None,
    }
    assert entry["body"]["profileId"] == PROFILE


def test_the_vendor_call_does_not_wait_for_its_delivery(
    occ: httpx.Client, subscribed: Subscriber
) -> None:
    gate = threading.Event()
    subscribed.on_post = lambda got: gate.wait(HANG_GUARD)  # the partner holds its answer
    try:
        # Answered while the delivery waits (the client's own timeout is the hang guard).
        r = occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Ada"}, timeout=5)
        assert r.status_code == 200
        assert occ.get("/_emulator/webhooks").json()["pending"] == 1
    finally:
        gate.set()
    subscribed.wait_for(1)


def test_a_created_profile_posts_the_create_envelope(
    occ: httpx.Client, subscriber: Subscriber, emulator: Emulator
) -> None:
    emulator.subscribe("production-createProfile", url=subscriber.url, secret=SECRET)
    r = occ.post(
        "/ccadmin/v1/profiles",
        json={"firstName": "Sam", "lastName": "Shopper", "email": "sam@example.com"},
        headers={"x-ccsite": "siteB"},
    )
    assert r.status_code == 201, r.text
    (got,) = subscriber.wait_for(1)
    assert got.headers["x-oracle-cc-webhook-signature"] == signature(SECRET, got.body)
    envelope = got.json()
    assert envelope["profileId"] == r.json()["id"] == envelope["profile"]["id"]
    assert envelope["siteId"] == "siteB"  # the call's x-ccsite
    assert envelope["type"] == "atg.dps.ProfileCreate"  # inferred (docs/webhooks.md)


def test_admin_updates_fire_the_webhook_unless_switched_off(
    occ: httpx.Client, subscriber: Subscriber, emulator: Emulator
) -> None:
    emulator.subscribe(UPDATE, url=subscriber.url, secret=SECRET, adminUpdates=False)
    occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Off"})
    emulator.subscribe(UPDATE, url=subscriber.url, secret=SECRET)  # on: the default
    assert emulator.webhooks()["subscribers"][0]["adminUpdates"] is True
    occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "On"})
    (got,) = subscriber.wait_for(1)  # one profile's messages keep their order: Off sent none
    assert got.json()["profile"]["firstName"] == "On"
    emulator.wait_for_webhook(UPDATE, profile=PROFILE)  # journaled once its answer is read
    emulator.assert_delivered(UPDATE, profile=PROFILE, times=1)
