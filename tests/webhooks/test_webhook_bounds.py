"""The bounds of webhook deliveries, and that neither a reset nor the server's shutdown waits
for a slow subscriber."""

from __future__ import annotations

import threading

import httpx
import pytest

from emulator.server import EmulatorServer
from emulator.webhooks import delivery
from emulator.webhooks.envelope import Event
from emulator.webhooks.failed import FailedMessages
from tests.subscriber import Subscriber
from tests.webhooks.conftest import UPDATE, login

HANG_GUARD = 20.0


def event(key: str) -> Event:
    return Event.of("commerce", UPDATE, key, "atg.dps.ProfileUpdate", {"profileId": key})


def test_the_failed_message_log_drops_its_oldest_past_its_bound() -> None:
    log = FailedMessages(limit=2)
    ids = [log.add(event(key), "http://127.0.0.1:1/", 0.0, "x").id for key in "abc"]
    assert [m.id for m in log.items()] == ids[1:]
    assert log.dropped == 1
    assert log.get(ids[0]) is None


def test_past_the_pending_bound_a_message_is_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch, server: EmulatorServer, namespace: str, subscriber: Subscriber
) -> None:
    monkeypatch.setattr(delivery, "MAX_PENDING", 2)
    gate = threading.Event()
    subscriber.on_post = lambda got: gate.wait(HANG_GUARD)  # holds every delivery
    http = login(httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": namespace}))
    try:
        http.put(f"/_emulator/webhooks/{UPDATE}", json={"url": subscriber.url, "secret": "s"})
        for profile in ("se-570031", "se-570041", "se-570050"):
            r = http.put(f"/ccadmin/v1/profiles/{profile}", json={"firstName": "Ada"})
            assert r.status_code == 200, r.text  # the vendor call never waits
        status = http.get("/_emulator/webhooks").json()
        assert (status["pending"], status["dropped"]) == (2, 1)
    finally:
        gate.set()
        http.close()


def test_shutdown_does_not_wait_for_a_slow_subscriber(subscriber: Subscriber) -> None:
    gate, entered = threading.Event(), threading.Event()
    subscriber.on_post = lambda got: (entered.set(), gate.wait(HANG_GUARD))
    server = EmulatorServer().start()
    try:
        http = login(httpx.Client(base_url=server.url))
        http.put(
            f"/_emulator/webhooks/{UPDATE}",
            json={"url": subscriber.url, "secret": "s", "timeoutSeconds": 300},
        )
        http.put("/ccadmin/v1/profiles/se-570031", json={"firstName": "Ada"})
        http.close()
        assert entered.wait(HANG_GUARD)  # the delivery is under way, its answer held
        server.stop()  # gives up joining after 10 s: the thread must be gone by then
        assert not server._thread.is_alive(), "the server's stop waited for the subscriber"
    finally:
        gate.set()
