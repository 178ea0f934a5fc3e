"""A partner's suite that turns warnings into errors (``-W error``, ``filterwarnings = error``)
sees none of ours: its own project in a temporary folder, outside this checkout, with its own
pytest.ini and conftest, the installed plugin, run in a subprocess."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.plugin.partner import partner_session
from tests.plugin.test_plugin_report import FAILING
from tests.plugin.test_pytest_plugin import PARTNER_TESTS, QUIET

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.slow

STRICT_INI = "[pytest]\nfilterwarnings =\n    error\n"
CONFTEST = """
import warnings

def pytest_configure(config):
    warnings.simplefilter("error")  # as strict as a suite can be, from its first import on
"""


def test_a_suite_run_with_warnings_as_errors_sees_none_of_ours(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_session(pytester, tmp_path, monkeypatch, test_partner=PARTNER_TESTS)
    pytester.makeini(STRICT_INI)
    pytester.makeconftest(CONFTEST)
    assert Path.cwd().resolve() not in pytester.path.resolve().parents  # outside the checkout
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    result = pytester.runpytest_subprocess("-W", "error", *QUIET)
    result.assert_outcomes(passed=5)
    # The same suite with warnings left as warnings: not one shown either.
    pytester.makeini("[pytest]\n")
    (pytester.path / "conftest.py").unlink()
    result = pytester.runpytest_subprocess(*QUIET)
    result.assert_outcomes(passed=5, warnings=0)
    assert "warnings summary" not in result.stdout.str()


def test_a_failed_tests_report_raises_no_warning_either(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    partner_session(pytester, tmp_path, monkeypatch, test_failing=FAILING)
    pytester.makeini(STRICT_INI)
    result = pytester.runpytest_subprocess("-W", "error", *QUIET)
    result.assert_outcomes(passed=1, failed=2, warnings=0)  # the failures are the tests' own
    assert "Warning" not in result.stdout.str()
