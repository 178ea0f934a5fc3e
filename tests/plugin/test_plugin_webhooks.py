"""docs/webhooks.md's partner loop, run as a partner team runs it: its code block is a test
file for the installed pytest plugin (its `emulator` fixture, `subscribe`,
`wait_for_webhook`, `assert_called`)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow
QUIET = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")
DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"


def test_the_documented_partner_loop_passes(pytester: pytest.Pytester) -> None:
    section = DOC.read_text(encoding="utf-8").split("## Example: the partner loop", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S)
    assert code is not None, "docs/webhooks.md lost its partner loop example"
    pytester.makepyfile(test_partner_loop=code.group(1))
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=1)
