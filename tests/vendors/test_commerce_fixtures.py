"""fixtures/commerce.yaml: validated at load with the file and field named; seeds state and config."""

from __future__ import annotations

import httpx
import pytest

from emulator.app import FIXTURES_DIR
from emulator.fixtures import FixtureError, load_fixture_file
from emulator.server import EmulatorServer
from emulator.vendors.commerce import FIXTURE_SCHEMA, load_fixtures


def test_default_fixtures_load():
    state, config = load_fixtures(load_fixture_file(FIXTURES_DIR / "commerce.yaml", FIXTURE_SCHEMA))
    # docs/decisions.md#10: application-key tokens 5 minutes, user tokens 15; the vendor's
    # shopper profile configuration: duplicate emails not allowed.
    assert config == {
        "authEnabled": True,
        "tokenLifetimeSeconds": 300,
        "userTokenLifetimeSeconds": 900,
        "duplicateEmailsAllowed": False,
    }
    assert list(state["commerce.applications"]) == ["emulator-app-key"]
    assert {"se-570031", "se-570040", "se-570041", "se-570050"} <= set(state["commerce.profiles"])
    assert state["commerce.organizations"]["900010"]["approvalRequired"] is True


@pytest.mark.parametrize(
    "text,where",
    [
        (
            "profiles:\n  - {id: p1, email: a@b.co, roles: [{relativeTo: {id: '1'}}]}\n",
            "profiles[0].roles[0]: ",
        ),
        ("config: {tokenLifetimeSeconds: 0}\n", "config.tokenLifetimeSeconds: "),
        ("applications: [{name: no key}]\n", "applications[0]: "),
        ("profiles:\n  - {id: p1, email: a@b.co, shoeSize: 44}\n", "profiles[0]: "),
    ],
)
def test_a_bad_fixture_names_file_and_field(tmp_path, text, where):
    """The file and the field are the emulator's words; the reason after them is the schema
    validator's own (a required property, a bound, an unknown property), not pinned here."""
    path = tmp_path / "commerce.yaml"
    path.write_text(text)
    with pytest.raises(FixtureError) as raised:
        load_fixture_file(path, FIXTURE_SCHEMA)
    assert str(raised.value).startswith(f"{path}: {where}")
    assert len(str(raised.value)) > len(f"{path}: {where}")


def test_a_fixtures_folder_sets_keys_users_and_switches(tmp_path):
    (tmp_path / "commerce.yaml").write_text(
        "config: {authEnabled: false}\n"
        "applications: [{key: team-key}]\n"
        "profiles:\n  - {id: u-1, email: u@example.com, firstName: U, lastName: One}\n"
    )
    with EmulatorServer(fixtures=tmp_path) as server:
        r = httpx.get(f"{server.url}/ccadmin/v1/profiles/u-1")
        assert r.status_code == 200 and r.json()["id"] == "u-1"  # auth off: no token needed
        assert r.json()["shippingAddresses"] == [] and r.json()["active"] == "true"
