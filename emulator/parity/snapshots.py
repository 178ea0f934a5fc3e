"""Snapshot files: one case's recording (the case itself, the vendor's answers with labels in
place of noise and secrets), ``<api>.<case>.json`` in a snapshots folder."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from emulator.files import write_atomically
from emulator.parity import cases
from emulator.parity.cases import Case, CaseError

FORMAT = 1


class SnapshotError(ValueError):
    """A file that is not a snapshot (the message names it and what is wrong)."""


@dataclass
class Snapshot:
    case: Case
    target: str
    recorded_at: str
    source: str  # "record" (two runs against the target) or "har" (one capture)
    vars: dict[str, Any]
    steps: list[dict[str, Any]]  # {"name", "operation", "request", "response", "unstable"}
    stopped: dict[str, str] | None = None
    redact: list[str] = field(default_factory=list)

    @property
    def api(self) -> str:
        return self.case.api

    @property
    def file_name(self) -> str:
        return f"{self.case.api}.{self.case.name}.json"

    def to_doc(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "snapshot": FORMAT,
            "api": self.api,
            "case": self.case.name,
            "target": self.target,
            "recordedAt": self.recorded_at,
            "source": self.source,
            "redact": self.redact,
            "vars": self.vars,
            "steps": self.steps,
        }
        if self.stopped:
            doc["stopped"] = self.stopped
        doc["definition"] = dict(self.case.source)
        return doc


def public_target(url: str) -> str:
    """The target as a snapshot keeps it: no user, password, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def write(snapshot: Snapshot, folder: Path, check: Any) -> Path:
    """Write ``snapshot`` into ``folder``; ``check(text, where)`` refuses a text holding a secret
    (nothing is written then)."""
    path = folder / snapshot.file_name
    text = orjson.dumps(snapshot.to_doc(), option=orjson.OPT_INDENT_2).decode() + "\n"
    check(text, str(path))
    write_atomically(path, lambda handle: handle.write(text))
    return path


def read(path: Path) -> Snapshot:
    try:
        doc = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise SnapshotError(f"{path}: not a snapshot: {exc}") from None
    if not isinstance(doc, dict) or doc.get("snapshot") != FORMAT:
        raise SnapshotError(f"{path}: not a snapshot of format {FORMAT}")
    try:
        case = cases.from_doc(doc["definition"], f"{path}: definition")
        steps = doc["steps"]
        if not all(isinstance(step, dict) and step["name"] for step in steps):
            raise KeyError("steps")
        for step in steps:
            case.step(step["name"])
            step["response"]["status"]
        return Snapshot(
            case=case,
            target=doc["target"],
            recorded_at=doc["recordedAt"],
            source=doc["source"],
            vars=doc["vars"],
            steps=steps,
            stopped=doc.get("stopped"),
            redact=list(doc.get("redact", [])),
        )
    except CaseError as exc:
        raise SnapshotError(str(exc)) from None
    except (KeyError, TypeError, StopIteration) as exc:
        raise SnapshotError(f"{path}: not a snapshot: {exc!r} is missing or wrong") from None


def read_all(folder: Path) -> list[Snapshot]:
    if not folder.is_dir():
        raise SnapshotError(f"{folder}: no such folder")
    files = sorted(folder.glob("*.json"))
    if not files:
        raise SnapshotError(f"{folder}: no snapshots (*.json) in it")
    return [read(path) for path in files]
