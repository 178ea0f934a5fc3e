"""`parity config`: the fixture file whose configuration removes the differences the vendor's
recorded answers explain (its settings moved as the probes say; seed data kept)."""

from __future__ import annotations

from pathlib import Path
from typing import IO, Any

import yaml

from emulator.files import write_atomically
from emulator.fixtures import load_fixture_file
from emulator.parity import settings
from emulator.parity.snapshots import Snapshot
from emulator.vendors import VENDORS


class ConfigError(ValueError):
    """Snapshots or fixtures that cannot give one configuration (the message says why)."""


def evidence(snapshots: list[Snapshot]) -> list[settings.Evidence]:
    found = []
    for snapshot in snapshots:
        for recorded in snapshot.steps:
            step = snapshot.case.step(recorded["name"])
            where = f"{snapshot.api}.{snapshot.case.name}/{step.name}"
            item = settings.evidence(step, recorded["response"], where)
            if item is not None:
                found.append(item)
    return found


def fixture_file(
    snapshots: list[Snapshot], api: str, fixtures: Path
) -> tuple[dict[str, Any], list[str]]:
    """The fixture document (``fixtures``' own for ``api``, its ``config`` replaced) and a line
    per setting changed or left alone."""
    vendor = next(vendor for vendor in VENDORS if vendor.name == api)
    path = fixtures / f"{api}.yaml"
    base = load_fixture_file(path, dict(vendor.fixture_schema)) if path.exists() else {}
    _, config = vendor.load_fixtures(base)
    config, said = settings.infer(api, config, evidence([s for s in snapshots if s.api == api]))
    return {"config": config, **{k: v for k, v in base.items() if k != "config"}}, said


def write(
    snapshots: list[Snapshot], api: str | None, fixtures: Path, out: Path, stdout: IO[str]
) -> int:
    apis = sorted({snapshot.api for snapshot in snapshots})
    if api is None:
        if len(apis) > 1:
            raise ConfigError(f"the snapshots hold {' and '.join(apis)}: choose one with --api")
        api = apis[0]
    elif api not in apis:
        raise ConfigError(f"the snapshots hold no {api} case")
    doc, said = fixture_file(snapshots, api, fixtures)
    header = [
        f"# {api} fixtures: the configuration the vendor's recorded answers call for",
        "# (profile-emulator parity config); seed data from "
        f"{fixtures / f'{api}.yaml'}. Serve it as {api}.yaml",
        "# in a fixtures folder: profile-emulator serve --fixtures DIR.",
        *(f"#   {line}" for line in said or ["no setting differs"]),
    ]
    text = "\n".join(header) + "\n" + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    write_atomically(out, lambda handle: handle.write(text))
    for line in said or ["no probed setting differs from the emulator's"]:
        print(f"{api}: {line}", file=stdout)
    print(f"wrote {out}", file=stdout)
    return 0
