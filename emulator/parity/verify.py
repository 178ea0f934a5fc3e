"""`parity verify`: replay each recorded case against an emulator (a fresh namespace per case),
compare every answer with the vendor's, report the differences, a score per operation and
JUnit XML; exit 0 only when nothing differs beyond the skip file."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import orjson

from emulator.errors import REPORT, echo
from emulator.parity import junit, runner, settings
from emulator.parity.cases import CaseError
from emulator.parity.compare import ABSENT, Bindings, Difference, compare, match
from emulator.parity.placeholders import LABEL, Labels, literals, one_run
from emulator.parity.redact import Paths
from emulator.parity.skips import Skip, accepted
from emulator.parity.snapshots import Snapshot


@dataclass
class StepResult:
    api: str
    case: str
    step: str
    operation: str
    differences: list[Difference] = field(default_factory=list)
    accepted: list[tuple[Difference, Skip]] = field(default_factory=list)
    explanation: str | None = None
    checked: int = 0
    skipped: str | None = None  # not compared, and why

    @property
    def where(self) -> str:
        return f"{self.api}.{self.case}/{self.step}"


@dataclass
class Outcome:
    """What a verify found: a result per step, the cases that could not run, the secrets of
    the emulator's runs (kept out of every file)."""

    results: list[StepResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    labels: list[Labels] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(result.differences for result in self.results)

    def check(self, text: str, where: str) -> None:
        for labels in self.labels:
            labels.check(text, where)


def replay(
    snapshot: Snapshot,
    client: httpx.Client,
    environ: Mapping[str, str],
    skips: list[Skip],
    outcome: Outcome,
) -> None:
    """Run ``snapshot``'s case in a fresh namespace and compare each step with the vendor's."""
    case = snapshot.case
    try:
        env = runner.environment(case, environ, emulator=True)
    except CaseError as exc:
        outcome.errors.append(f"{case.api}.{case.name}: not run: {exc}")
        return
    namespace = f"parity-{case.name}-{secrets.token_hex(4)}"
    run = runner.run(case, client, env, namespace=namespace, until=len(snapshot.steps))
    labels = one_run(
        runner.document(run, len(run.exchanges)),
        runner.named_secrets(case, env),
        run.secret_vars,
        Paths(snapshot.redact),
        literals(case.source),
    )
    outcome.labels.append(labels)
    bindings = Bindings()
    for name, value in runner.named_secrets(case, env).items():
        bindings.bind(f"<secret:{name}>", value)
    for name, recorded in snapshot.vars.items():
        if name in run.values and isinstance(recorded, str) and LABEL.search(recorded):
            match(recorded, run.values[name], bindings)
    for index, recorded in enumerate(snapshot.steps):
        result = StepResult(case.api, case.name, recorded["name"], recorded["operation"])
        outcome.results.append(result)
        if index >= len(run.exchanges):
            why = run.stopped["reason"] if run.stopped else "the run ended"
            result.differences.append(
                Difference(
                    "(step)", f"answered {recorded['response']['status']}", f"not run: {why}"
                )
            )
            continue
        answer = run.exchanges[index].response
        found, result.checked = compare(
            recorded["response"], answer, bindings, recorded.get("unstable", ())
        )
        found = [Difference(d.path, d.vendor, labels.substitute(d.emulator), d.note) for d in found]
        for difference in found:
            skip = accepted(skips, case.api, case.name, result.step, difference.path)
            if skip is None:
                result.differences.append(difference)
            else:
                result.accepted.append((difference, skip))
        step = case.step(result.step)
        result.explanation = settings.explain(
            case.api, step, recorded["response"], answer, found, result.where
        )
    if snapshot.stopped:
        for step in case.steps[len(snapshot.steps) :]:
            result = StepResult(case.api, case.name, step.name, step.operation)
            result.skipped = f"not recorded: {snapshot.stopped['reason']}"
            outcome.results.append(result)


@contextlib.contextmanager
def emulator(target: str | None, fixtures: Path | None) -> Iterator[str]:
    """The target's URL; without one, an emulator of our own (``fixtures``) for the while."""
    if target is not None:
        yield target
        return
    from emulator.resources import FIXTURES_DIR
    from emulator.server import EmulatorServer

    with EmulatorServer(fixtures=fixtures or FIXTURES_DIR) as server:
        yield server.url


def verify(
    snapshots: list[Snapshot],
    target: str | None,
    *,
    fixtures: Path | None,
    skips: list[Skip],
    junit_file: Path | None,
    environ: Mapping[str, str],
    stdout: IO[str],
) -> int:
    outcome = Outcome()
    with (
        emulator(target, fixtures) as url,
        httpx.Client(base_url=url, timeout=runner.TIMEOUT) as client,
    ):
        targets = sorted({snapshot.target for snapshot in snapshots})
        print(
            f"parity verify: {len(snapshots)} recorded case(s) of {', '.join(targets)} "
            f"against {url}",
            file=stdout,
        )
        for snapshot in snapshots:
            try:
                replay(snapshot, client, environ, skips, outcome)
            except runner.TargetError as exc:
                outcome.errors.append(str(exc))
    report(outcome, skips, stdout)
    if junit_file is not None:
        junit.write(junit_file, "profile-emulator parity", testcases(outcome), outcome.check)
        print(f"JUnit XML: {junit_file}", file=stdout)
    return 1 if outcome.failed else 0


def shown(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    text = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    cut = echo(text, REPORT)
    return cut if cut == text else f"{cut} ({len(text)} characters)"


def lines(difference: Difference) -> str:
    note = f" ({difference.note})" if difference.note else ""
    return (
        f"{difference.path}: vendor {shown(difference.vendor)}, "
        f"emulator {shown(difference.emulator)}{note}"
    )


def report(outcome: Outcome, skips: list[Skip], stdout: IO[str]) -> None:
    for result in outcome.results:
        if result.differences:
            print(f"\nDIFFERS {result.where} ({result.operation})", file=stdout)
            for difference in result.differences:
                print(f"  {lines(difference)}", file=stdout)
            if result.explanation:
                print(f"  explained by the {result.explanation}", file=stdout)
        for difference, skip in result.accepted:
            print(f"accepted {result.where} {lines(difference)}: {skip.reason}", file=stdout)
    for error in outcome.errors:
        print(f"\nERROR {error}", file=stdout)
    for skip in skips:
        if not skip.used:
            print(f"skip file: {skip} matched no difference", file=stdout)
    print("\nparity per operation (values that agree):", file=stdout)
    for operation, (checked, differing, steps, differ) in scores(outcome).items():
        score = 100.0 * (checked - differing) / checked if checked else 100.0
        tail = f", {differ} differ" if differ else ""
        print(f"  {operation:<28} {score:6.1f}%  {steps} step(s){tail}", file=stdout)
    failing = [r for r in outcome.results if r.differences]
    count = sum(len(r.differences) for r in failing)
    taken = sum(len(r.accepted) for r in outcome.results)
    verdict = "FAILED" if outcome.failed else "passed"
    print(
        f"\n{verdict}: {len(failing)} step(s) differ ({count} difference(s)), {taken} accepted, "
        f"{len(outcome.errors)} error(s), {len(outcome.results)} step(s)",
        file=stdout,
    )


def scores(outcome: Outcome) -> dict[str, tuple[int, int, int, int]]:
    """api.operation -> (values compared, values that differ, steps, steps that differ)."""
    table: dict[str, list[int]] = {}
    for result in outcome.results:
        if result.skipped:
            continue
        row = table.setdefault(f"{result.api}.{result.operation}", [0, 0, 0, 0])
        differing = len(result.differences) + len(result.accepted)
        row[0] += max(result.checked, differing)
        row[1] += differing
        row[2] += 1
        row[3] += bool(result.differences)
    return {name: (a, b, c, d) for name, (a, b, c, d) in sorted(table.items())}


def testcases(outcome: Outcome) -> list[junit.Testcase]:
    made = []
    for result in outcome.results:
        testcase = junit.Testcase(
            f"parity.{result.api}.{result.case}", f"{result.step} ({result.operation})"
        )
        if result.differences:
            testcase.failure = "\n".join(lines(d) for d in result.differences)
            if result.explanation:
                testcase.failure += f"\nexplained by the {result.explanation}"
        testcase.skipped = result.skipped
        testcase.output = "\n".join(
            f"accepted {lines(d)}: {skip.reason}" for d, skip in result.accepted
        )
        made.append(testcase)
    for index, error in enumerate(outcome.errors):
        made.append(junit.Testcase("parity.errors", f"error {index + 1}", failure=error))
    return made
