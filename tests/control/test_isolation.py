"""Namespaces isolate state, rules, scenarios, journal and config, also under parallel calls."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.control.conftest import LOYALTY_PROFILE

WORKERS = 8
CALLS = 25


def test_parallel_tests_in_their_own_namespaces_see_only_their_own_faults_and_journal(
    server: EmulatorServer,
) -> None:
    tag = uuid.uuid4().hex[:8]
    emulators = [Emulator(server.url, f"iso-{tag}-{n}") for n in range(WORKERS)]
    for n, emulator in enumerate(emulators):
        if n % 2:  # odd namespaces answer with their own number; even ones are served normally
            emulator.inject(
                respond={"status": 200, "body": {"namespace": n}}, operation="getProfile"
            )
        else:
            emulator.config(loyalty={"mandatoryFields": [f"field{n}"]})

    def run(n: int) -> list[object]:
        with httpx.Client(base_url=server.url, headers=emulators[n].headers, timeout=10) as http:
            seen = []
            for _ in range(CALLS):
                seen.append(http.get(LOYALTY_PROFILE).json())
                seen.append(http.put(LOYALTY_PROFILE, json={}).json().get("errorMessage"))
            return seen

    with ThreadPoolExecutor(WORKERS) as pool:
        results = list(pool.map(run, range(WORKERS)))

    for n, (emulator, seen) in enumerate(zip(emulators, results, strict=True)):
        profiles, messages = seen[0::2], seen[1::2]
        if n % 2:
            assert profiles == [{"namespace": n}] * CALLS
        else:
            assert all(p["firstName"] == "Ada" for p in profiles)
            assert messages == [f"The following missing fields are mandatory: field{n}"] * CALLS
        journal = emulator.requests()
        assert len(journal) == 2 * CALLS
        assert {e["headers"]["x-emulator-namespace"] for e in journal} == {emulator.namespace}
        assert [r["matched"] for r in emulator.rules()] == ([CALLS] if n % 2 else [])
        emulator.reset()
        emulator.close()


def test_state_scenarios_and_config_do_not_leak_between_namespaces(server: EmulatorServer) -> None:
    tag = uuid.uuid4().hex[:8]
    with (
        Emulator(server.url, f"a-{tag}") as a,
        Emulator(server.url, f"b-{tag}") as b,
        httpx.Client(base_url=server.url, headers=a.headers) as http_a,
        httpx.Client(base_url=server.url, headers=b.headers) as http_b,
    ):
        r = http_a.post(
            "/client/users/1000000001/sessions", json={"correlationId": "only-a", "channel": "APP"}
        )
        assert r.status_code == 201
        a.activate("loyalty-email-taken")
        a.config(seed=77)
        assert http_a.get("/client/users/only-a/profile").status_code == 200
        assert http_b.get("/client/users/only-a/profile").status_code != 200
        assert "only-a" not in b.state()["loyalty.sessions"]
        assert not any(s["active"] for s in b.scenarios())
        assert b.config()["seed"] == 0 and b.rules() == []
        assert len(a.requests()) == 2 and len(b.requests()) == 1
        a.reset()
        b.reset()
