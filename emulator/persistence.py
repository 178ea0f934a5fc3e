"""--data-file: every namespace's state in a snapshot file and an append-only change log.

Files, for ``--data-file state.json``:

- ``state.json``: a snapshot, ``{"version": 2, "generation": G, "namespaces": {...}}``,
  written whole or not at all (:class:`~emulator.state.DataFile`).
- ``state.json.G.log``: the writes since snapshot ``G`` began, one JSON array a line
  (``["put", ns, collection, key, doc]``, ``["del", ns, collection, key]``,
  ``["set", ns, state]`` for a restored snapshot, ``["drop", ns]`` for a reset), after a
  header line ``{"log": 1, "generation": G}``. A later log (``G+1``...) follows it.

A write is encoded as it happens (its cost is its own size, whatever the state holds) and
queued; the writer thread appends what is queued to the log at once, fsyncs it every
50 ms (``--fsync always``: before the write is answered), and when the log outgrows the
snapshot, the compactor thread writes a new snapshot (generation ``G+1``) while the writer
carries on into log ``G+1``; the older files go once the new snapshot is on disk. So a
SIGKILL loses only what was queued in the last moments, and a crash at any point leaves
files that load: a snapshot, then its logs in order, a log's last line dropped if it was
cut short. A clean stop writes one last snapshot and removes the logs.

The writer survives every failure (a full disk, a read-only folder, a document JSON
cannot hold): it logs the failure once, reports it (:attr:`Persistence.status`, shown by
``GET /_emulator/health``), and retries with backoff by writing a whole snapshot, after
which it carries on as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from emulator.errors import shortened
from emulator.files import remove_stale_temporaries, sync_folder
from emulator.state import DataFile, Doc, StateError, StateSchema

log = logging.getLogger("emulator.persistence")

VERSION = 2
SYNC_INTERVAL = 0.05  # default mode: what is written is fsynced at least this often
RETRY_FIRST, RETRY_MAX = 0.1, 5.0  # seconds between attempts after a failure, doubling
MIN_LOG_BYTES = 1 << 20  # a log is compacted once over max(this, the snapshot's size)
MODES = ("batch", "always")


class DataFileError(ValueError):
    """A data file (or its change log) this emulator cannot load; names the file and field."""


class NotPersisted(Exception):
    """``--fsync always``: the write could not be put on disk (the reason is the message)."""


@dataclass
class Saved:
    """What the files hold: the snapshot's namespaces, then the logs' records in order."""

    namespaces: dict[str, dict[str, dict[str, Doc]]] = field(default_factory=dict)
    records: list[list[Any]] = field(default_factory=list)


@dataclass(frozen=True)
class _Switch:
    """In the queue: the writes after this belong to log ``generation``."""

    generation: int


def log_path(path: Path, generation: int) -> Path:
    return path.with_name(f"{path.name}.{generation}.log")


def log_files(path: Path) -> dict[int, Path]:
    """The change logs beside ``path``, by generation."""
    pattern = re.compile(re.escape(path.name) + r"\.(\d{1,18})\.log")
    found = {}
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return found
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if match:
            found[int(match.group(1))] = Path(entry.path)
    return dict(sorted(found.items()))


def describe(exc: BaseException) -> str:
    """A failure in a few words (an OSError without its temporary file's name: the caller
    names the file it was writing)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"[Errno {exc.errno}] {exc.strerror}"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, RecursionError) or "recursion" in text.lower():
        text = f"nested too deep to write as JSON ({text})"
    return text if len(text) <= 300 else text[:300] + "..."


