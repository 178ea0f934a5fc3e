"""`profile-emulator parity record|verify|config` (docs/parity.md).

Exit status: 0 when done (verify: nothing differs beyond the skip file); 1 when verify found
differences or a target could not be reached; 2 when it cannot run as asked (bad options,
files that are not cases, snapshots or skip files, a secret that would have been written),
with one line saying why.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from emulator.resources import FIXTURES_DIR

APIS = ("loyalty", "commerce")  # emulator.vendors.VENDORS' names (a test keeps them equal)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="profile-emulator parity",
        description="Compare the emulator with your tenant of the real vendor (docs/parity.md).",
    )
    commands = top.add_subparsers(dest="action", required=True)
    record = commands.add_parser(
        "record",
        help="run the cases twice against the vendor and write one snapshot per case",
        description="Credentials come from the environment variables each case names "
        "(OCC_APP_KEY, OCC_USERNAME, OCC_PASSWORD; LOYALTY_AUTHORIZATION). What differs "
        "between the two runs is written as numbered placeholders; secrets never reach a file.",
    )
    record.add_argument("--api", choices=APIS, required=True)
    source = record.add_mutually_exclusive_group(required=True)
    source.add_argument("--target", metavar="URL", help="the vendor's base URL (a sandbox)")
    source.add_argument(
        "--har", type=Path, metavar="FILE", help="a HAR capture to use as the recording instead"
    )
    record.add_argument("--out", type=Path, required=True, metavar="DIR")
    record.add_argument(
        "--cases",
        type=Path,
        metavar="PATH",
        help="a case file or a folder of them (default: the shipped cases of --api)",
    )
    record.add_argument(
        "--redact",
        action="append",
        default=[],
        metavar="JSON_PATH",
        help="values to keep off the disk besides credentials, e.g. email or "
        "shippingAddresses[*].phoneNumber (repeatable)",
    )
    verify = commands.add_parser(
        "verify",
        help="replay the snapshots against an emulator and report every difference",
    )
    verify.add_argument("--snapshots", type=Path, required=True, metavar="DIR")
    verify.add_argument(
        "--target", metavar="URL", help="the emulator's URL (default: start one of its own)"
    )
    verify.add_argument(
        "--fixtures",
        type=Path,
        metavar="DIR",
        help="fixtures of the emulator it starts (default: the shipped ones)",
    )
    verify.add_argument(
        "--skip",
        type=Path,
        metavar="FILE",
        help="accepted differences with reasons (default: DIR/skip.yaml when there is one)",
    )
    verify.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML there")
    config = commands.add_parser(
        "config",
        help="write the fixture file whose configuration removes the differences it can",
    )
    config.add_argument("--snapshots", type=Path, required=True, metavar="DIR")
    config.add_argument("--out", type=Path, required=True, metavar="FILE")
    config.add_argument("--api", choices=APIS, help="when the snapshots hold both APIs")
    config.add_argument(
        "--fixtures",
        type=Path,
        default=FIXTURES_DIR,
        metavar="DIR",
        help="the fixtures whose seed data the file keeps (default: the shipped ones)",
    )
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from emulator.fixtures import FixtureError
    from emulator.parity import cases, config, har, record, skips, snapshots, verify
    from emulator.parity.redact import PathError, Paths, RedactionError

    refusals = (
        cases.CaseError,
        snapshots.SnapshotError,
        skips.SkipError,
        config.ConfigError,
        har.HarError,
        PathError,
        RedactionError,
        FixtureError,
        OSError,
    )
    try:
        if args.action == "record":
            Paths(args.redact)  # a pattern that is not a path is refused before any call
            if args.har is not None:
                snapshot, labels = har.convert(args.har, args.api, args.redact)
                args.out.mkdir(parents=True, exist_ok=True)
                path = snapshots.write(snapshot, args.out, labels.check)
                print(f"recorded {snapshot.api}.{snapshot.case.name} from {args.har}: "
                      f"{len(snapshot.steps)} steps -> {path}")  # fmt: skip
                return 0
            found = cases.load(args.cases) if args.cases else cases.shipped(args.api)
            others = sorted({case.name for case in found if case.api != args.api})
            if others:
                raise cases.CaseError(f"not {args.api} cases: {', '.join(others)}")
            return record.record(found, args.target, args.out, args.redact, os.environ, sys.stdout)
        if args.action == "verify":
            recorded = snapshots.read_all(args.snapshots)
            skip_file = args.skip or args.snapshots / skips.DEFAULT_NAME
            accepted = skips.load(skip_file) if args.skip or skip_file.exists() else []
            return verify.verify(
                recorded,
                args.target,
                fixtures=args.fixtures,
                skips=accepted,
                junit_file=args.junit,
                environ=os.environ,
                stdout=sys.stdout,
            )
        recorded = snapshots.read_all(args.snapshots)
        return config.write(recorded, args.api, args.fixtures, args.out, sys.stdout)
    except refusals as exc:
        print(f"profile-emulator parity {args.action}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
