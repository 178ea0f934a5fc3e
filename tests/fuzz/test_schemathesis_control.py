"""Schemathesis against the control API (openapi/control.yaml) on a live server, all checks,
zero failures; and the loyalty spec once more with a fault scenario active, every response
still inside the contract."""
from __future__ import annotations

import uuid
from pathlib import Path

from emulator.client import Emulator
from emulator.server import EmulatorServer
from tests.fuzz.test_schemathesis_loyalty import run_schemathesis

CONTROL_CONFIG = """
# Statuses the control API documents for schema-valid input that still cannot be served:
# the spec can describe the shape of a rule id, scenario name, catalogue error name or
# state collection, not which ones exist on this server.
[[operations]]
include-operation-id = ["removeFault", "activateScenario", "deactivateScenario"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404"]  # no such rule / scenario

[[operations]]
include-operation-id = ["addFault"]
# an `error` not in the catalogue, or an `id` already in use
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-operation-id = ["putState"]
# a collection this server does not have, or a document its indexes cannot read
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]
"""

UNSTABLE_LOYALTY_CONFIG = """
# loyalty.toml's expectations, plus the 503 that the active `loyalty-unstable` scenario
# sends on one call in ten. Faults are decided after routing and before validation (an
# outage does not read the request), so the 503 may answer valid and invalid input alike;
# it is documented on every loyalty operation, and every other 5xx still fails the run.
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "400", "404", "503"]

[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]
"""


def summary_of(result) -> str:
    return result.stdout[-3000:] + result.stderr[-2000:]


def test_control_spec_fuzzed_with_zero_failures(server: EmulatorServer, tmp_path: Path) -> None:
    config = tmp_path / "control.toml"
    config.write_text(CONTROL_CONFIG)
    namespace = f"fuzz-control-{uuid.uuid4().hex[:8]}"
    result = run_schemathesis("control.yaml", f"{server.url}/_emulator", config,
                              "-H", f"X-Emulator-Namespace: {namespace}")
    print(summary_of(result))
    assert result.returncode == 0, summary_of(result)
    assert "No issues found" in result.stdout or " passed" in result.stdout


def test_loyalty_spec_fuzzed_with_a_scenario_active_stays_inside_the_contract(
        server: EmulatorServer, tmp_path: Path) -> None:
    config = tmp_path / "loyalty-unstable.toml"
    config.write_text(UNSTABLE_LOYALTY_CONFIG)
    with Emulator(server.url, f"fuzz-unstable-{uuid.uuid4().hex[:8]}") as emulator:
        emulator.activate("loyalty-unstable")
        result = run_schemathesis("loyalty.yaml", f"{server.url}/client", config,
                                  "-H", f"X-Emulator-Namespace: {emulator.namespace}")
        print(summary_of(result))
        assert result.returncode == 0, summary_of(result)
        injected = emulator.requests(status=503)
        assert injected and all(r["rule"] == "s-loyalty-unstable-1" for r in injected)
        assert len(emulator.requests()) > 5 * len(injected)  # about one call in ten
        emulator.reset()
