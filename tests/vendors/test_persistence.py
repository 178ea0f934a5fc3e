"""--data-file: state survives a restart of the server."""
from __future__ import annotations

import json
from pathlib import Path

import httpx

from emulator.server import EmulatorServer

VALID = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10", "gender": "F",
         "email": "ada.persisted@example.com", "postalZipCode": "H0H 0H0"}


def test_state_survives_restart(tmp_path: Path):
    data_file = tmp_path / "emulator.json"
    with EmulatorServer(data_file=data_file) as server:
        headers = {"X-Emulator-Namespace": "persisted"}
        account = httpx.post(server.url + "/client/users", json=VALID, headers=headers).json()
        httpx.post(f"{server.url}/client/users/{account['accountId']}/sessions",
                   json={"correlationId": "keep-me", "channel": "APP"}, headers=headers)
    saved = json.loads(data_file.read_text())
    assert account["accountId"] in saved["namespaces"]["persisted"]["loyalty.accounts"]
    with EmulatorServer(data_file=data_file) as server:
        r = httpx.get(server.url + "/client/users/keep-me/profile", headers=headers)
        assert r.status_code == 200 and r.json()["email"] == "ada.persisted@example.com"
        # the unique email index was rebuilt from the file
        r = httpx.post(server.url + "/client/users", json=VALID, headers=headers)
        assert r.json()["errorCode"] == "EMAIL_ALREADY_EXISTS"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.json"]
