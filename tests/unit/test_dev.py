"""dev.py's set-up: what each command installs into .venv, and the stamp that says what a
venv holds (a venv made to serve is not taken for a test venv; a test venv serves). pip is
not run here (its commands are recorded); tests/product/test_setup.py runs the real thing."""

from __future__ import annotations

from pathlib import Path

import pytest

import dev

ROOT = Path(dev.__file__).resolve().parent


@pytest.fixture
def venv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """dev.py pointed at a venv folder of the test's own; returns the commands it runs."""
    folder = tmp_path / ".venv"
    monkeypatch.setattr(dev, "VENV", folder)
    monkeypatch.setattr(dev, "BIN", folder / "bin")
    monkeypatch.setattr(dev, "STAMP", folder / ".installed")

    def create(path: Path, with_pip: bool) -> None:
        assert with_pip
        (Path(path) / "bin").mkdir(parents=True)
        (Path(path) / "bin" / "python").touch()

    commands: list[list[str]] = []

    def run(command: list[str], cwd: Path | None = None) -> int:
        commands.append(command)
        return 0

    monkeypatch.setattr(dev.venv, "create", create)
    monkeypatch.setattr(dev, "run", run)
    return commands


def pip_install(command: list[str]) -> list[str]:
    """What a `python -m pip install ...` command asks for, options left out."""
    assert command[1:4] == ["-m", "pip", "install"], command
    assert "--quiet" not in command and "-q" not in command  # pip's progress is shown
    i = command.index("-c")
    assert command[i + 1] == str(ROOT / "constraints.txt")
    return command[command.index("-e") + 1 :]


def test_serving_installs_the_runtime_dependencies_only_and_says_so(
    venv: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    dev.ensure_venv("serve")
    (command,) = venv
    assert pip_install(command) == [str(ROOT)]  # no extras
    out = capsys.readouterr().out
    assert "dev.py: creating .venv" in out
    assert "installing profile-emulator into .venv (to serve)" in out
    assert "dev.py: .venv ready in" in out
    assert dev.venv_ready("serve")
    assert not dev.venv_ready("test")
    assert not dev.venv_ready("build")


def test_the_tests_add_their_extras_to_a_served_venv_and_keep_serving(
    venv: list[list[str]],
) -> None:
    dev.ensure_venv("serve")
    dev.ensure_venv("test")
    assert pip_install(venv[1]) == [f"{ROOT}[test,testcontainers]", "build"]
    assert dev.venv_ready("test") and dev.venv_ready("serve") and dev.venv_ready("build")
    dev.ensure_venv("serve")
    dev.ensure_venv("build")
    dev.ensure_venv("test")
    assert len(venv) == 2  # nothing more to install


def test_a_build_venv_keeps_what_it_holds_when_the_tests_come(venv: list[list[str]]) -> None:
    dev.ensure_venv("build")
    assert pip_install(venv[0]) == [str(ROOT), "build"]
    assert not dev.venv_ready("test")
    dev.ensure_venv("test")
    assert pip_install(venv[1]) == [f"{ROOT}[test,testcontainers]", "build"]


def test_a_changed_pyproject_or_lock_installs_anew_for_the_purpose_at_hand(
    venv: list[list[str]],
) -> None:
    dev.ensure_venv("test")
    dev.STAMP.write_text("an-older-digest\n[test] [testcontainers] build")
    assert not dev.venv_ready("serve")
    dev.ensure_venv("serve")
    assert pip_install(venv[1]) == [str(ROOT)]  # what the old stamp held no longer counts
    assert not dev.venv_ready("test")


def test_a_stamp_of_the_earlier_form_is_not_taken_for_a_test_venv(venv: list[list[str]]) -> None:
    dev.VENV.mkdir()
    dev.STAMP.write_text(dev.wanted_digest())  # the digest alone, of a venv made for the tests
    assert not dev.venv_ready("test")  # which held no [testcontainers]: installed again
    assert dev.venv_ready("serve")


def test_a_failed_install_leaves_no_stamp(
    venv: list[list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dev, "run", lambda command, cwd=None: 1)
    with pytest.raises(SystemExit) as exited:
        dev.ensure_venv("serve")
    assert exited.value.code == 1
    assert not dev.STAMP.exists()


def test_build_runs_python_m_build_into_the_checkouts_dist(venv: list[list[str]]) -> None:
    assert dev.main(["build"]) == 0
    assert venv[-1] == [
        str(dev.BIN / "python"),
        "-m",
        "build",
        "--outdir",
        str(ROOT / "dist"),
        str(ROOT),
    ]
    assert dev.main(["build", "--outdir", "elsewhere", "--wheel"]) == 0
    assert venv[-1][2:] == ["build", "--outdir", "elsewhere", "--wheel", str(ROOT)]
