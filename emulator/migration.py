"""The JSON data file of earlier versions, read once to move it into SQLite.

For ``--data-file state.json``: ``state.json`` is a snapshot, ``{"version": 2, "generation":
G, "namespaces": {name: {collection: {key: document}}}}`` (version 1 had no generation), and
``state.json.G.log``, ``G+1``... the writes since: a header line ``{"log": 1, "generation":
G}``, then a JSON array a line, ``["put", ns, collection, key, doc]``, ``["del", ns,
collection, key]``, ``["set", ns, state]`` (a restored snapshot) or ``["drop", ns]`` (a
reset). A last line cut short (a kill while it was written) is dropped.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import Any

import orjson

from emulator.errors import echo
from emulator.state import clone
from emulator.state_schema import Doc, StateError, StateSchema

log = logging.getLogger("emulator.persistence")

Namespaces = dict[str, dict[str, dict[str, Doc]]]
ARITY = {"put": 5, "del": 4, "set": 3, "drop": 2}


class DataFileError(ValueError):
    """A data file this emulator cannot use; the message names the file and the field."""


def backup_folder(path: Path) -> Path:
    """Where the JSON files go once moved into SQLite."""
    return path.with_name(path.name + ".before-sqlite")


def log_files(path: Path) -> dict[int, Path]:
    """The change logs beside ``path``, by generation."""
    pattern = re.compile(re.escape(path.name) + r"\.(\d{1,18})\.log")
    found = {}
    for entry in os.scandir(path.parent):
        if match := pattern.fullmatch(entry.name):
            found[int(match.group(1))] = Path(entry.path)
    return dict(sorted(found.items()))


def read(
    path: Path, data: bytes, schema: StateSchema, names: re.Pattern[str], seed: dict[str, Any]
) -> tuple[Namespaces, list[Path]]:
    """The namespaces the files hold (``data``: the snapshot's bytes), then the writes of
    its logs (a namespace the snapshot lacks starts from ``seed``), each namespace checked
    by the state schema; and the logs read."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DataFileError(f"{path}: not a state file (not JSON: {exc})") from None
    if not isinstance(doc, dict):
        raise DataFileError(f"{path}: not a state file (not a JSON object)")
    if unknown := set(doc) - {"version", "generation", "namespaces"}:
        raise DataFileError(
            f"{path}: {sorted(unknown)[0]}: unknown field; a state file "
            "holds version, generation and namespaces"
        )
    if (version := doc.get("version", 1)) not in (1, 2):
        raise DataFileError(
            f"{path}: version: {version!r} is not a version this emulator reads (1, 2)"
        )
    generation = doc.get("generation", 0)
    if type(generation) is not int or generation < 0:
        raise DataFileError(f"{path}: generation: {generation!r} is not a whole number")
    namespaces = doc.get("namespaces", {})
    if not isinstance(namespaces, dict):
        raise DataFileError(
            f"{path}: not a state file (namespaces: {echo(namespaces)} is not an object)"
        )
    _check(path, namespaces, schema, names)
    logs = {number: log for number, log in log_files(path).items() if number >= generation}
    for number, log_path in logs.items():
        if number != generation and number - 1 not in logs:
            raise DataFileError(
                f"{log_path}: change log {number - 1} is missing before it "
                f"(the snapshot {path.name} is generation {generation})"
            )
        for line, record in _records(log_path, number, names):
            try:
                _apply(namespaces, record, schema, seed)
            except (KeyError, TypeError, AttributeError):
                raise DataFileError(
                    f"{log_path}: line {line}: not a change record ({echo(record)})"
                ) from None
    _check(path, namespaces, schema, names)
    return namespaces, list(logs.values())


def _check(
    path: Path, namespaces: dict[Any, Any], schema: StateSchema, names: re.Pattern[str]
) -> None:
    for name, state in namespaces.items():
        if not names.match(name):
            raise DataFileError(f"{path}: namespaces.{echo(name)}: not a namespace name")
        try:
            schema.check(state)
        except StateError as exc:
            raise DataFileError(f"{path}: {exc.within(f'namespaces.{name}')}") from None


def _records(path: Path, generation: int, names: re.Pattern[str]) -> list[tuple[int, list[Any]]]:
    lines = path.read_bytes().split(b"\n")
    if tail := lines.pop().strip(b"\0"):  # what follows the last newline: cut short
        log.warning("%s: dropped its last record, cut short (%d bytes)", path, len(tail))
    records = []
    for number, line in enumerate(lines, start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            record = f"corrupt: {exc}"
        if number == 1 and record != {"log": 1, "generation": generation}:
            raise DataFileError(
                f"{path}: line 1: not a change log of generation {generation} "
                f"(its header is {echo(line.decode('utf-8', 'replace'))})"
            )
        if number > 1 and not (
            isinstance(record, list)
            and record
            and ARITY.get(record[0]) == len(record)
            and isinstance(record[1], str)
            and names.match(record[1])
        ):
            raise DataFileError(f"{path}: line {number}: not a change record ({echo(record)})")
        if number > 1:
            records.append((number, record))
    return records


def _apply(namespaces: Namespaces, record: list[Any], schema: StateSchema, seed: Any) -> None:
    """One logged write, as the server made it (a namespace first used starts from the seed)."""
    operation, name = record[0], record[1]
    if operation == "drop":
        namespaces.pop(name, None)
        return
    state = namespaces.setdefault(name, clone(seed))
    if operation == "put":
        state.setdefault(record[2], {})[record[3]] = record[4]
    elif operation == "del":
        state.get(record[2], {}).pop(record[3], None)
    else:  # set: the collections it leaves out are emptied, the kept ones (id counters) kept
        kept = {c: docs for c, docs in state.items() if c in schema.kept}
        namespaces[name] = {**{c: {} for c in state}, **kept, **record[2]}
