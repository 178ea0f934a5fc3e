"""The wheel, as a team installs it: built with `python3 dev.py build`, installed with pip into a
fresh venv outside the checkout, and used from a folder that is not the checkout (PYTHONPATH
unset): `profile-emulator serve` with the shipped fixtures and with a team's own, and the
pytest plugin's `emulator` fixture in a partner-style test file.

`-m wheel` selects the slow test (about half a minute: the build, and a pip install whose
dependencies come from the index, pip's cache reused); `-m "not wheel"` leaves it out.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILE = "/client/users/seed-session-1/profile"
UPDATE = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada@example.com",
    "postalZipCode": "H0H 0H0",
}

PARTNER_TEST = """
import httpx

UPDATE = {"firstName": "Ada", "lastName": "Lovelace", "dateOfBirth": "1985-12-10", "gender": "F",
          "email": "ada@example.com", "postalZipCode": "H0H 0H0"}


def test_the_client_sees_the_vendors_error_then_success(emulator):
    emulator.inject(error="loyalty.EMAIL_ALREADY_EXISTS", operation="updateProfile", times=1)
    url = emulator.url + "/client/users/seed-session-1/profile"
    first = httpx.put(url, json=UPDATE, headers=emulator.headers)
    assert first.status_code == 400
    assert first.json() == {"statusCode": 400, "errorCode": "EMAIL_ALREADY_EXISTS",
                            "errorMessage": "Sorry, that email address is already in use"}
    second = httpx.put(url, json=UPDATE, headers=emulator.headers)
    assert second.status_code == 200
    assert second.json() == {"debugMessage": "Profile Updated"}
    assert [r["status"] for r in emulator.requests(operation="updateProfile")] == [400, 200]
"""


def test_the_package_list_is_every_package_on_disk() -> None:
    """pyproject.toml lists the packages (it maps the data folders, so it cannot discover
    them): a new package under emulator/ must join the list or the wheel would lack it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "setuptools"
    ]
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "emulator").rglob("__init__.py")
    }
    code = {name for name in config["packages"] if not name.startswith("emulator._data")}
    assert code == on_disk
    assert {config["package-dir"][name] for name in config["package-dir"]} == {
        "openapi",
        "fixtures",
    }


def clean_env() -> dict[str, str]:
    """The environment a user's shell would have: no PYTHONPATH, no venv or pytest leftovers."""
    return {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "PYTHONPATH",
            "VIRTUAL_ENV",
            "PYTHONHOME",
            "EMULATOR_URL",
            "EMULATOR_CONTROL_TOKEN",
            "EMULATOR_FIXTURES",
        )
        and not k.startswith("PYTEST_")
    }


def run(*cmd: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(c) for c in cmd],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


class Serving:
    """`profile-emulator serve --port 0 --port-file ...` from the installed venv."""

    def __init__(self, bin_dir: Path, cwd: Path, *args: str) -> None:
        self.port_file = cwd / "emulator.port"
        self.proc = subprocess.Popen(
            [
                str(bin_dir / "profile-emulator"),
                "serve",
                "--port",
                "0",
                "--port-file",
                self.port_file.name,
                *args,
            ],
            cwd=cwd,
            env=clean_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once it accepts
        assert line.startswith("profile-emulator listening on http://127.0.0.1:"), (
            line + self.proc.communicate(timeout=30)[1]
        )
        self.url = line.split()[-1]
        assert self.url.endswith(f":{self.port_file.read_text().strip()}")

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGTERM)
        _, err = self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0, err
        return err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.mark.wheel
