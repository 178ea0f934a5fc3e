"""Fixtures shared by the vendor tests."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture
def occ(http: httpx.Client) -> httpx.Client:
    """The test's client (its own namespace), logged in to OCC with the application key."""
    r = http.post(
        "/ccadmin/v1/login",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": "Bearer emulator-app-key"},
    )
    assert r.status_code == 200, r.text
    http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    return http
