"""`profile-emulator serve`: run the emulator with uvicorn."""
from __future__ import annotations

import argparse
import gc
import ipaddress
import logging
import os
import sys
import warnings
from pathlib import Path

# Light on purpose: the heavy imports (Connexion, uvicorn, the app) happen in main(), after
# the collector is paused, and `--help` answers without them.
FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
JOURNAL_SIZE = 1000  # emulator.runtime.JOURNAL_SIZE (a test keeps the two equal)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="profile-emulator")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default="127.0.0.1",
                       help="interface to bind (default 127.0.0.1: loopback only)")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--fixtures", type=Path, default=FIXTURES_DIR,
                       help="fixtures folder (seed data, config, scenarios/)")
    serve.add_argument("--data-file", type=Path, default=None,
                       help="persist state to this JSON file (written behind, atomically)")
    serve.add_argument("--control-token", default=os.environ.get("EMULATOR_CONTROL_TOKEN"),
                       help="require this token on /_emulator/* calls (health excepted), as "
                            "'Authorization: Bearer TOKEN' or 'X-Emulator-Token: TOKEN' "
                            "(default: $EMULATOR_CONTROL_TOKEN; none)")
    serve.add_argument("--journal-size", type=int, default=JOURNAL_SIZE,
                       help=f"vendor calls kept in each namespace's journal (default {JOURNAL_SIZE})")
    serve.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    # Start-up builds about a million objects that live as long as the process (modules,
    # specs, validators, fixtures). Collecting while they are built is wasted work (a fifth
    # of the start-up time); afterwards they are frozen out of the collector's sight, so a
    # full collection never walks them again mid-request (at 16 connections that was the
    # whole of the p99 tail).
    gc.disable()
    try:
        with warnings.catch_warnings():
            # Connexion imports starlette.testclient, which warns about httpx on import.
            warnings.filterwarnings("ignore", message=".*starlette.testclient.*")
            import uvicorn

            from emulator.app import create_app
            from emulator.runtime import FixtureError

        logging.basicConfig(level=args.log_level.upper(),
                            format="%(levelname)s %(name)s: %(message)s")
        try:
            app = create_app(args.fixtures, args.data_file, control_token=args.control_token,
                             journal_size=args.journal_size)
        except FixtureError as exc:
            print(f"profile-emulator: {exc}", file=sys.stderr)
            return 2
        gc.freeze()  # no collection first: what start-up threw away is a few MB, once
    finally:
        gc.enable()
    if not args.control_token and not _is_loopback(args.host):
        print(f"profile-emulator: warning: {args.host} is reachable from other machines and "
              "/_emulator/ has no --control-token", file=sys.stderr)
    print(f"profile-emulator listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=False, lifespan="on", proxy_headers=False)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


if __name__ == "__main__":
    sys.exit(main())
