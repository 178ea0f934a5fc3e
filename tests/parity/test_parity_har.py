"""A HAR capture as the recording: a client's calls to the stand-in tenant, captured as a proxy
would, become a case and its snapshot; verify replays it (ids and tokens captured from the
answers that gave them), and nothing written holds the key, a token or a redacted e-mail."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.parity.conftest import APP_KEY, Tenant, clean_env, parity, written

pytestmark = pytest.mark.slow


class Capture:
    """An HTTP client that keeps every call as a HAR entry."""

    def __init__(self, base_url: str) -> None:
        self.entries: list[dict[str, Any]] = []
        self.client = httpx.Client(
            base_url=base_url, timeout=10, event_hooks={"response": [self._keep]}
        )

    def _keep(self, response: httpx.Response) -> None:
        response.read()
        request = response.request
        entry: dict[str, Any] = {
            "startedDateTime": "2026-12-01T08:00:00.000Z",
            "request": {
                "method": request.method,
                "url": str(request.url),
                "headers": [{"name": k, "value": v} for k, v in request.headers.items()],
            },
            "response": {
                "status": response.status_code,
                "headers": [{"name": k, "value": v} for k, v in response.headers.items()],
                "content": {
                    "mimeType": response.headers.get("content-type", ""),
                    "text": response.text,
                },
            },
        }
        if request.content:
            entry["request"]["postData"] = {
                "mimeType": request.headers.get("content-type", ""),
                "text": request.content.decode(),
            }
        self.entries.append(entry)

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps({"log": {"version": "1.2", "entries": self.entries}}))
        return path


@pytest.fixture
def capture(tenant: Tenant) -> Iterator[Capture]:
    """A Capture of calls to the tenant, its client closed at the end of the test."""
    made = Capture(tenant.url)
    yield made
    made.client.close()


def test_a_har_capture_of_commerce_calls_is_recorded_and_verified(
    tenant: Tenant, capture: Capture, tmp_path: Path
) -> None:
    email = "jack.capture@example.com"
    login = capture.client.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Bearer {APP_KEY}"},
    )
    token = login.json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    created = capture.client.post(
        "/ccadmin/v1/profiles",
        json={"firstName": "Jack", "lastName": "Black", "email": email},
        headers=bearer,
    )
    profile = created.json()["id"]
    capture.client.get(f"/ccadmin/v1/profiles/{profile}", headers=bearer)
    capture.client.put(
        f"/ccadmin/v1/profiles/{profile}", json={"receiveEmail": "maybe"}, headers=bearer
    )
    capture.client.get("/_emulator/health")  # not the API's: left out
    har = capture.save(tmp_path / "Session Capture.har")
    out = tmp_path / "snapshots"

    done = parity(
        "record", "--api", "commerce", "--har", str(har), "--out", str(out), "--redact", "email"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    snapshot = json.loads((out / "commerce.har-session-capture.json").read_text())
    assert [s["operation"] for s in snapshot["steps"]] == [
        "login",
        "createProfile",
        "getProfile",
        "updateProfile",
    ]
    steps = snapshot["definition"]["steps"]
    assert steps[0]["headers"]["authorization"] == "Bearer ${env.OCC_APP_KEY}"
    assert (
        steps[2]["path"] == "/ccadmin/v1/profiles/${v2}"
        and steps[2]["headers"]["authorization"] == "Bearer ${v1}"
    )
    for path, text in written(out).items():
        for secret in (APP_KEY, token, email, profile):
            assert secret not in text, path.name

    replay = parity(
        "verify",
        "--snapshots",
        str(out),
        "--target",
        tenant.url,
        env={**clean_env(), "OCC_APP_KEY": APP_KEY},
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "passed: 0 step(s) differ" in replay.stdout
    against_shipped = parity(
        "verify", "--snapshots", str(out)
    )  # the shipped emulator: 5-minute tokens
    assert against_shipped.returncode == 1
    assert re.findall(r"^  (\S+): vendor", against_shipped.stdout, re.M) == ["body.expires_in"]


def test_a_har_capture_of_loyalty_calls_keeps_the_authorization_off_the_disk(
    tenant: Tenant, capture: Capture, tmp_path: Path
) -> None:
    header = {"Authorization": "Basic dGVuYW50OnMzY3JldC1sb3lhbHR5"}
    enrolled = capture.client.post(
        "/client/users",
        headers=header,
        json={
            "firstName": "Ada",
            "lastName": "Lovelace",
            "dateOfBirth": "1985-12-10",
            "gender": "F",
            "email": "ada.capture@example.com",
            "postalZipCode": "H0H 0H0",
        },
    )
    account = enrolled.json()["accountId"]
    capture.client.post(
        f"/client/users/{account}/sessions",
        headers=header,
        json={"correlationId": "capture-session-1", "channel": "APP"},
    )
    capture.client.get("/client/users/capture-session-1/profile", headers=header)
    har = capture.save(tmp_path / "loyalty.har")
    out = tmp_path / "snapshots"

    done = parity("record", "--api", "loyalty", "--har", str(har), "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    for path, text in written(out).items():
        assert "dGVuYW50OnMzY3JldC1sb3lhbHR5" not in text, path.name
        assert account not in text, path.name
    steps = json.loads((out / "loyalty.har-loyalty.json").read_text())["definition"]["steps"]
    assert steps[0]["headers"]["authorization"] == "${env.LOYALTY_AUTHORIZATION}"
    assert steps[1]["path"] == "/client/users/${v1}/sessions"

    replay = parity(
        "verify",
        "--snapshots",
        str(out),
        "--target",
        tenant.url,
        env={**clean_env(), "LOYALTY_AUTHORIZATION": "Basic other"},
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
