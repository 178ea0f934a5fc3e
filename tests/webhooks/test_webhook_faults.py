"""Deliveries broken on purpose (POST /_emulator/webhook-faults) and the partner's loop
(OCC update -> webhook -> the partner calls ES Loyalty's updateProfile on the same
emulator), over real HTTP; the subscriber checks signatures with its own HMAC."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.subscriber import Received, Subscriber
from tests.webhooks.conftest import SECRET, UPDATE

PROFILE = "se-570031"
LOYALTY_PROFILE = "/client/users/seed-session-1/profile"  # the loyalty seed's session


def verifies(got: Received, secret: str = SECRET) -> bool:
    digest = hmac.new(secret.encode(), got.body, hashlib.sha512).digest()
    return hmac.compare_digest(
        base64.b64encode(digest).decode(), got.headers["x-oracle-cc-webhook-signature"]
    )


def update(occ: httpx.Client, name: str) -> None:
    assert occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": name}).status_code == 200


def test_duplicate_sends_the_first_attempt_twice(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    emulator.break_deliveries("duplicate", webhook=UPDATE, times=1)
    update(occ, "Ada")
    update(occ, "Grace")
    got = subscribed.wait_for(3)
    assert [g.json()["profile"]["firstName"] for g in got] == ["Ada", "Ada", "Grace"]
    assert all(verifies(g) for g in got)


def test_drop_loses_the_message(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    emulator.break_deliveries("drop", times=1)
    update(occ, "Ada")
    update(occ, "Grace")
    (got,) = subscribed.wait_for(1)
    assert got.json()["profile"]["firstName"] == "Grace"
    (dropped,) = emulator.deliveries(UPDATE, outcome="dropped")
    assert dropped["delivery"]["fault"] == "drop" and dropped["status"] is None


def test_reorder_sends_a_message_after_the_next(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    emulator.break_deliveries("reorder", times=1)
    update(occ, "Ada")
    update(occ, "Grace")
    got = subscribed.wait_for(2)
    assert [g.json()["profile"]["firstName"] for g in got] == ["Grace", "Ada"]


def test_a_bad_signature_does_not_verify_and_the_resend_does(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    emulator.break_deliveries("badSignature", times=1)

    def partner(got: Received) -> None:  # the partner refuses what does not verify
        if not verifies(got):
            subscribed.answers.appendleft((401, 0.0))

    subscribed.on_post = partner
    update(occ, "Ada")
    emulator.wait_for_webhook(UPDATE, outcome="status 401")
    emulator.advance(3600)
    emulator.wait_for_webhook(UPDATE, outcome="delivered")
    first, second = subscribed.wait_for(2)
    assert not verifies(first) and verifies(second)
    assert first.body == second.body


def test_delay_follows_the_namespace_clock(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    emulator.break_deliveries("delay", delay_seconds=600, times=1)
    update(occ, "Ada")
    assert emulator.webhooks()["pending"] == 1
    assert subscribed.received == []
    emulator.advance(600)
    emulator.wait_for_webhook(UPDATE)


def test_a_reset_stops_deliveries_and_clears_subscribers(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    subscribed.answers.append((503, 0.0))
    update(occ, "Ada")
    emulator.wait_for_webhook(UPDATE, outcome="status 503")
    emulator.reset()
    assert emulator.webhooks()["subscribers"] == []
    emulator.advance(3600)  # the resend that was due is gone with the namespace
    assert len(subscribed.received) == 1


def test_only_loopback_urls_are_accepted(http: httpx.Client) -> None:
    r = http.put(
        f"/_emulator/webhooks/{UPDATE}",
        json={"url": "http://example.com/hook", "secret": "s"},
    )
    assert r.status_code == 400
    assert r.json()["error"] == "invalid_request"
    assert "--webhook-host example.com" in r.json()["detail"]
    r = http.put(f"/_emulator/webhooks/{UPDATE}", json={"url": "file:///etc/passwd", "secret": "s"})
    assert r.status_code == 400


def test_the_partner_loop(
    server: EmulatorServer, namespace: str, occ: httpx.Client, emulator: Emulator
) -> None:
    """OCC's profile update reaches the partner's endpoint, whose service checks the
    signature and calls ES Loyalty's updateProfile on the same emulator."""
    loyalty = httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": namespace})

    def partner(got: Received) -> None:
        assert verifies(got)
        profile = got.json()["profile"]
        r = loyalty.put(
            LOYALTY_PROFILE,
            json={
                "firstName": profile["firstName"],
                "lastName": "Lovelace",
                "dateOfBirth": "1985-12-10",
                "gender": "F",
                "email": "ada@example.com",
                "postalZipCode": "H0H 0H0",
            },
        )
        assert r.status_code == 200, r.text

    with Subscriber() as endpoint:
        endpoint.on_post = partner
        emulator.subscribe(UPDATE, url=endpoint.url, secret=SECRET)
        update(occ, "Ada")
        emulator.wait_for_webhook(UPDATE, profile=PROFILE)
    emulator.assert_called("updateProfile", api="commerce", times=1)
    (loyalty_call,) = emulator.assert_called("updateProfile", api="loyalty", times=1)
    assert loyalty_call["body"]["firstName"] == "Ada"
    emulator.assert_delivered(UPDATE, profile=PROFILE, times=1)
    loyalty.close()
