"""Fixture files: state is plain JSON, whatever YAML allows."""

from __future__ import annotations

import pytest

from emulator.fixtures import FixtureError, load_fixture_file
from emulator.vendors.loyalty import FIXTURE_SCHEMA


@pytest.mark.parametrize("number", [".nan", ".inf", "-.inf"])
def test_nan_and_infinity_are_refused_where_the_schema_lets_any_value_in(tmp_path, number):
    path = tmp_path / "loyalty.yaml"
    path.write_text(
        "accounts:\n  - accountId: '1'\n    loyaltyId: '2'\n"
        "    profile: {firstName: A, email: a@b.co}\n"
        f"    extendedData: {{MARKETING: {{score: {number}}}}}\n"
    )
    with pytest.raises(FixtureError) as raised:
        load_fixture_file(path, FIXTURE_SCHEMA)
    assert str(raised.value) == (
        f"{path}: accounts[0].extendedData.MARKETING.score: NaN and Infinity are not JSON numbers"
    )
