"""A stand-in for a partner's tenant of the real vendor: an emulator started with other
fixtures (other valid EMD sources, a smaller EMD size limit, longer tokens, its own
application key and admin credentials), and `profile-emulator parity` run as a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from emulator.resources import FIXTURES_DIR
from emulator.server import EmulatorServer

PARITY = [sys.executable, "-m", "emulator.cli", "parity"]
# The tenant's secrets: no file the kit writes may hold them.
APP_KEY = "tenant-app-key-7f3a9c21d0e84b65"
USERNAME = "ops.admin@tenant.example"
PASSWORD = "Tenant-Adm1n-S3cret!"
# How the tenant is configured apart from the emulator's defaults.
VALID_SOURCES = ["MARKETING", "PARTNERSHIP", "SALESFORCE", "BANKING_INFO"]  # no PPN, SUPPLY_MANAGER
DATA_SIZE_LIMIT_KB = 2
TOKEN_LIFETIME = 600


@dataclass
class Tenant:
    url: str
    fixtures: Path
    server: EmulatorServer

    @property
    def env(self) -> dict[str, str]:
        """A shell with the sandbox credentials set."""
        return {
            **clean_env(),
            "OCC_APP_KEY": APP_KEY,
            "OCC_USERNAME": USERNAME,
            "OCC_PASSWORD": PASSWORD,
        }


def clean_env() -> dict[str, str]:
    """A user's shell: no credentials of the vendor, no pytest leftovers."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OCC_", "LOYALTY_", "PYTEST_")) and k != "EMULATOR_URL"
    }


def tenant_fixtures(folder: Path) -> Path:
    shutil.copytree(FIXTURES_DIR, folder)
    loyalty = yaml.safe_load((folder / "loyalty.yaml").read_text(encoding="utf-8"))
    loyalty["config"]["validSources"] = VALID_SOURCES
    loyalty["config"]["extendedData"]["dataSizeLimitKb"] = DATA_SIZE_LIMIT_KB
    (folder / "loyalty.yaml").write_text(yaml.safe_dump(loyalty, sort_keys=False), encoding="utf-8")
    commerce = yaml.safe_load((folder / "commerce.yaml").read_text(encoding="utf-8"))
    commerce["config"]["tokenLifetimeSeconds"] = TOKEN_LIFETIME
    commerce["applications"] = [{"key": APP_KEY, "name": "Tenant sandbox"}]
    admin = next(p for p in commerce["profiles"] if p.get("password"))
    admin["email"], admin["password"] = USERNAME, PASSWORD
    (folder / "commerce.yaml").write_text(
        yaml.safe_dump(commerce, sort_keys=False), encoding="utf-8"
    )
    return folder


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tenant]:
    fixtures = tenant_fixtures(tmp_path_factory.mktemp("tenant") / "fixtures")
    with EmulatorServer(fixtures=fixtures) as server:
        yield Tenant(server.url, fixtures, server)


def parity(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`profile-emulator parity ...` as a user runs it."""
    return subprocess.run(
        [*PARITY, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env if env is not None else clean_env(),
        cwd=cwd,
    )


def written(folder: Path) -> dict[Path, str]:
    """Every file under ``folder``, as text."""
    return {path: path.read_text(encoding="utf-8") for path in folder.rglob("*") if path.is_file()}
