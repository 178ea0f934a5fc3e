"""Schemathesis against the control API (openapi/control.yaml) on a live server, all checks,
zero failures. (Each vendor spec with each shipped scenario active:
test_schemathesis_scenarios.py.)"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from emulator.server import EmulatorServer
from tests.fuzz.test_schemathesis_loyalty import run_schemathesis

pytestmark = pytest.mark.fuzz

CONTROL_CONFIG = """
# Statuses the control API documents for schema-valid input that still cannot be served:
# the spec can describe the shape of a rule id, scenario name, journal entry id, catalogue
# error name or state collection, not which ones exist on this server.
[[operations]]
include-operation-id = ["removeFault", "activateScenario", "deactivateScenario", "nearMisses"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404"]  # no such rule / scenario / call

[[operations]]
include-operation-id = ["addFault"]
# an `error` not in the catalogue, or an `id` already in use
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-operation-id = ["listRequests", "patchConfig"]
# an `api` filter or a config entry that is no vendor of this server (the spec takes any
# name: the vendors are the server's data), or a setting that vendor lacks
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-operation-id = ["getWebhook", "deleteWebhook"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "404"]  # no subscriber for that id

[[operations]]
include-operation-id = ["putWebhook"]
# a URL this server may not call (a host other than loopback without --webhook-host)
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-operation-id = ["addDeliveryFault"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "409"]  # its 100 rules are there

[[operations]]
include-operation-id = ["advanceClock"]
# its body cap is 1 KiB (`x-max-body-bytes`): a large invalid body is refused 413, before
# any parse, as the spec documents, rather than 400
checks.negative_data_rejection.expected-statuses = ["400", "401", "404", "405", "413", "415"]

[[operations]]
include-operation-id = ["putState"]
# a collection this server does not have, or a document its indexes cannot read
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]
"""


def summary_of(result) -> str:
    return result.stdout[-3000:] + result.stderr[-2000:]


def test_control_spec_fuzzed_with_zero_failures(server: EmulatorServer, tmp_path: Path) -> None:
    config = tmp_path / "control.toml"
    config.write_text(CONTROL_CONFIG)
    namespace = f"fuzz-control-{uuid.uuid4().hex[:8]}"
    result = run_schemathesis(
        "control.yaml",
        f"{server.url}/_emulator",
        config,
        "-H",
        f"X-Emulator-Namespace: {namespace}",
    )
    print(summary_of(result))
    assert result.returncode == 0, summary_of(result)
    assert "No issues found" in result.stdout or " passed" in result.stdout