class _Recorder:
    """One namespace's :class:`~emulator.state.Changes`: each write, encoded, to the queue."""

    __slots__ = ("_namespace", "_persistence")

    def __init__(self, persistence: Persistence, namespace: str) -> None:
        self._persistence = persistence
        self._namespace = namespace

    def put(self, collection: str, key: str, doc: Doc) -> None:
        self._persistence.record(("put", self._namespace, collection, key, doc))

    def delete(self, collection: str, key: str) -> None:
        self._persistence.record(("del", self._namespace, collection, key))

    def replace(self, state: dict[str, dict[str, Doc]], encoded: bytes | None) -> None:
        if encoded is None:
            self._persistence.record(("set", self._namespace, state))
        else:
            self._persistence.record(("set", self._namespace, orjson.Fragment(encoded)))


class Persistence:
    """The data file of one server: load it, then keep it up to date (see the module doc).

    ``always``: every write is on disk before it is answered (:meth:`durable`). ``clock``
    (monotonic seconds) paces fsyncs and retries; :meth:`step` does one round of the
    writer's work, so a test can drive it without its thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        always: bool = False,
        clock: Callable[[], float] = time.monotonic,
        sync_interval: float = SYNC_INTERVAL,
        retry: tuple[float, float] = (RETRY_FIRST, RETRY_MAX),
        min_log_bytes: int = MIN_LOG_BYTES,
    ) -> None:
        self.path = path
        self.always = always
        self._clock = clock
        self._sync_interval = sync_interval
        self._retry = retry
        self._min_log_bytes = min_log_bytes
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._snapshot_lock = threading.Lock()  # one snapshot written at a time, in order
        self._file = DataFile(path, lambda: self._payload)
        self._payload: Any = None
        self._live: Callable[[], dict[str, Any]] = dict
        # Queue and counters (under _lock): records appended, written, on disk.
        self._queue: list[bytes | _Switch] = []
        self.appended = 0
        self._written = 0
        self._synced = 0
        self._waiters: list[tuple[int, asyncio.Future[None], asyncio.AbstractEventLoop]] = []
        self._generation = 0
        # The writer's own (its thread, or whoever calls step()).
        self._log: BinaryIO | None = None
        self._log_generation = 0
        self._switch_queued = False  # a snapshot's switch to a new log not yet made
        self._log_bytes = 0
        self._snapshot_bytes = 0
        self._last_sync = 0.0
        self._unsynced = False
        # Failures: the writer's (then it is broken until a snapshot lands) and the
        # compactor's (the logs still hold everything; retried later).
        self._broken: str | None = None
        self._failures = 0
        self._retry_at = 0.0
        self._compaction_error: str | None = None
        self._compaction_failures = 0
        self._reported: str | None = None  # the failure last logged (each is logged once)
        self._compact_wanted = threading.Event()
        # The syncer's (batch mode, with threads): a duplicate of the current log's file
        # descriptor to fsync, and how many records were written to it.
        self._sync_lock = threading.Lock()
        self._sync_fd: int | None = None
        self._sync_wanted = threading.Event()
        self._stopping = False
        self._stopped = threading.Event()  # the timed waits of the syncer and compactor
        self._threads: list[threading.Thread] = []

    # --- loading -------------------------------------------------------------------------

    def load(self, schema: StateSchema, names: re.Pattern[str]) -> Saved:
        """The snapshot and the logs after it, each checked against the state schema
        (:class:`DataFileError` naming the file, the line for a log, and the field).
        Temporary files a crash left behind are removed first."""
        try:
            return self._load(schema, names)
        except OSError as exc:
            raise DataFileError(f"{self.path}: cannot be read ({describe(exc)})") from None

    def _load(self, schema: StateSchema, names: re.Pattern[str]) -> Saved:
        for stale in remove_stale_temporaries(self.path):
            log.warning(
                "%s: removed %s, a temporary file left by a server that was stopped "
                "while writing it",
                self.path,
                stale.name,
            )
        try:
            doc = self._file.read()
        except ValueError as exc:
            raise DataFileError(str(exc)) from None
        saved = Saved()
        generation = 0
        logs = log_files(self.path)
        if doc is None:
            if logs:
                first = next(iter(logs.values()))
                raise DataFileError(
                    f"{first}: a change log without its data file {self.path} "
                    "(remove the logs too to start afresh)"
                )
        else:
            generation = self._check_snapshot(doc, schema, names, saved)
        for number, path in logs.items():
            if number < generation:
                continue  # already in the snapshot: removed once the next one is written
            if number != generation and number - 1 not in logs:
                raise DataFileError(
                    f"{path}: change log {number - 1} is missing before it "
                    f"(the snapshot {self.path.name} is generation {generation})"
                )
            saved.records.extend(self._read_log(path, number, schema, names))
        self._generation = max([generation, *logs])
        return saved

    def _check_snapshot(
        self, doc: Any, schema: StateSchema, names: re.Pattern[str], saved: Saved
    ) -> int:
        where = self.path
        if not isinstance(doc, dict):
            raise DataFileError(f"{where}: not a state file (not a JSON object)")
        unknown = set(doc) - {"version", "generation", "namespaces"}
        if unknown:
            raise DataFileError(
                f"{where}: {sorted(unknown)[0]}: unknown field; a state file "
                "holds version, generation and namespaces"
            )
        version = doc.get("version", 1)
        if version not in (1, VERSION):
            raise DataFileError(
                f"{where}: version: {version!r} is not a version this emulator reads (1, {VERSION})"
            )
        generation = doc.get("generation", 0)
        if type(generation) is not int or generation < 0:
            raise DataFileError(f"{where}: generation: {generation!r} is not a whole number")
        namespaces = doc.get("namespaces", {})
        if not isinstance(namespaces, dict):
            raise DataFileError(
                f"{where}: not a state file (namespaces: {_short(namespaces)} is not an object)"
            )
        for name, state in namespaces.items():
            if not names.match(name):
                raise DataFileError(f"{where}: namespaces.{_short(name)}: not a namespace name")
            try:
                schema.check(state)
            except StateError as exc:
                raise DataFileError(f"{where}: {exc.within(f'namespaces.{name}')}") from None
        saved.namespaces = namespaces
        return generation

    def _read_log(
        self, path: Path, generation: int, schema: StateSchema, names: re.Pattern[str]
    ) -> list[list[Any]]:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataFileError(f"{path}: cannot be read ({exc.strerror or exc})") from None
        lines = data.split(b"\n")
        tail = lines.pop()  # what follows the last newline: nothing, unless cut short
        if tail.strip(b"\0"):
            log.warning(
                "%s: dropped its last record, cut short (%d bytes): the server was "
                "stopped while writing it",
                path,
                len(tail),
            )
        if not lines:
            return []
        try:
            header = orjson.loads(lines[0])
        except orjson.JSONDecodeError:
            header = None
        if header != {"log": 1, "generation": generation}:
            raise DataFileError(
                f"{path}: line 1: not a change log of generation {generation} "
                f"(its header is {_short(lines[0])})"
            )
        records = []
        for number, line in enumerate(lines[1:], start=2):
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise DataFileError(
                    f"{path}: line {number}: not a change record (corrupt: {exc})"
                ) from None
            problem = _record_problem(record, schema, names)
            if problem is not None:
                raise DataFileError(f"{path}: line {number}: {problem}")
            records.append(record)
        return records

    # --- running -------------------------------------------------------------------------

    def open(self, live: Callable[[], dict[str, Any]]) -> None:
        """Begin: a snapshot of ``live()`` (``{namespace: {collection: {key: doc}}}``, the
        documents themselves) and a fresh log. Raises OSError when the folder cannot
        take them (the server should not start)."""
        self._live = live
        self._compact(inline=True)

    def start(self) -> None:
        loops = [
            (self._write_loop, "emulator-data-file"),
            (self._compact_loop, "emulator-data-file-compactor"),
        ]
        if not self.always:  # fsyncs apart, so a slow disk never holds up the appends
            loops.append((self._sync_loop, "emulator-data-file-sync"))
        for target, name in loops:
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def recorder(self, namespace: str) -> _Recorder:
        return _Recorder(self, namespace)

    def dropped(self, namespace: str) -> None:
        self.record(("drop", namespace))

    def record(self, record: tuple[Any, ...]) -> None:
        """Queue one write (encoded now: the document may change after)."""
        try:
            line = orjson.dumps(record) + b"\n"
        except TypeError as exc:
            where = f"namespace {record[1]!r}" + (
                f", {record[2]}.{record[3]}" if record[0] == "put" else ""
            )
            with self._lock:
                self.appended += 1
                self._fail_locked(f"{where}: cannot be written as JSON ({describe(exc)})")
            return
        with self._lock:
            self._queue.append(line)
            self.appended += 1
            if self._broken is None:
                self._wake.notify()

    @property
    def status(self) -> str:
        """``ok``, or ``failing: <reason>`` while writes cannot reach the disk."""
        problem = self._broken or self._compaction_error
        return "ok" if problem is None else f"failing: {problem}"

    async def durable(self, seq: int) -> None:
        """Return once the first ``seq`` writes are on disk (``--fsync always``);
        :class:`NotPersisted` when they cannot be put there."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._synced >= seq:
                return
            if self._broken is not None:
                raise NotPersisted(self._broken)
            future: asyncio.Future[None] = loop.create_future()
            self._waiters.append((seq, future, loop))
            self._wake.notify()
        await future

    def step(self) -> float | None:
        """One round of the writer: append what is queued, fsync when due, ask for a
        snapshot when the log has grown; when broken, retry once it is time. Returns the
        seconds until it has something to do again (None: not until a write comes)."""
        now = self._clock()
        with self._lock:
            if self._broken is not None:
                if now < self._retry_at:
                    return self._retry_at - now
                batch: list[bytes | _Switch] = []
                recover = True
            else:
                batch, self._queue = self._queue, []
                upto = self.appended
                recover = False
        if recover:
            return 0.0 if self._recover() else self._retry_at - now
        try:
            if batch:
                self._append(batch)
            with self._lock:
                self._written = upto
            if self._unsynced and not self.always and self._threads:
                self._sync_wanted.set()  # the syncer's work (batch mode, threads running)
            elif self._unsynced and (self.always or now - self._last_sync >= self._sync_interval):
                self._sync(upto, now)
        except Exception as exc:
            with self._lock:
                self._fail_locked(f"writing {self._log_name()}: {describe(exc)}")
            return self._retry_at - now
        if (
            self._log_bytes >= max(self._min_log_bytes, self._snapshot_bytes)
            and not self._switch_queued
        ):
            self._compact_wanted.set()
        if self._unsynced and not (self._threads and not self.always):
            return max(0.0, self._last_sync + self._sync_interval - now)
        return None

    def compact(self) -> None:
        """Write a snapshot now, the writer going on into a new log (the compactor's work;
        failures are reported and retried, the logs keep everything meanwhile)."""
        try:
            self._compact(inline=False)
        except Exception as exc:
            self._compaction_failures += 1
            self._compaction_error = f"writing {self.path.name}: {describe(exc)}"
            self._report(self._compaction_error)
            return
        if self._compaction_error is not None:
            self._compaction_error = None
            self._compaction_failures = 0
            self._report(None)

    def close(self) -> str | None:
        """Stop the threads and write the last snapshot, removing the logs. Returns why
        that failed (the writes that did not reach the disk are lost), or None."""
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._stopped.set()
        self._compact_wanted.set()
        self._sync_wanted.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads = []
        if self._broken is None:
            self.always, self._sync_interval = True, 0.0  # what is queued goes out now
            self.step()
        try:
            self._compact(inline=True, final=True)
        except Exception as exc:
            kept = [] if self._broken else list(log_files(self.path).values())
            where = f"; the writes up to the stop are in {kept[-1].name}" if kept else ""
            return f"could not write {self.path}: {describe(exc)}{where}"
        finally:
            self._close_log()
        return None

    # --- the writer's work ---------------------------------------------------------------

    def _append(self, batch: list[bytes | _Switch]) -> None:
        chunk: list[bytes] = []
        for item in batch:
            if isinstance(item, _Switch):
                self._write(b"".join(chunk))
                chunk = []
                self._sync_log()
                self._open_log(item.generation)
            else:
                chunk.append(item)
        self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        if not data:
            return
        if self._log is None:
            raise OSError(f"no change log open for {self.path.name}")
        view = memoryview(data)
        while view:
            done = self._log.write(view)
            view = view[done:]
        self._log_bytes += len(data)
        self._unsynced = True

    def _sync(self, upto: int, now: float) -> None:
        self._sync_log()
        self._last_sync = now
        with self._lock:
            self._synced = max(self._synced, upto)
            self._resolve_locked()

    def _sync_log(self) -> None:
        if self._log is not None and self._unsynced:
            os.fsync(self._log.fileno())
        self._unsynced = False

    def _open_log(self, generation: int) -> None:
        self._close_log()
        path = log_path(self.path, generation)
        handle = open(path, "wb", buffering=0)
        try:
            handle.write(orjson.dumps({"log": 1, "generation": generation}) + b"\n")
            os.fsync(handle.fileno())
        except BaseException:
            handle.close()
            raise
        sync_folder(path.parent)
        self._log, self._log_bytes, self._unsynced = handle, 0, False
        duplicate = os.dup(handle.fileno())
        with self._sync_lock:
            old, self._sync_fd = self._sync_fd, duplicate
        if old is not None:
            os.close(old)
        self._log_generation, self._switch_queued = generation, False

    def _close_log(self) -> None:
        with self._sync_lock:
            old, self._sync_fd = self._sync_fd, None
        if old is not None:
            os.close(old)
        if self._log is not None:
            try:
                self._log.close()
            except OSError:
                pass
            self._log = None

    def _log_name(self) -> str:
        return log_path(self.path, self._log_generation).name if self._log else self.path.name

    def _compact(self, *, inline: bool, final: bool = False) -> None:
        """A snapshot of every namespace as generation G+1. The writes queued before it are
        in it; inline (start, recovery, stop: the writer is not running) the queue is
        dropped and log G+1 opened here, else a switch is queued for the writer."""
        with self._snapshot_lock:
            with self._lock:
                if not inline and self._broken is not None:
                    return  # the writer's recovery writes the snapshot
                generation = self._generation + 1
                # One orjson call over the live documents: no other thread runs Python
                # while it encodes, so it is the state as of this line, whole.
                self._payload = {
                    "version": VERSION,
                    "generation": generation,
                    "namespaces": self._live(),
                }
                try:
                    encoded = orjson.dumps(self._payload)
                finally:
                    self._payload = None
                self._generation = generation
                seq = self.appended
                if inline:
                    self._queue.clear()
                else:
                    self._queue.append(_Switch(generation))
                    self._switch_queued = True
                    self._wake.notify()
            self._payload = orjson.Fragment(encoded)
            try:
                self._snapshot_bytes = self._file.flush()
            finally:
                self._payload = None
            if inline and not final:
                self._open_log(generation)
            elif final:
                self._close_log()
            for number, path in log_files(self.path).items():
                if number < generation or final:
                    path.unlink(missing_ok=True)
            if inline:
                with self._lock:
                    self._written = self._synced = max(self._synced, seq)
                    self._resolve_locked()

    def _recover(self) -> bool:
        """A whole snapshot and a fresh log, after a failure; whether it worked."""
        self._close_log()
        try:
            self._compact(inline=True)
        except Exception as exc:
            with self._lock:
                self._fail_locked(f"writing {self.path.name}: {describe(exc)}")
            return False
        with self._lock:
            self._broken = None
            self._failures = 0
        self._report(self._compaction_error)
        return True

    def _fail_locked(self, reason: str) -> None:
        """Broken until a snapshot lands: the queue is dropped (the snapshot will hold it),
        waiting writes are told, the next attempt is put off (doubling, up to a cap)."""
        self._broken = reason
        self._queue.clear()
        self._switch_queued = False
        self._failures += 1
        first, cap = self._retry
        self._retry_at = self._clock() + min(cap, first * 2 ** (self._failures - 1))
        for _, future, loop in self._waiters:
            loop.call_soon_threadsafe(_fail, future, reason)
        self._waiters.clear()
        self._wake.notify()
        self._report(reason)

    def _resolve_locked(self) -> None:
        done = [w for w in self._waiters if w[0] <= self._synced]
        if done:
            self._waiters = [w for w in self._waiters if w[0] > self._synced]
            for _, future, loop in done:
                loop.call_soon_threadsafe(_succeed, future)

    def _report(self, reason: str | None) -> None:
        """Log a failure once (not again while it repeats), and the recovery."""
        if reason == self._reported:
            return
        if reason is None:
            log.warning("%s: persisting again", self.path)
        else:
            log.error("%s: persistence failing (retrying with backoff): %s", self.path, reason)
        self._reported = reason

    # --- threads -------------------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            delay = self.step()
            with self._lock:
                if self._stopping:
                    return
                if not self._queue or self._broken is not None:
                    if delay is None or delay > 0:
                        self._wake.wait(timeout=delay)

    def _sync_loop(self) -> None:
        """Batch mode: fsync what the writer wrote, at most every ``sync_interval``."""
        while True:
            self._sync_wanted.wait()
            if self._stopping:
                return
            with self._lock:
                due = self._last_sync + self._sync_interval - self._clock()
            if due > 0:
                self._stopped.wait(timeout=due)
                continue
            self._sync_wanted.clear()
            with self._sync_lock:
                fd = None if self._sync_fd is None else os.dup(self._sync_fd)
                upto = self._written
            if fd is None:
                continue
            try:
                os.fsync(fd)
            except OSError as exc:
                with self._lock:
                    self._fail_locked(f"syncing {self._log_name()}: {describe(exc)}")
                continue
            finally:
                os.close(fd)
            with self._lock:
                self._last_sync = self._clock()
                self._synced = max(self._synced, upto)
                self._resolve_locked()

    def _compact_loop(self) -> None:
        while True:
            self._compact_wanted.wait()
            if self._stopping:
                return
            self._compact_wanted.clear()
            self.compact()
            if self._compaction_error is not None:
                first, cap = self._retry
                delay = min(cap, first * 2 ** (self._compaction_failures - 1))
                self._stopped.wait(timeout=delay)
                self._compact_wanted.set()


def _succeed(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _fail(future: asyncio.Future[None], reason: str) -> None:
    if not future.done():
        future.set_exception(NotPersisted(reason))


def _short(value: Any) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    return shortened(text, 80)


def _record_problem(record: Any, schema: StateSchema, names: re.Pattern[str]) -> str | None:
    """What is wrong with one change record, or None."""
    shapes = {"put": 5, "del": 4, "set": 3, "drop": 2}
    if (
        not isinstance(record, list)
        or not record
        or record[0] not in shapes
        or len(record) != shapes[record[0]]
    ):
        return f"not a change record ({_short(record)})"
    namespace = record[1]
    if not isinstance(namespace, str) or not names.match(namespace):
        return f"{_short(namespace)} is not a namespace name"
    try:
        if record[0] == "put":
            schema.check_document(record[2], record[3], record[4])
        elif record[0] == "del":
            if record[2] not in schema.indexes or not isinstance(record[3], str):
                return (
                    f"namespace {namespace!r}: not a document of a known collection "
                    f"({_short(record[2])}, {_short(record[3])})"
                )
        elif record[0] == "set":
            schema.check(record[2])
    except StateError as exc:
        return f"namespace {namespace!r}: {exc}"
    return None
