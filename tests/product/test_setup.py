"""The README's first steps on a fresh checkout, with nothing but Python: `python3 dev.py
serve` installs what serving needs (no test tools) showing its progress, then serves;
`python3 dev.py build` adds only the build package and builds the wheel and sdist, even with
a build/ folder in the checkout. pip's cache is the machine's (a first run on a new machine
downloads more, the same way). tests/unit/test_dev.py covers the stamp's cases without pip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600  # a hang guard: ~20 s with pip's cache warm


def fresh_checkout(folder: Path) -> Path:
    """The checkout's files (tracked and new, nothing ignored: no .venv), as a clone has them."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if source.is_file():
            target = folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
            target.chmod(source.stat().st_mode)
    return folder


def python3() -> str:
    """The Python this venv was made from: what a user's `python3` is."""
    return getattr(sys, "_base_executable", sys.executable)


def user_env() -> dict[str, str]:
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}


def test_serve_then_build_from_a_fresh_checkout(tmp_path: Path) -> None:
    checkout = fresh_checkout(tmp_path / "profile-emulator")
    assert not (checkout / ".venv").exists()
    log = tmp_path / "serve.out"
    port_file = tmp_path / "port"
    with log.open("w") as out:
        serving = subprocess.Popen(
            [python3(), "dev.py", "serve", "--port", "0", "--port-file", str(port_file)],
            cwd=checkout,
            env=user_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + INSTALL_TIMEOUT
        while not port_file.exists():
            assert serving.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        assert httpx.get(f"{url}/_emulator/health").json() == {"status": "ok"}
        serving.send_signal(signal.SIGTERM)
        assert serving.wait(timeout=30) == 0, log.read_text()
    finally:
        if serving.poll() is None:
            serving.kill()
            serving.wait()
    shown = log.read_text()
    for line in (
        "dev.py: creating .venv ...",
        "dev.py: installing profile-emulator into .venv (to serve) ...",
        "Installing collected packages:",  # pip's own progress, not silenced
        "dev.py: .venv ready in",
        "profile-emulator listening on http://127.0.0.1:",
    ):
        assert line in shown, shown
    venv_python = checkout / ".venv" / "bin" / "python"

    def has(module: str) -> bool:
        probe = [str(venv_python), "-c", f"import {module}"]
        # From a folder of its own: `-c` imports from the working directory first, and a
        # checkout's build/ folder would pass for the build package.
        return subprocess.run(probe, capture_output=True, cwd=tmp_path).returncode == 0

    assert has("uvicorn") and has("connexion")
    assert not has("pytest") and not has("playwright") and not has("build")  # serving only

    # The README's build, with a folder named build/ in the checkout's root (which
    # `python3 -m build` would import there, the build package being missing).
    (checkout / "build" / "lib").mkdir(parents=True)
    assert not has("build")
    done = subprocess.run(
        [python3(), "dev.py", "build"],
        cwd=checkout,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dev.py: installing profile-emulator into .venv (with build) ..." in done.stdout
    built = {p.suffix for p in (checkout / "dist").iterdir()}
    assert built == {".whl", ".gz"}, built  # the wheel and the sdist
    assert not has("pytest")  # still no test tools
