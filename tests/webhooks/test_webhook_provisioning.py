"""A partner's provisioning script configures the webhook with OCC's own calls ("Use the
REST API to configure webhooks": updateWebHook, getWebHook with includeSecretKeys), and a
team's fixtures folder can hold the subscribers (webhooks.yaml); the server calls out only
to loopback unless started with --webhook-host."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import httpx
import pytest

from emulator.client import Emulator
from emulator.resources import FIXTURES_DIR
from emulator.server import EmulatorServer
from tests.subscriber import Subscriber
from tests.webhooks.conftest import UPDATE, login

PROFILE = "se-570031"


def test_update_web_hook_then_the_key_signs_the_messages(
    occ: httpx.Client, subscriber: Subscriber, emulator: Emulator
) -> None:
    r = occ.put(f"/ccadmin/v1/webhooks/{UPDATE}", json={"urls": [subscriber.url]})
    assert r.status_code == 200, r.text
    assert r.json()["urls"] == [subscriber.url]
    assert r.json()["secretKeySHA512"] is None  # only with includeSecretKeys=true
    shown = occ.get(f"/ccadmin/v1/webhooks/{UPDATE}", params={"includeSecretKeys": "true"})
    key = shown.json()["secretKeySHA512"]
    assert key and shown.json()["maxNumberOfResendAttempts"] == 5
    assert shown.json()["resendDelaySeconds"] == 3600
    occ.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": "Ada"})
    (got,) = subscriber.wait_for(1)
    mac = base64.b64encode(hmac.new(key.encode(), got.body, hashlib.sha512).digest()).decode()
    assert got.headers["x-oracle-cc-webhook-signature"] == mac
    assert emulator.webhooks()["subscribers"][0]["url"] == subscriber.url


def test_update_web_hook_refuses_a_non_loopback_url(occ: httpx.Client) -> None:
    r = occ.put(f"/ccadmin/v1/webhooks/{UPDATE}", json={"urls": ["http://example.com/x"]})
    assert r.status_code == 400
    assert r.json()["errorCode"] == "22007"
    assert occ.get(f"/ccadmin/v1/webhooks/{UPDATE}").json()["urls"] == []


def test_an_unknown_webhook_is_a_404(occ: httpx.Client) -> None:
    r = occ.get("/ccadmin/v1/webhooks/production-submitOrder")
    assert r.status_code == 404
    assert r.json() == {
        "errorCode": "000404",
        "message": "No webhook found with the given id: production-submitOrder",
        "status": "404",
    }


def test_the_webhook_calls_need_a_token(http: httpx.Client) -> None:
    assert http.get(f"/ccadmin/v1/webhooks/{UPDATE}").status_code == 401
    assert http.get("/ccadmin/v1/webhookFailedMessages").status_code == 401


def fixtures_with(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "fixtures"
    folder.mkdir()
    for name in ("loyalty.yaml", "commerce.yaml"):
        (folder / name).write_bytes((FIXTURES_DIR / name).read_bytes())
    (folder / "webhooks.yaml").write_text(text)
    return folder


def test_the_fixtures_subscribers_are_every_namespace_s(
    tmp_path: Path, subscriber: Subscriber
) -> None:
    folder = fixtures_with(
        tmp_path,
        f"subscribers:\n  {UPDATE}:\n    url: {subscriber.url}\n    secret: s3cret\n",
    )
    with EmulatorServer(fixtures=folder) as server:
        clients = [
            login(httpx.Client(base_url=server.url, headers={"X-Emulator-Namespace": name}))
            for name in ("a", "b")
        ]
        for http, name in zip(clients, ("a", "b"), strict=True):
            assert http.put(f"/ccadmin/v1/profiles/{PROFILE}", json={"firstName": name})
        got = subscriber.wait_for(2)
        http = clients[0]
        http.delete(f"/_emulator/webhooks/{UPDATE}")
        assert http.get("/_emulator/webhooks").json()["subscribers"] == []
        http.post("/_emulator/reset")  # back to the fixtures' subscriber
        assert http.get("/_emulator/webhooks").json()["subscribers"][0]["url"] == subscriber.url
        for client in clients:
            client.close()
    assert sorted(g.json()["profile"]["firstName"] for g in got) == ["a", "b"]


def test_a_fixture_subscriber_off_loopback_stops_the_start(tmp_path: Path) -> None:
    folder = fixtures_with(
        tmp_path, f"subscribers:\n  {UPDATE}:\n    url: http://example.com/x\n    secret: s\n"
    )
    from emulator.app import create_app
    from emulator.fixtures import FixtureError

    with pytest.raises(FixtureError, match=r"webhooks.yaml: subscribers\.production-updateProfile"):
        create_app(folder)
    assert create_app(folder, webhook_hosts=frozenset({"example.com"}))
