#!/usr/bin/env python3
"""Set-up and entry points that need nothing but Python 3.11+.

    python3 dev.py serve [serve options]   # install what serving needs into .venv (first
                                           # time), run the emulator
    python3 dev.py build [build options]   # the wheel and sdist into dist/ (python -m build)
    python3 dev.py test [pytest options]   # install into .venv with the test dependencies
                                           # (first time), the tools the tests drive
                                           # (tools/setup-*.sh), the checks (ruff, mypy,
                                           # lint-imports), then the tests: with no options
                                           # every test, in parallel, with branch coverage
                                           # and its floor
    python3 dev.py test --quick [...]      # the checks, then the tests that need no browser,
                                           # container, fuzzer or process of their own (< 1 min)
    python3 dev.py bench [bench options]   # also Prism and wrk (bench/setup.sh), then bench/run.py
    python3 dev.py bench persistence [...]  # the data file's guarantees and costs (bench/persistence.py)
    python3 dev.py bench http-abuse [...]   # slow connections, an endless header (bench/http_abuse.py)
    python3 dev.py bench webhooks [...]     # what a webhook subscriber costs updateProfile (bench/webhooks.py)

The virtualenv is refreshed whenever pyproject.toml or constraints.txt changes; every package
is installed at the version constraints.txt locks. Serving installs the runtime dependencies
only; the tests (and the bench) add the test extras to the same .venv when they first run.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed"


# What each command needs in .venv besides profile-emulator and its runtime dependencies:
# "[name]" is an extra of pyproject.toml, a bare name a package (at constraints.txt's version).
# Serving needs nothing more; a venv installed for one purpose serves each purpose whose needs
# it holds (a test venv serves and builds too).
NEEDS = {"serve": (), "build": ("build",), "test": ("[test]", "[testcontainers]", "build")}


def wanted_digest() -> str:
    return hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + (ROOT / "constraints.txt").read_bytes()
    ).hexdigest()


def installed() -> tuple[str, set[str]]:
    """The stamp: the digest .venv was installed for, and what it holds beyond the runtime
    dependencies (NEEDS' names). An older stamp, the digest alone, holds nothing more."""
    try:
        digest, _, held = STAMP.read_text().partition("\n")
    except OSError:
        return "", set()
    return digest, set(held.split())


def venv_ready(purpose: str) -> bool:
    """Is .venv installed for this purpose, from the current pyproject.toml and constraints?"""
    digest, held = installed()
    return digest == wanted_digest() and set(NEEDS[purpose]) <= held


def ensure_venv(purpose: str) -> None:
    """Install .venv for a purpose of NEEDS (serve, build, test), pip's progress shown: the
    first time, when pyproject.toml or constraints.txt changed, or when the purpose needs
    more than the venv holds (a venv made to serve gets the test extras added)."""
    if venv_ready(purpose):
        return
    wanted = wanted_digest()
    digest, held = installed()
    needs = (held if digest == wanted else set()) | set(NEEDS[purpose])
    extras = sorted(name[1:-1] for name in needs if name.startswith("["))
    packages = sorted(name for name in needs if not name.startswith("["))
    started = time.monotonic()
    if not (BIN / "python").exists():
        print("dev.py: creating .venv ...", flush=True)
        venv.create(VENV, with_pip=True)
    what = " and ".join(filter(None, [", ".join(f"[{e}]" for e in extras), ", ".join(packages)]))
    print(
        f"dev.py: installing profile-emulator into .venv ({f'with {what}' if what else 'to serve'})"
        " ...",
        flush=True,
    )
    code = run(
        [
            str(BIN / "python"),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "-c",
            str(ROOT / "constraints.txt"),
            "-e",
            f"{ROOT}[{','.join(extras)}]" if extras else str(ROOT),
            *packages,
        ]
    )
    if code != 0:
        raise SystemExit(code)
    STAMP.write_text(f"{wanted}\n{' '.join(sorted(needs))}")
    print(f"dev.py: .venv ready in {time.monotonic() - started:.0f} s", flush=True)


def run(command: list[str], cwd: Path | None = None) -> int:
    """Run a child to its end and return its exit status. A SIGTERM sent to this process is
    passed on to the child (which then stops as it would itself), so no child is left
    running on its own; Ctrl-C reaches the child from the terminal (the whole process
    group), and here it only waits for the child to stop, without a traceback."""
    child = subprocess.Popen(command, cwd=cwd)

    def forward(signum: int, frame: object) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    previous = {
        sig: signal.signal(sig, handler)
        for sig, handler in ((signal.SIGTERM, forward), (signal.SIGINT, signal.SIG_IGN))
    }
    try:
        return child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ensure_tools() -> int:
    """Run every tools/setup-*.sh (idempotent): the npm and Debian packages some tests drive
    (Spectral, Chromium, podman...). Each says what it did, and how to install by hand when
    it cannot (not root); the tests that need a missing tool then skip, except under CI."""
    for script in sorted((ROOT / "tools").glob("setup-*.sh")):
        code = run(["bash", str(script)], cwd=ROOT)
        if code != 0 and os.environ.get("CI"):
            print(f"dev.py: {script.name} failed ({code})", file=sys.stderr)
            return code
    return 0


# The quick run: the tests that take well under a second each (pyproject's markers), spread
# over the cores (options given to dev.py come after, so `-n 0` runs them in one process).
# The full run, `python3 dev.py test` with no pytest options (.ci/run): every test, spread over
# the cores too, measuring the branch coverage of emulator/ (in the emulator processes the
# tests start as well) against [tool.coverage]'s floor. With options, pytest gets just those
# (a floor means nothing for a few tests).
QUICK = ["-n", "auto", "-m", "not (fuzz or container or browser or wheel or slow)"]
FULL = ["-n", "auto", "--cov=emulator", "--cov-report=term:skip-covered"]
CHECKS = [
    ["ruff", "check", "--quiet", "."],
    ["ruff", "format", "--check", "--quiet", "."],
    ["mypy"],  # emulator/, as [tool.mypy] says
    ["lint-imports", "--no-logo"],  # ARCHITECTURE.md's import rules ([tool.importlinter])
]


def checks() -> int:
    """The linters and the type checker, before any test: the first one that fails ends it."""
    for check in CHECKS:
        code = run([str(BIN / check[0]), *check[1:]], cwd=ROOT)
        if code != 0:
            print(f"dev.py: {' '.join(check)} failed ({code})", file=sys.stderr)
            return code
    return 0


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("serve", "build", "test", "bench"):
        print(__doc__)
        return 2
    ensure_venv("test" if argv[0] == "bench" else argv[0])
    if argv[0] == "serve":
        command = [str(BIN / "profile-emulator"), "serve", *argv[1:]]
    elif argv[0] == "build":
        # python -m build: an sdist, then the wheel built from it (no build/ folder left in
        # the checkout), into the checkout's dist/ unless --outdir says (the caller's path).
        outdir = [] if {"--outdir", "-o"} & set(argv) else ["--outdir", str(ROOT / "dist")]
        return run([str(BIN / "python"), "-m", "build", *outdir, *argv[1:], str(ROOT)])
    elif argv[0] == "bench" and argv[1:2] == ["persistence"]:
        command = [str(BIN / "python"), str(ROOT / "bench" / "persistence.py"), *argv[2:]]
    elif argv[0] == "bench" and argv[1:2] == ["http-abuse"]:
        command = [str(BIN / "python"), str(ROOT / "bench" / "http_abuse.py"), *argv[2:]]
    elif argv[0] == "bench" and argv[1:2] == ["webhooks"]:
        command = [str(BIN / "python"), str(ROOT / "bench" / "webhooks.py"), *argv[2:]]
    elif argv[0] == "bench":
        if run(["bash", str(ROOT / "bench" / "setup.sh")], cwd=ROOT) != 0:
            return 1
        command = [str(BIN / "python"), str(ROOT / "bench" / "run.py"), *argv[1:]]
    else:
        quick = "--quick" in argv[1:]
        if not quick and ensure_tools() != 0:
            return 1
        if checks() != 0:
            return 1
        options = [arg for arg in argv[1:] if arg != "--quick"]
        preset = QUICK if quick else [] if options else FULL
        command = [str(BIN / "python"), "-m", "pytest", *preset, *options]
    if argv[0] == "serve" and os.name != "nt":
        # The emulator takes this process's place: Ctrl-C and SIGTERM reach it directly (it
        # stops cleanly and flushes its data file), its exit status is ours, and it keeps the
        # caller's working directory, so relative --fixtures, --data-file and --port-file
        # paths are the caller's.
        os.execv(command[0], command)
    return run(command, cwd=None if argv[0] == "serve" else ROOT)


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:  # Ctrl-C before a child runs (or between two): no traceback
        sys.exit(130)
