"""Resending ("Manage failed webhook calls"): a message not answered 2xx is sent again after
the interval, by default one hour, until the maximum number of attempts (by default 5); the
interval is the namespace's clock, so the test advances time instead of waiting an hour.
What still failed is listed in /ccadmin/v1/webhookFailedMessages and can be resent."""

from __future__ import annotations

import httpx

from emulator.client import Emulator
from tests.subscriber import Subscriber
from tests.webhooks.conftest import UPDATE, login

PROFILE = "se-570031"
HOUR = 3600  # "By default, the interval is one hour"
ATTEMPTS = 5  # "and the maximum number of attempts is 5"


def update(occ: httpx.Client, name: str = "Ada") -> None:
    r = occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": name})
    assert r.status_code == 200, r.text


def test_a_5xx_is_resent_an_hour_later(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    subscribed.answers.extend([(503, 0.0)])
    update(occ)
    emulator.wait_for_webhook(UPDATE, outcome="status 503")
    emulator.advance(HOUR - 1)  # not yet
    assert len(subscribed.received) == 1
    assert emulator.deliveries(UPDATE, outcome="delivered") == []
    emulator.advance(1)
    (delivered,) = emulator.wait_for_webhook(UPDATE, profile=PROFILE)
    assert delivered["delivery"]["attempt"] == 2
    got = subscribed.wait_for(2)
    assert got[0].body == got[1].body  # the same message, byte for byte


def test_after_the_last_attempt_the_message_is_a_failed_message(
    occ: httpx.Client, subscribed: Subscriber, emulator: Emulator
) -> None:
    subscribed.answers.extend([(500, 0.0)] * ATTEMPTS)
    update(occ)
    for attempt in range(1, ATTEMPTS + 1):
        emulator.wait_for_webhook(UPDATE, outcome="status 500", count=attempt)
        if attempt < ATTEMPTS:
            emulator.advance(HOUR)
    listing = login(occ).get("/ccadmin/v1/webhookFailedMessages")  # 4 hours on: a new token
    assert listing.status_code == 200, listing.text
    (failed,) = listing.json()["items"]
    assert listing.json()["totalResults"] == 1
    assert failed["messageType"] == "atg.dps.ProfileUpdate"
    assert failed["remainingTargetUrls"] == [subscribed.url]
    assert failed["resend"] is False
    assert failed["lastErrorMessage"] == (
        "atg.service.webhook.WebHookException: Invalid response code of 500 received for "
        f"webhook {UPDATE} from {subscribed.url}"
    )
    emulator.advance(10 * HOUR)  # no sixth attempt
    assert len(emulator.deliveries(UPDATE)) == ATTEMPTS
    login(occ)
    # Resent ({"resend": true}, the pages' example): delivered this time.
    r = occ.put(f"/ccadmin/v1/webhookFailedMessages/{failed['id']}", json={"resend": True})
    assert r.status_code == 200, r.text
    emulator.wait_for_webhook(UPDATE, profile=PROFILE)
    assert occ.get("/ccadmin/v1/webhookFailedMessages").json()["items"] == []


def test_the_schedule_is_configurable_per_namespace(
    occ: httpx.Client, subscriber: Subscriber, emulator: Emulator
) -> None:
    emulator.subscribe(
        UPDATE, url=subscriber.url, secret="s", resendDelaySeconds=60, maxNumberOfResendAttempts=2
    )
    subscriber.answers.extend([(502, 0.0), (502, 0.0)])
    update(occ)
    emulator.wait_for_webhook(UPDATE, outcome="status 502")
    emulator.advance(60)
    emulator.wait_for_webhook(UPDATE, outcome="status 502", count=2)
    failed = occ.get("/ccadmin/v1/webhookFailedMessages").json()["items"]
    assert len(failed) == 1


def test_a_refused_connection_is_recorded_and_resent(occ: httpx.Client, emulator: Emulator) -> None:
    with Subscriber() as closed:  # never started: its port refuses
        url = closed.url
    emulator.subscribe(UPDATE, url=url, secret="s", maxNumberOfResendAttempts=1)
    update(occ)
    (entry,) = emulator.wait_for_webhook(UPDATE, outcome="refused")
    assert entry["status"] is None and entry["response"] is None
    (failed,) = occ.get("/ccadmin/v1/webhookFailedMessages").json()["items"]
    assert failed["lastErrorMessage"] == (
        "atg.service.webhook.WebHookException: java.net.ConnectException: Connection refused "
        "(Connection refused)"
    )


def test_a_slow_subscriber_times_out_without_holding_the_vendor_call(
    occ: httpx.Client, subscriber: Subscriber, emulator: Emulator
) -> None:
    emulator.subscribe(UPDATE, url=subscriber.url, secret="s", timeoutSeconds=0.2)
    subscriber.answers.append((200, 2.0))
    update(occ)  # answered while the subscriber sleeps
    (entry,) = emulator.wait_for_webhook(UPDATE, outcome="timeout")
    assert entry["delivery"]["attempt"] == 1


def test_an_unknown_failed_message_is_a_404(occ: httpx.Client) -> None:
    r = occ.get("/ccadmin/v1/webhookFailedMessages/299999")
    assert r.status_code == 404
    assert r.json() == {
        "errorCode": "000404",
        "message": "No failed message found with the given id: 299999",
        "status": "404",
    }
