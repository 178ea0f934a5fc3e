"""`parity record`: run each case twice against the vendor, keep what both runs agree on, label
the rest (and every secret), write one snapshot per case."""

from __future__ import annotations

import datetime
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import httpx

from emulator.parity import runner
from emulator.parity.cases import Case, CaseError
from emulator.parity.compare import dotted
from emulator.parity.placeholders import Labels, literals
from emulator.parity.redact import Paths
from emulator.parity.snapshots import Snapshot, public_target, write


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def snapshot_of(
    case: Case,
    first: runner.Run,
    second: runner.Run,
    labels: Labels,
    target: str,
    redact: list[str],
) -> Snapshot:
    """The recording of two runs of ``case``: run one, with labels where the runs differ."""
    for name, value in runner.named_secrets(case, first.env).items():
        labels.name(value, name)
    count = min(len(first.exchanges), len(second.exchanges))
    labels.learn(
        runner.document(first, count),
        runner.document(second, count),
        first.secret_vars | second.secret_vars,
    )
    written = labels.substitute(runner.document(first, count))
    steps = []
    for index, exchange in enumerate(first.exchanges[:count]):
        unstable = sorted(
            dotted(path[3:]) for path in labels.unstable if path[:3] == ("steps", index, "response")
        )
        steps.append(
            {
                "name": exchange.step,
                "operation": exchange.operation,
                "request": written["steps"][index]["request"],
                "response": written["steps"][index]["response"],
                "unstable": unstable,
            }
        )
    stopped = first.stopped or second.stopped
    if stopped is None and len(first.exchanges) != len(second.exchanges):
        stopped = {"step": case.steps[count].name, "reason": "the two runs stopped apart"}
    return Snapshot(
        case=case,
        target=public_target(target),
        recorded_at=now(),
        source="record",
        vars=written["vars"],
        steps=steps,
        stopped=stopped,
        redact=redact,
    )


def record(
    cases: list[Case],
    target: str,
    out: Path,
    redact: list[str],
    environ: Mapping[str, str],
    stdout: IO[str],
) -> int:
    """Record every case (exit status: 0, or 1 when the target could not be reached)."""
    paths = Paths(redact)
    out.mkdir(parents=True, exist_ok=True)
    with httpx.Client(base_url=target, timeout=runner.TIMEOUT) as client:
        for case in cases:
            try:
                env = runner.environment(case, environ, emulator=False)
            except CaseError as exc:
                print(f"skipped {case.api}.{case.name}: {exc}", file=stdout)
                continue
            try:
                first = runner.run(case, client, env)
                second = runner.run(case, client, env)
            except runner.TargetError as exc:
                print(f"profile-emulator parity record: {exc}", file=sys.stderr)
                return 1
            labels = Labels(paths, literals(case.source))
            snapshot = snapshot_of(case, first, second, labels, target, redact)
            path = write(snapshot, out, labels.check)
            print(
                f"recorded {case.api}.{case.name}: {len(snapshot.steps)} of {len(case.steps)} "
                f"steps, {len(set(labels.at.values()))} placeholders -> {path}",
                file=stdout,
            )
            for note in notes(case, first, snapshot):
                print(f"  {note}", file=stdout)
    return 0


def notes(case: Case, run: runner.Run, snapshot: Snapshot) -> list[str]:
    """Where the vendor did not answer as the case documents (credentials, a tenant's own
    configuration), and where a run stopped."""
    said = []
    for exchange in run.exchanges[: len(snapshot.steps)]:
        expect = case.step(exchange.step).expect
        status = exchange.response["status"]
        if expect is not None and expect["status"] != status:
            said.append(
                f"{exchange.step}: the vendor answered {status}, the case documents {expect['status']}"
            )
    if snapshot.stopped:
        said.append(f"stopped at {snapshot.stopped['step']}: {snapshot.stopped['reason']}")
    return said
