"""The shipped cases are runnable documentation: each runs against the shipped emulator and
every step answers as the case says (status, and the whole body where the case writes it,
from the seeds and the specs' examples); together they provoke every error of both
catalogues except those docs/parity.md lists, each with its reason."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from emulator.parity import cases, runner, settings
from emulator.server import EmulatorServer
from emulator.vendors import VENDORS

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [case for api in ("loyalty", "commerce") for case in cases.shipped(api)]


@pytest.mark.parametrize("case", SHIPPED, ids=[f"{c.api}.{c.name}" for c in SHIPPED])
def test_every_step_answers_as_the_case_documents(server: EmulatorServer, case: cases.Case) -> None:
    env = runner.environment(case, {}, emulator=True)
    with httpx.Client(base_url=server.url, timeout=30) as client:
        run = runner.run(case, client, env, namespace=f"t-{case.name}")
    assert run.stopped is None
    assert [e.step for e in run.exchanges] == [s.name for s in case.steps]
    scope = {**run.values, **{f"env.{k}": v for k, v in env.items()}}
    for exchange in run.exchanges:
        expect = case.step(exchange.step).expect
        assert expect is not None, f"{exchange.step}: a shipped step documents its answer"
        answer = exchange.response
        assert answer["status"] == expect["status"], (exchange.step, answer)
        if "body" in expect:
            assert answer["body"] == cases.expand(expect["body"], scope), exchange.step


def test_the_cases_provoke_every_error_but_those_the_docs_list(server: EmulatorServer) -> None:
    catalogue = {e["name"]: e["status"] for e in httpx.get(f"{server.url}/_emulator/errors").json()}
    provoked = {}
    for case in SHIPPED:
        for step in case.steps:
            if step.expect and "error" in step.expect:
                provoked[step.expect["error"]] = step.expect["status"]
    assert {name: catalogue.get(name) for name in provoked} == provoked  # names and statuses
    text = (ROOT / "docs" / "parity.md").read_text(encoding="utf-8")
    section = text.split("## What the cases cannot provoke", 1)[1].split("\n## ", 1)[0]
    listed = dict(re.findall(r"^\| `([\w.]+)` \| (.+?) \|$", section, re.M))
    assert all(reason.strip() for reason in listed.values())
    assert set(provoked) & set(listed) == set()
    assert set(provoked) | set(listed) == set(catalogue)


def leaves(schema: dict, prefix: str = "") -> list[str]:
    """The settings of a configuration schema, dotted (``extendedData.dataSizeLimitKb``)."""
    found = []
    for name, prop in schema.get("properties", {}).items():
        if prop.get("type") == "object":
            found += leaves(prop, f"{prefix}{name}.")
        else:
            found.append(f"{prefix}{name}")
    return found


def test_each_probe_names_a_setting_and_the_docs_table_names_every_setting() -> None:
    probed = set()
    for case in SHIPPED:
        for step in case.steps:
            if step.probe is not None:
                assert settings.schema_of(case.api, step.probe["setting"]), (case.name, step.name)
                probed.add(f"{case.api} `{step.probe['setting']}`")
    text = (ROOT / "docs" / "parity.md").read_text(encoding="utf-8")
    table = dict(re.findall(r"^\| (\w+ `[\w.]+`) \| (.+?) \|", text, re.M))
    every = {f"{v.name} `{leaf}`" for v in VENDORS for leaf in leaves(dict(v.config_schema))}
    assert set(table) == every  # a new setting: a probe in a case, or a reason, in the table
    assert {name for name, how in table.items() if how != "not probed"} == probed


def test_the_shipped_case_counts_are_those_the_docs_give() -> None:
    text = (ROOT / "docs" / "parity.md").read_text(encoding="utf-8")
    for api in ("loyalty", "commerce"):
        found = [case for case in SHIPPED if case.api == api]
        steps = sum(len(case.steps) for case in found)
        assert f"| {api} | {len(found)} | {steps} |" in text
