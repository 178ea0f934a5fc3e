"""Unit tests of scenario files (emulator/scenarios.py): reading, checking, naming the file
and the field; no HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.rules import RuleError
from emulator.scenarios import Scenario, load_scenario_file, load_scenarios
from tests.fault_rules import KNOWN, names

# --- scenario files ---------------------------------------------------------------------------


FLAKY = """\
name: flaky
description: Commerce drops one call in ten.
rules:
  - match: {api: commerce}
    fault: connection_reset
    probability: 0.1
  - delay: {uniform: [10, 50]}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_load_scenario_file(tmp_path: Path) -> None:
    scenario = load_scenario_file(write(tmp_path, "flaky.yaml", FLAKY), known_errors=KNOWN)
    assert scenario == Scenario(
        name="flaky",
        description="Commerce drops one call in ten.",
        rules=[
            {"match": {"api": "commerce"}, "fault": "connection_reset", "probability": 0.1},
            {"delay": {"uniform": [10, 50]}},
        ],
    )
    parsed = scenario.parse_rules(known_errors=KNOWN)
    assert [r.fault for r in parsed] == ["connection_reset", None]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FLAKY.replace("probability: 0.1", "probability: 2"), "flaky.yaml: rules[0].probability: "),
        (
            FLAKY.replace("fault: connection_reset", "error: loyalty.NOPE"),
            "flaky.yaml: rules[0].error: unknown error",
        ),
        (
            FLAKY.replace("[10, 50]", "[50, 10]"),
            "flaky.yaml: rules[1].delay.uniform: lower bound 50",
        ),
        (
            FLAKY.replace("description: Commerce drops one call in ten.\n", ""),
            "flaky.yaml: description: required field is missing",
        ),
        (
            FLAKY.replace("name: flaky", "name: other"),
            "flaky.yaml: name: 'other' must equal the file name 'flaky'",
        ),
        (
            FLAKY + "extra: 1\n",
            "flaky.yaml: extra: unknown field; expected one of: description, name, rules",
        ),
        (FLAKY.replace("  - delay: {uniform: [10, 50]}\n", "  - 3\n"), "flaky.yaml: rules[1]: "),
        ("", "flaky.yaml: "),
        ("name: [unclosed\n", "flaky.yaml: not valid YAML"),
        ("!!python/object/apply:os.system ['true']\n", "flaky.yaml: not valid YAML"),
    ],
)
def test_scenario_file_errors_name_file_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, "flaky.yaml", text)
    with pytest.raises(RuleError) as caught:
        load_scenario_file(path, known_errors=KNOWN)
    assert str(caught.value).startswith(str(tmp_path))
    names(message, str(caught.value))


def test_scenario_name_must_be_safe(tmp_path: Path) -> None:
    path = write(tmp_path, "bad name.yaml", FLAKY.replace("name: flaky", "name: bad name"))
    with pytest.raises(RuleError) as caught:
        load_scenario_file(path, known_errors=KNOWN)
    names("bad name.yaml: name: ", str(caught.value))  # the reason is jsonschema's (a pattern)


def test_load_scenarios_reads_a_folder(tmp_path: Path) -> None:
    write(tmp_path, "flaky.yaml", FLAKY)
    write(tmp_path, "slow.yml", "name: slow\ndescription: Slow.\nrules:\n  - delayMs: 100\n")
    write(tmp_path, "notes.txt", "not a scenario")
    scenarios = load_scenarios(tmp_path, known_errors=KNOWN)
    assert sorted(scenarios) == ["flaky", "slow"]
    assert scenarios["slow"].rules == [{"delayMs": 100}]
    assert load_scenarios(tmp_path / "missing", known_errors=KNOWN) == {}


def test_load_scenarios_refuses_duplicates_and_reports_the_bad_file(tmp_path: Path) -> None:
    write(tmp_path, "flaky.yaml", FLAKY)
    write(tmp_path, "flaky.yml", FLAKY)
    with pytest.raises(RuleError, match="defined twice"):
        load_scenarios(tmp_path, known_errors=KNOWN)
    (tmp_path / "flaky.yml").unlink()
    write(tmp_path, "broken.yaml", "name: broken\ndescription: x\nrules: [{}]\n")
    with pytest.raises(RuleError, match=r"broken.yaml: rules\[0\]: a rule needs an action"):
        load_scenarios(tmp_path, known_errors=KNOWN)
