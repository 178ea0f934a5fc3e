"""`profile-emulator serve`: run the emulator with uvicorn."""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from emulator.app import FIXTURES_DIR


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
    serve.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)

    import uvicorn

    from emulator.app import create_app
    from emulator.runtime import FixtureError

    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(args.fixtures, args.data_file)
    except FixtureError as exc:
        print(f"profile-emulator: {exc}", file=sys.stderr)
        return 2
    print(f"profile-emulator listening on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level,
                access_log=False, lifespan="on")
    return 0


if __name__ == "__main__":
    sys.exit(main())
