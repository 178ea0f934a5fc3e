"""JUnit XML for CI: one testcase per step of a case, its differences as the failure."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from emulator.files import write_atomically


@dataclass
class Testcase:
    classname: str  # parity.<api>.<case>
    name: str  # <step> (<operation>)
    failure: str | None = None  # the differences, one a line
    skipped: str | None = None  # why the step was not compared
    output: str = ""  # accepted differences, explanations


def document(suite: str, testcases: list[Testcase]) -> str:
    root = ET.Element("testsuites", name=suite)
    by_class: dict[str, list[Testcase]] = {}
    for testcase in testcases:
        by_class.setdefault(testcase.classname, []).append(testcase)
    for classname, members in by_class.items():
        element = ET.SubElement(
            root,
            "testsuite",
            name=classname,
            tests=str(len(members)),
            failures=str(sum(t.failure is not None for t in members)),
            skipped=str(sum(t.skipped is not None for t in members)),
            errors="0",
        )
        for testcase in members:
            case = ET.SubElement(element, "testcase", classname=classname, name=testcase.name)
            if testcase.failure is not None:
                first = testcase.failure.splitlines()[0] if testcase.failure else "differs"
                failure = ET.SubElement(case, "failure", message=first, type="parity")
                failure.text = testcase.failure
            elif testcase.skipped is not None:
                ET.SubElement(case, "skipped", message=testcase.skipped)
            if testcase.output:
                ET.SubElement(case, "system-out").text = testcase.output
    root.set("tests", str(len(testcases)))
    root.set("failures", str(sum(t.failure is not None for t in testcases)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write(
    path: Path, suite: str, testcases: list[Testcase], check: Callable[[str, str], None]
) -> None:
    """Write the report; ``check(text, where)`` refuses one that holds a secret."""
    text = document(suite, testcases)
    check(text, str(path))
    write_atomically(path, lambda handle: handle.write(text))
