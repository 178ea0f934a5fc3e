"""The case format: a case that cannot run is refused at load with its file and field named;
templates keep types; generators make exactly what they say."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from emulator.parity import cases
from emulator.parity.cases import CaseError

STEP = {"name": "s", "operation": "getProfile", "method": "GET", "path": "/client/users/x/profile"}


def case(**changes: object) -> dict:
    return {"name": "c", "api": "loyalty", "steps": [dict(STEP)], **changes}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (case(api="other"), r"test: api: 'other' is not one of \['loyalty', 'commerce'\]"),
        (
            case(steps=[{**STEP, "operation": "deleteProfile"}]),
            r"operation 'deleteProfile' is not one of loyalty's",
        ),
        (
            case(steps=[{**STEP, "path": "/x/${nope}"}]),
            r"steps\[0\] \(s\): \$\{nope\} is not defined before it is used",
        ),
        (case(steps=[{**STEP, "json": {}, "raw": "x"}]), r"give one of json, form and raw"),
        (case(steps=[STEP, STEP]), r"steps\[1\] \(s\): another step has this name"),
        (case(vars={"unique": "x"}), r"vars.unique: 'unique' is a built-in variable"),
        (case(vars={"a": "${env.KEY}"}), r"vars.a: \$\{env.KEY\} is not defined"),
        (case(steps=[{**STEP, "name": "Bad Name"}]), r"steps.0.name: 'Bad Name' does not match"),
        (
            case(steps=[{**STEP, "capture": {"unique": "body.x"}}]),
            r"capture 'unique' would hide a variable",
        ),
    ],
)
def test_a_case_that_cannot_run_is_refused_naming_where(doc: dict, message: str) -> None:
    with pytest.raises(CaseError, match=message):
        cases.from_doc(doc, "test")


def test_a_file_names_its_case_and_two_cases_may_not_share_a_name(tmp_path: Path) -> None:
    (tmp_path / "first.yaml").write_text(
        "api: loyalty\nsteps: [{name: s, operation: getProfile, method: GET, path: /p}]\n"
    )
    assert [c.name for c in cases.load(tmp_path)] == ["first"]
    (tmp_path / "second.yaml").write_text(
        "name: first\napi: loyalty\nsteps: [{name: s, operation: getProfile, method: GET, path: /p}]\n"
    )
    with pytest.raises(CaseError, match="two cases are named 'first'"):
        cases.load(tmp_path)
    (tmp_path / "broken.yaml").write_text("api: [")
    with pytest.raises(CaseError, match=r"broken\.yaml: cannot read it"):
        cases.load(tmp_path / "broken.yaml")


def test_templates_keep_the_type_of_a_whole_reference() -> None:
    scope = {"n": 5, "id": "se-1", "env.KEY": "k"}
    assert cases.expand(
        {"a": "${n}", "b": "x-${n}", "c": ["${id}", "Bearer ${env.KEY}"]}, scope
    ) == {"a": 5, "b": "x-5", "c": ["se-1", "Bearer k"]}
    with pytest.raises(cases.Missing):
        cases.expand("${gone}", scope)


def test_generators_make_exactly_what_they_say() -> None:
    for size in (1024, 5121):
        filled = cases.expand({"$fill": {"bytes": size, "key": "parityProbe"}}, {})
        assert len(orjson.dumps(filled)) == size and list(filled) == ["parityProbe"]
    keys = cases.expand({"$keys": {"count": 21, "prefix": "k", "value": True}}, {})
    assert list(keys)[:2] == ["k01", "k02"] and len(keys) == 21 and set(keys.values()) == {True}
    assert cases.expand({"$text": {"bytes": 101}}, {}) == "x" * 101
