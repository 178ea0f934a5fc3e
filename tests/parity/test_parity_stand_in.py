"""The parity kit against a stand-in for the real vendor (tests/parity/conftest.py): recorded
twice from it, verified against the shipped emulator, configured to it. Verify reports exactly
the stand-in's configuration as differences, naming each setting; `parity config` writes
fixtures that remove them; ids and tokens are absorbed by placeholders; no file written holds
the application key, the admin's login or password, or a token the stand-in issued."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import httpx
import pytest
import yaml

from emulator.resources import FIXTURES_DIR
from tests.parity.conftest import (
    APP_KEY,
    DATA_SIZE_LIMIT_KB,
    PASSWORD,
    TOKEN_LIFETIME,
    USERNAME,
    VALID_SOURCES,
    Tenant,
    parity,
    written,
)

pytestmark = pytest.mark.slow

SIZE_OR_SOURCE = [
    "status",
    "body.statusCode",
    "body.errorCode",
    "body.errorMessage",
    "body.debugMessage",
]
# What differs, from the stand-in's fixtures alone: two sources it refuses, three EMD sizes over
# its 2 KB, and the lifetime every application key's token answer states (its users' tokens
# live the vendor's 15 minutes, as the emulator's do).
EXPECTED = {
    *(
        ("parity.loyalty.extended-data", f"{step} (updateProfile)", path)
        for step in ("source-ppn", "source-supply-manager", "size-3kb", "size-4kb", "size-5kb")
        for path in SIZE_OR_SOURCE
    ),
    ("parity.commerce.login", "login (login)", "body.expires_in"),
    ("parity.commerce.login", "refresh (refresh)", "body.expires_in"),
    ("parity.commerce.profiles", "login (login)", "body.expires_in"),
    ("parity.commerce.profile-errors", "login (login)", "body.expires_in"),
}


@pytest.fixture(scope="module")
def snapshots(tenant: Tenant, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("recorded") / "snapshots"
    for api in ("loyalty", "commerce"):
        done = parity(
            "record",
            "--api",
            api,
            "--target",
            tenant.url,
            "--out",
            str(out),
            "--redact",
            "email",
            env=tenant.env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
    return out


def secrets(tenant: Tenant) -> list[str]:
    """The tenant's credentials and every token it has issued (the tokens from its state)."""
    state = httpx.get(f"{tenant.url}/_emulator/state", timeout=10).text
    tokens = set(re.findall(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", state))
    assert len(tokens) >= 8  # two runs of four logins and their refreshes, at least
    return [APP_KEY, USERNAME, PASSWORD, *tokens]


def differences(junit: Path) -> set[tuple[str, str, str]]:
    found = set()
    for testcase in ET.parse(junit).getroot().iter("testcase"):
        failure = testcase.find("failure")
        if failure is not None:
            for line in (failure.text or "").splitlines():
                if ": vendor " in line:
                    found.add(
                        (
                            testcase.get("classname"),
                            testcase.get("name"),
                            line.split(": vendor ")[0],
                        )
                    )
    return found


def test_record_writes_a_snapshot_per_case_and_no_secret(tenant: Tenant, snapshots: Path) -> None:
    names = sorted(path.name for path in snapshots.iterdir())
    assert names == [
        "commerce.login.json",
        "commerce.profile-errors.json",
        "commerce.profiles.json",
        "commerce.user-login.json",
        "loyalty.enrolment-errors.json",
        "loyalty.extended-data.json",
        "loyalty.member-flow.json",
        "loyalty.profile-errors.json",
        "loyalty.sessions.json",
    ]
    values = secrets(tenant)
    for path, text in written(snapshots).items():
        for value in values:
            assert value not in text, f"{path.name} holds a secret"
        assert "tenant.example" not in text  # the admin's login, however cut
    login = (snapshots / "commerce.login.json").read_text()
    assert '"Authorization": "Bearer <secret:OCC_APP_KEY>"' in login


def test_placeholders_absorb_ids_and_tokens(snapshots: Path) -> None:
    text = "".join(written(snapshots).values())
    assert not re.search(r"se-57\d{4}", text)  # the stand-in's profile ids
    assert not re.search(r"[17]00000\d{4}", text)  # its account and loyalty ids
    profiles = yaml.safe_load((snapshots / "commerce.profiles.json").read_text())
    steps = {step["name"]: step for step in profiles["steps"]}
    created, read = steps["create"], steps["read"]
    assert re.fullmatch(r"<id:\d+>", created["response"]["body"]["id"])
    assert read["request"]["path"] == f"/ccadmin/v1/profiles/{created['response']['body']['id']}"
    assert read["response"]["body"]["repositoryId"] == created["response"]["body"]["id"]
    token = steps["login"]["response"]["body"]["access_token"]
    assert re.fullmatch(r"<secret:\d+>", token)
    assert read["request"]["headers"]["Authorization"] == f"Bearer {token}"
    assert steps["login"]["response"]["body"]["expires_in"] == TOKEN_LIFETIME  # equal twice: kept


def test_verify_reports_exactly_the_tenants_configuration(
    tenant: Tenant, snapshots: Path, tmp_path: Path
) -> None:
    junit = tmp_path / "parity.xml"
    done = parity("verify", "--snapshots", str(snapshots), "--junit", str(junit))
    assert done.returncode == 1, done.stdout + done.stderr
    assert differences(junit) == EXPECTED
    report = done.stdout
    for source in ("PPN", "SUPPLY_MANAGER"):
        assert (
            f"explained by the loyalty setting validSources: the vendor's leaves out {source};"
            in report
        )
    assert (
        "explained by the loyalty setting extendedData.dataSizeLimitKb: the vendor's is at most 2;"
        in report
    )
    assert (
        f"explained by the commerce setting tokenLifetimeSeconds: the vendor's is {TOKEN_LIFETIME};"
        in report
    )
    assert (
        'body.errorMessage: vendor "PPN is not valid extended data source.", emulator (absent)'
        in report
    )
    assert re.search(r"loyalty\.updateProfile +\d+\.\d%  42 step\(s\), 5 differ", report)
    assert re.search(r"loyalty\.enrollMember +100\.0%", report)
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "9"
    assert (
        len(list(root.iter("testcase"))) == 128
    )  # every step of the shipped cases (docs/parity.md: 77 + 51)
    for value in secrets(tenant):
        assert value not in junit.read_text() and value not in report


def test_config_writes_fixtures_that_remove_the_differences(
    tenant: Tenant, snapshots: Path, tmp_path: Path
) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, fixtures)
    for api in ("loyalty", "commerce"):
        done = parity(
            "config",
            "--snapshots",
            str(snapshots),
            "--api",
            api,
            "--out",
            str(fixtures / f"{api}.yaml"),
        )
        assert done.returncode == 0, done.stdout + done.stderr
    loyalty = yaml.safe_load((fixtures / "loyalty.yaml").read_text())
    shipped = yaml.safe_load((FIXTURES_DIR / "loyalty.yaml").read_text())
    assert loyalty["config"] == {
        **shipped["config"],
        "validSources": VALID_SOURCES,
        "extendedData": {
            **shipped["config"]["extendedData"],
            "dataSizeLimitKb": DATA_SIZE_LIMIT_KB,
        },
    }
    assert loyalty["accounts"] == shipped["accounts"]  # the seed data kept
    commerce = yaml.safe_load((fixtures / "commerce.yaml").read_text())
    assert commerce["config"]["tokenLifetimeSeconds"] == TOKEN_LIFETIME
    assert (
        commerce["applications"]
        == yaml.safe_load((FIXTURES_DIR / "commerce.yaml").read_text())["applications"]
    )
    junit = tmp_path / "parity.xml"
    done = parity(
        "verify", "--snapshots", str(snapshots), "--fixtures", str(fixtures), "--junit", str(junit)
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert "passed: 0 step(s) differ" in done.stdout
    assert differences(junit) == set()
    values = secrets(tenant)
    for path, text in written(tmp_path).items():  # the fixture files and the JUnit file
        assert not any(value in text for value in values), path.name


def test_a_skip_file_accepts_differences_with_their_reasons(
    snapshots: Path, tmp_path: Path
) -> None:
    (tmp_path / "skip.yaml").write_text(
        yaml.safe_dump(
            [
                {
                    "case": "extended-data",
                    "step": "s*",
                    "reason": "Our sandbox takes 2 KB and four sources.",
                },
                {
                    "api": "commerce",
                    "case": "*",
                    "path": "body.expires_in",
                    "reason": "Tokens live 10 minutes here.",
                },
                {"case": "member-flow", "step": "enrol", "reason": "Kept from an older tenant."},
            ]
        )
    )
    done = parity("verify", "--snapshots", str(snapshots), "--skip", str(tmp_path / "skip.yaml"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    assert (
        "accepted loyalty.extended-data/size-3kb status: vendor 400, emulator 200: "
        "Our sandbox takes 2 KB and four sources." in done.stdout
    )
    assert (
        "accepted commerce.login/refresh body.expires_in: vendor 600, emulator 300: Tokens live 10 minutes here."
        in done.stdout
    )
    assert "skip file: member-flow/enrol matched no difference" in done.stdout
    assert "29 accepted" in done.stdout
