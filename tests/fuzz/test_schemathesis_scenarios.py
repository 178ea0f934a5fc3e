"""Schemathesis (all checks, all phases) on each vendor spec with each shipped scenario active.

A scenario may only change what a call that passed the vendor's own checks gets
(docs/decisions.md#11): its intended statuses are allowed where a valid call is answered, and
nowhere else, so
`negative_data_rejection` (invalid input still gets the vendor's 4xx) and `ignored_auth` (a
call without a token still gets 401) hold with every scenario on. Transport faults end a
call without any status: for those scenarios the only errors allowed are the dropped or
held connections themselves, and no check may fail.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from emulator.app import FIXTURES_DIR
from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.fuzz.test_schemathesis_loyalty import run_schemathesis

pytestmark = pytest.mark.fuzz

SCENARIOS = {
    path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in sorted((FIXTURES_DIR / "scenarios").glob("*.yaml"))
}
BASE = {"loyalty": "/client", "commerce": "/ccadmin/v1"}
# What a schema-valid call may get from the vendor itself (its business rules,
# docs/decisions.md#8; commerce: a token that does not fit the operation, e.g. login takes
# the app key).
VENDOR_STATUSES = {"loyalty": ["2xx", "400", "404"], "commerce": ["2xx", "400", "401", "404"]}
TRANSPORT_ERRORS = {
    "connection_reset": ("Connection reset by peer", "Connection aborted"),
    "empty_response": ("Connection aborted", "RemoteDisconnected"),
    "timeout": ("Read timed out", "timed out"),
}


def apis_of(scenario: dict[str, Any]) -> set[str]:
    apis: set[str] = set()
    for rule in scenario["rules"]:
        api = rule.get("match", {}).get("api") or (rule.get("error") or "").partition(".")[0]
        apis |= {api} if api else set(BASE)
    return apis


CASES = [(name, api) for name, scenario in SCENARIOS.items() for api in sorted(apis_of(scenario))]


def intended(
    scenario: dict[str, Any], api: str, catalogue: dict[str, int]
) -> tuple[set[int], set[str]]:
    """The statuses and transport faults the scenario's rules send on this API."""
    statuses, faults = set(), set()
    for rule in scenario["rules"]:
        if rule.get("match", {}).get("api", api) != api:
            continue
        if "error" in rule and rule["error"].startswith(f"{api}."):
            statuses.add(catalogue[rule["error"]])
        elif "respond" in rule:
            statuses.add(rule["respond"]["status"])
        elif "fault" in rule:
            faults.add(rule["fault"])
    return statuses, faults


def junit_problems(path: Path) -> tuple[list[str], list[str]]:
    """(check failures, errors) reported in a schemathesis JUnit file."""
    failures, errors = [], []
    for case in ElementTree.parse(path).iter("testcase"):
        for child in case:
            text = f"{case.get('name')}: {child.get('message') or ''} {child.text or ''}"
            if child.tag == "failure":
                failures.append(text)
            elif child.tag == "error":
                errors.append(text)
    return failures, errors


@pytest.mark.parametrize(("scenario", "api"), CASES, ids=[f"{s}-{a}" for s, a in CASES])
def test_each_scenario_leaves_auth_and_validation_to_the_vendor(
    server: EmulatorServer, tmp_path: Path, scenario: str, api: str
) -> None:
    catalogue = {e["name"]: e["status"] for e in httpx.get(f"{server.url}/_emulator/errors").json()}
    statuses, faults = intended(SCENARIOS[scenario], api, catalogue)
    accepted = VENDOR_STATUSES[api] + sorted(str(s) for s in statuses)
    server_errors = ["2xx", "3xx", "4xx", *sorted(str(s) for s in statuses if s >= 500)]
    config = tmp_path / "scenario.toml"
    config.write_text(
        f"[checks.positive_data_acceptance]\nexpected-statuses = {accepted!r}\n"
        f"[checks.not_a_server_error]\nexpected-statuses = {server_errors!r}\n".replace("'", '"')
    )
    namespace = f"fuzz-{scenario}-{uuid.uuid4().hex[:6]}"
    extra: list[str] = []
    with Emulator(server.url, namespace) as emulator:
        if api == "commerce":
            emulator.config(commerce={"tokenLifetimeSeconds": 3600})
            token = httpx.post(
                f"{server.url}/ccadmin/v1/login",
                data={"grant_type": "client_credentials"},
                headers={
                    "Authorization": "Bearer emulator-app-key",
                    "X-Emulator-Namespace": namespace,
                },
            ).json()["access_token"]
            extra += ["-H", f"Authorization: Bearer {token}"]
        if any(rule.get("delay") or rule.get("delayMs") for rule in SCENARIOS[scenario]["rules"]):
            # Latency only (a quarter of a second a call): fewer calls, in parallel. The
            # coverage and stateful phases do not take --max-examples; they would run minutes.
            extra += ["--max-examples", "3", "--workers", "4", "--phases", "examples,fuzzing"]
        if "timeout" in faults:
            extra += ["--request-timeout", "2"]  # the held call ends when the client gives up
        emulator.activate(scenario)
        report = tmp_path / "junit.xml"
        result = run_schemathesis(
            f"{api}.yaml",
            server.url + BASE[api],
            config,
            "-H",
            f"X-Emulator-Namespace: {namespace}",
            *extra,
            "--report",
            "junit",
            "--report-junit-path",
            str(report),
        )
        summary = result.stdout[-4000:] + result.stderr[-2000:]
        cases = next(
            (line.strip() for line in result.stdout.splitlines()[::-1] if " generated" in line),
            "no test cases",
        )
        print(f"\n{scenario} on {api}: {cases}")
        failures, errors = junit_problems(report)
        assert failures == [], summary
        allowed = tuple(text for fault in faults for text in TRANSPORT_ERRORS[fault])
        unexpected = [e for e in errors if not (allowed and any(a in e for a in allowed))]
        assert unexpected == [], summary
        if not faults:
            assert result.returncode == 0, summary
        fired = sum(rule["fired"] for rule in emulator.rules() if rule.get("scenario") == scenario)
        assert fired > 0, f"{scenario} never acted: the run proves nothing\n{summary}"
        injected = [e for e in emulator.requests() if e["rule"] and e["rule"].startswith("s-")]
        assert {e["status"] for e in injected} <= statuses | {None}
        emulator.reset()
