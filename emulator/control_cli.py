"""The control commands of ``profile-emulator``, for shell scripts and CI jobs in any language:
one call of the control API each (openapi/control.yaml), through :class:`emulator.client.Emulator`.

    profile-emulator scenario on|off|list [NAME]
    profile-emulator fault add|list|clear [...]
    profile-emulator journal [--operation OP] [--status N] [--api API] [--limit N]
    profile-emulator reset
    profile-emulator state save|load FILE      (FILE "-": stdout / stdin)
    profile-emulator clock advance SECONDS

Each takes ``--url`` (default $EMULATOR_URL, else http://127.0.0.1:8080), ``--namespace``
(default $EMULATOR_NAMESPACE, else ``default``), ``--token`` (default
$EMULATOR_CONTROL_TOKEN) and ``--json`` (the control API's answer as JSON on stdout, one
document).

Exit status (EXIT_*): 0 done; 1 the emulator refused the call (its status and detail on
stderr: an unknown scenario, an invalid rule); 2 a usage error, or a FILE that cannot be read
or written; 3 no emulator answers at the URL; 4 it wants a control token (none given, or a
wrong one).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import httpx

from emulator.client import Emulator, EmulatorError
from emulator.report import call_line, rule_line

COMMANDS = {  # each command, as `profile-emulator --help` lists it
    "scenario": "a running emulator: switch a scenario on or off, list them",
    "fault": "a running emulator: add, list or clear fault rules",
    "journal": "a running emulator: the calls made, filtered",
    "reset": "a running emulator: a namespace back to its fixtures",
    "state": "a running emulator: save or load a namespace's state",
    "clock": "a running emulator: move a namespace's time on",
}
DEFAULT_URL = "http://127.0.0.1:8080"
EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_TOKEN = 0, 1, 2, 3, 4


class _Usage(Exception):
    """A file the command cannot use (exit 2)."""


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--url",
        default=os.environ.get("EMULATOR_URL") or DEFAULT_URL,
        help=f"the emulator (default: $EMULATOR_URL, else {DEFAULT_URL})",
    )
    common.add_argument(
        "--namespace",
        default=os.environ.get("EMULATOR_NAMESPACE") or "default",
        help="the namespace (default: $EMULATOR_NAMESPACE, else 'default')",
    )
    common.add_argument(
        "--token",
        default=os.environ.get("EMULATOR_CONTROL_TOKEN"),
        help="the server's control token (default: $EMULATOR_CONTROL_TOKEN)",
    )
    common.add_argument("--json", action="store_true", help="the answer as JSON on stdout")
    top = argparse.ArgumentParser(
        prog="profile-emulator",
        epilog="exit status: 0 done, 1 refused, 2 usage, "
        "3 no emulator at --url, 4 control token missing or wrong",
    )
    commands = top.add_subparsers(dest="command", required=True)

    scenario = commands.add_parser("scenario", parents=[common], help="switch a scenario")
    scenario.add_argument("switch", choices=("on", "off", "list"))
    scenario.add_argument("name", nargs="?", help="the scenario (fixtures/scenarios/)")

    fault = commands.add_parser("fault", parents=[common], help="add, list or clear fault rules")
    fault.add_argument("action", choices=("add", "list", "clear"))
    fault.add_argument("rule_id", nargs="?", help="clear: only this rule (default: every rule)")
    fault.add_argument("--rule", metavar="JSON", help="add: the whole rule as JSON")
    fault.add_argument("--error", help="add: a catalogue error, e.g. loyalty.EMAIL_ALREADY_EXISTS")
    fault.add_argument(
        "--fault",
        dest="kind",
        metavar="KIND",
        help="add: connection_reset, empty_response, malformed_body or timeout",
    )
    fault.add_argument("--status", type=int, help="add: respond with this status")
    fault.add_argument("--api", help="add: only this API's calls")
    fault.add_argument("--operation", help="add: only this operation's calls")
    fault.add_argument("--times", type=int, help="add: act this many times, then be spent")
    fault.add_argument("--id", dest="new_id", metavar="ID", help="add: the rule's own id")

    journal = commands.add_parser("journal", parents=[common], help="the calls made, oldest first")
    journal.add_argument("--api")
    journal.add_argument("--operation")
    journal.add_argument("--status", type=int)
    journal.add_argument("--limit", type=int, help="only the latest N calls")

    commands.add_parser("reset", parents=[common], help="the namespace back to its fixtures")

    state = commands.add_parser("state", parents=[common], help="save or load the state")
    state.add_argument("action", choices=("save", "load"))
    state.add_argument("file", help='a JSON file ("-": stdout for save, stdin for load)')

    clock = commands.add_parser("clock", parents=[common], help="move the namespace's time on")
    clock.add_argument("action", choices=("advance",))
    clock.add_argument("seconds", type=float)
    return top


def main(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run one control command; its exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    try:
        args = parser().parse_args(list(argv))
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
        return int(exc.code or 0)
    if args.command == "scenario" and args.switch != "list" and not args.name:
        print(f"profile-emulator: scenario {args.switch} needs a NAME", file=err)
        return EXIT_USAGE
    try:
        with Emulator(args.url, args.namespace, token=args.token) as emulator:
            answer, text = RUN[args.command](emulator, args)
    except _Usage as exc:
        print(f"profile-emulator: {exc}", file=err)
        return EXIT_USAGE
    except EmulatorError as exc:
        print(f"profile-emulator: {exc}", file=err)
        return EXIT_TOKEN if exc.status == 401 else EXIT_REFUSED
    except httpx.HTTPError as exc:
        print(f"profile-emulator: no emulator at {args.url}: {exc}", file=err)
        return EXIT_UNREACHABLE
    if args.json:
        out.write(json.dumps(answer, ensure_ascii=False) + "\n")
    elif text:
        out.write(text + "\n")
    return EXIT_OK


Result = tuple[Any, str]  # (the answer as JSON, as text lines)


def _scenario(emulator: Emulator, args: argparse.Namespace) -> Result:
    if args.switch == "list":
        found = emulator.scenarios()
        lines = [
            f"{s['name']}: {'on' if s['active'] else 'off'}  {s['description']}" for s in found
        ]
        return found, "\n".join(lines)
    switch = emulator.activate if args.switch == "on" else emulator.deactivate
    scenario = switch(args.name)
    return scenario, f"{scenario['name']}: {'on' if scenario['active'] else 'off'}"


def _fault(emulator: Emulator, args: argparse.Namespace) -> Result:
    if args.action == "list":
        rules = emulator.rules()
        return rules, "\n".join(rule_line(rule) for rule in rules)
    if args.action == "clear":
        if args.rule_id:
            emulator.remove(args.rule_id)
        else:
            emulator.clear_rules()
        return {"cleared": args.rule_id or "all"}, ""
    rule = _rule(args)
    rule_id = emulator.add_rule(rule)
    return {"id": rule_id}, rule_id


def _rule(args: argparse.Namespace) -> dict[str, Any]:
    """The rule ``fault add`` was given: ``--rule`` JSON, else the flags."""
    if args.rule is not None:
        try:
            rule = json.loads(args.rule)
        except ValueError as exc:
            raise _Usage(f"--rule: not JSON: {exc}") from None
        if not isinstance(rule, dict):
            raise _Usage("--rule: not a JSON object")
        return rule
    match = {"api": args.api, "operation": args.operation}
    rule = {
        "id": args.new_id,
        "error": args.error,
        "fault": args.kind,
        "respond": {"status": args.status} if args.status is not None else None,
        "times": args.times,
        "match": {key: value for key, value in match.items() if value is not None},
    }
    return {key: value for key, value in rule.items() if value is not None}


def _journal(emulator: Emulator, args: argparse.Namespace) -> Result:
    calls = emulator.requests(
        api=args.api, operation=args.operation, status=args.status, limit=args.limit
    )
    return calls, "\n".join(call_line(call) for call in calls)


def _reset(emulator: Emulator, args: argparse.Namespace) -> Result:
    emulator.reset()
    return {"reset": emulator.namespace}, ""


def _state(emulator: Emulator, args: argparse.Namespace) -> Result:
    if args.action == "save":
        state = emulator.state()
        text = json.dumps(state, ensure_ascii=False, indent=2)
        if args.file == "-":
            return state, text
        try:
            with open(args.file, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except OSError as exc:
            raise _Usage(f"cannot write {args.file}: {exc.strerror or exc}") from None
        return {"saved": args.file}, ""
    try:
        if args.file == "-":
            state = json.load(sys.stdin)
        else:
            with open(args.file, encoding="utf-8") as handle:
                state = json.load(handle)
    except OSError as exc:
        raise _Usage(f"cannot read {args.file}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise _Usage(f"{args.file}: not JSON: {exc}") from None
    emulator.restore(state)
    return {"loaded": args.file}, ""


def _clock(emulator: Emulator, args: argparse.Namespace) -> Result:
    offset = emulator.advance(args.seconds)
    return {"offsetSeconds": offset}, f"{offset:g}"


RUN: dict[str, Callable[[Emulator, argparse.Namespace], Result]] = {
    "scenario": _scenario,
    "fault": _fault,
    "journal": _journal,
    "reset": _reset,
    "state": _state,
    "clock": _clock,
}