def test_the_wheel_works_outside_the_checkout(tmp_path: Path) -> None:
    work = tmp_path / "team"  # a folder of a team's own, nowhere near the checkout
    work.mkdir()
    assert ROOT not in work.parents

    # 1. The README's `python3 dev.py build`: an sdist, and the wheel built from it.
    run(sys.executable, ROOT / "dev.py", "build", "--outdir", work / "dist", cwd=work)
    (wheel,) = (work / "dist").glob("*.whl")
    (_sdist,) = (work / "dist").glob("*.tar.gz")
    said = re.search(r"The wheel \(about (\d+) kB\)", (ROOT / "README.md").read_text())
    assert said, "the README gives the wheel's size"
    size_kb = wheel.stat().st_size / 1000
    assert abs(size_kb - int(said.group(1))) <= 0.1 * int(said.group(1)), (
        f"the README says about {said.group(1)} kB; the wheel is {size_kb:.0f} kB"
    )
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, inside in (
        ("openapi", "openapi"),
        ("fixtures", "fixtures"),
        ("fixtures/scenarios", "fixtures/scenarios"),
    ):
        shipped = {p.name for p in (ROOT / folder).glob("*.yaml")}
        assert shipped and {f"emulator/_data/{inside}/{n}" for n in shipped} <= names, folder
    assert not any(n.startswith(("openapi/", "fixtures/", "tests/")) for n in names)
    cases = {str(p.relative_to(ROOT)) for p in (ROOT / "emulator/parity/shipped").rglob("*.yaml")}
    assert cases and cases <= names  # the parity kit's shipped cases
    dashboard = {f"emulator/ui/static/{p.name}" for p in (ROOT / "emulator/ui/static").iterdir()}
    assert {"emulator/ui/static/index.html", "emulator/ui/static/app.js"} <= dashboard <= names

    # 2. A fresh venv and pip install of the wheel (dependencies from the index).
    run(sys.executable, "-m", "venv", work / "venv", cwd=work)
    bin_dir = work / "venv" / "bin"
    run(
        bin_dir / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        wheel,
        "pytest>=8",
        cwd=work,
    )
    where = run(
        bin_dir / "python",
        "-c",
        "import emulator.resources as r; print(r.__file__); "
        "print(r.OPENAPI_DIR); print(r.FIXTURES_DIR)",
        cwd=work,
    ).stdout.split()
    assert all(Path(p).is_relative_to(work / "venv") for p in where), where
    written = re.search(r'__version__ = "(.+)"', (ROOT / "emulator/__init__.py").read_text())
    version = run(bin_dir / "profile-emulator", "--version", cwd=work).stdout
    assert written and version == f"profile-emulator {written.group(1)}\n"  # (the one place)

    # 3. serve with the shipped specs, fixtures and scenarios.
    server = Serving(bin_dir, work, "--data-file", "state.db")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.get("/_emulator/health").json() == {"status": "ok"}
            assert http.put(PROFILE, json=UPDATE).json() == {"debugMessage": "Profile Updated"}
            login = http.post(
                "/ccadmin/v1/login",
                data={"grant_type": "client_credentials"},
                headers={"Authorization": "Bearer emulator-app-key"},
            )
            assert login.status_code == 200 and login.json()["token_type"] == "bearer"
            rule = http.post(
                "/_emulator/faults",
                json={
                    "error": "loyalty.EMAIL_ALREADY_EXISTS",
                    "match": {"operation": "updateProfile"},
                    "times": 1,
                },
            )
            assert rule.status_code == 201, rule.text
            assert http.put(PROFILE, json=UPDATE).json()["errorCode"] == "EMAIL_ALREADY_EXISTS"
            scenarios = {s["name"] for s in http.get("/_emulator/scenarios").json()}
            assert {p.stem for p in (ROOT / "fixtures" / "scenarios").glob("*.yaml")} <= scenarios
            for path, name in (
                ("/_emulator/ui/", "index.html"),
                ("/_emulator/ui/assets/app.js", "app.js"),
            ):  # the dashboard
                shipped = http.get(path)
                assert shipped.content == (ROOT / "emulator/ui/static" / name).read_bytes(), path
        err = server.stop()
    finally:
        server.kill()
    assert "Traceback" not in err, err
    with sqlite3.connect(work / "state.db") as db:  # the data file, a SQLite database
        found = db.execute("SELECT count(*) FROM documents WHERE document LIKE '%ada@example%'")
        assert found.fetchone()[0] >= 1

    # 4. serve with a team's own fixtures folder (a relative path, from the team's folder).
    (work / "ours").mkdir()
    text = (ROOT / "fixtures" / "loyalty.yaml").read_text(encoding="utf-8")
    (work / "ours" / "loyalty.yaml").write_text(
        text.replace("seed-session-1", "our-session"), encoding="utf-8"
    )
    server = Serving(bin_dir, work, "--fixtures", "ours", "--quiet")
    try:
        with httpx.Client(base_url=server.url, timeout=10) as http:
            assert http.put("/client/users/our-session/profile", json=UPDATE).status_code == 200
            assert http.put(PROFILE, json=UPDATE).status_code == 404
        server.stop()
    finally:
        server.kill()

    # 5. The pytest plugin, as a partner team's test file uses it.
    (work / "test_partner.py").write_text(PARTNER_TEST, encoding="utf-8")
    done = run(
        bin_dir / "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "test_partner.py",
        cwd=work,
    )
    assert "1 passed" in done.stdout, done.stdout

    # 6. The parity kit reads its shipped cases from the installed package (without
    #    credentials every commerce case is skipped before any call).
    done = run(bin_dir / "profile-emulator", "parity", "record", "--api", "commerce",
               "--target", "http://127.0.0.1:9", "--out", "snapshots", cwd=work)  # fmt: skip
    assert done.stdout.count("skipped commerce.") == len(
        list((ROOT / "emulator/parity/shipped/commerce").glob("*.yaml"))
    )
