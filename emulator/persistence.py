"""--data-file: every namespace's documents in a SQLite database (the standard library's
sqlite3, WAL mode), written by the calls that make them (ARCHITECTURE.md, "The data file").

A call's writes are one transaction, committed on the event loop's thread before the answer
(a SIGKILL loses nothing answered) or rolled back, its writes undone in memory too (a call
answered with an error keeps nothing). The syncer's thread (emulator/syncer.py) fsyncs the
WAL and checkpoints it. A ``flock`` on the file keeps a second server out.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import orjson

from emulator import migration
from emulator.errors import echo
from emulator.files import describe, remove_stale_temporaries, sync_folder, temporary_prefix
from emulator.migration import DataFileError, Namespaces
from emulator.state_schema import Doc, StateError, StateSchema
from emulator.syncer import Syncer, log_status

if TYPE_CHECKING:
    from emulator.state import Collection, Store

__all__ = ["MODES", "DataFileError", "NotPersisted", "Persistence"]

log = logging.getLogger("emulator.persistence")

MODES = ("batch", "always")
APPLICATION_ID = 0x50454D55  # "PEMU" (PRAGMA application_id): a file of this emulator
FORMAT = 1  # PRAGMA user_version: these tables
TABLES = (
    "CREATE TABLE namespaces (name TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TABLE documents (namespace TEXT NOT NULL, collection TEXT NOT NULL, "
    "key TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (namespace, collection, key)) "
    "WITHOUT ROWID",
)
PUT = (  # an upsert: half the work of INSERT OR REPLACE, which deletes, then inserts
    "INSERT INTO documents VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO UPDATE SET document = excluded.document"
)
DELETE = "DELETE FROM documents WHERE namespace = ? AND collection = ? AND key = ?"
Tables = dict[str, dict[str, Doc]]  # one namespace's
# (namespace, collection, key, document, what it replaced): a put, or a delete (document
# None); a restored snapshot: (namespace, store, None, None, the tables it replaced).
Write = tuple[str, Any, str | None, Doc | None, Any]


class NotPersisted(Exception):
    """The data file could not take a call's writes (they are undone); the reason."""


class Persistence:
    """One server's data file: :meth:`load`, :meth:`start`; each store's :class:`Recorder`
    writes into the open transaction, which :meth:`commit` ends (or :meth:`rollback`)."""

    def __init__(self, path: Path, *, always: bool = False) -> None:
        self.path, self.always = path, always
        self._lock: int | None = None  # the descriptor holding the flock
        self._db: sqlite3.Connection | None = None  # the event loop's: every write
        self._legacy: tuple[Namespaces, list[Path]] | None = None  # JSON files to move in
        self.writes: list[Write] = []  # the call's, oldest first
        self.undoing = False  # undoing writes the file never had: nothing to write
        self._failing: str | None = None  # why the last commit failed, until one succeeds
        self.syncer = Syncer(path, always=always, connect=_connect)

    def load(self, schema: StateSchema, names: re.Pattern[str], seed: Any) -> Namespaces:
        """Lock the file, then its namespaces, each checked by the state schema (a JSON
        file of an earlier version is read, and moved into SQLite by :meth:`start`).
        :class:`DataFileError` names the file, and the field."""
        try:
            for stale in remove_stale_temporaries(self.path):
                log.warning("%s: removed %s, left by a start that was stopped", self.path, stale)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._lock = _locked(self.path)
            if os.pread(self._lock, 16, 0) not in (b"", b"SQLite format 3\x00"):
                self._legacy = migration.read(
                    self.path, self.path.read_bytes(), schema, names, seed
                )
                return self._legacy[0]
            self._db = _connect(self.path)
            return self._read(self._db, schema, names)
        except (DataFileError, OSError, sqlite3.DatabaseError) as exc:
            self._close()
            if isinstance(exc, OSError):
                raise DataFileError(f"{self.path}: cannot be read ({describe(exc)})") from None
            if isinstance(exc, sqlite3.DatabaseError):
                raise DataFileError(f"{self.path}: not a data file (SQLite: {exc})") from None
            raise

    def _read(
        self, db: sqlite3.Connection, schema: StateSchema, names: re.Pattern[str]
    ) -> Namespaces:
        found = db.execute("PRAGMA application_id").fetchone()[0]
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema")}
        if found == 0 and not tables:  # a new file
            _create(db, {})
        elif found != APPLICATION_ID or not {"namespaces", "documents"} <= tables:
            raise DataFileError(
                f"{self.path}: not a data file of this emulator (a SQLite database with "
                f"application_id {found}, tables: {', '.join(sorted(tables)) or 'none'})"
            )
        if (version := db.execute("PRAGMA user_version").fetchone()[0]) != FORMAT:
            raise DataFileError(f"{self.path}: user_version {version}: not a format it reads")
        db.execute("PRAGMA journal_mode = WAL")
        try:  # what a crash left in the WAL, copied into the database before it is read
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("%s: checkpoint: %s (the WAL keeps the writes)", self.path, exc)
        loaded: Namespaces = {row[0]: {} for row in db.execute("SELECT name FROM namespaces")}
        for name, collection, key, text in db.execute("SELECT * FROM documents"):
            try:
                loaded.setdefault(name, {}).setdefault(collection, {})[key] = orjson.loads(text)
            except (orjson.JSONDecodeError, TypeError) as exc:
                where = f"namespaces.{name}.{collection}.{key}"
                raise DataFileError(f"{self.path}: {where}: not a JSON document ({exc})") from None
        for name, state in loaded.items():
            if not isinstance(name, str) or not names.match(name):
                where = f"namespaces.{echo(name)}"
                raise DataFileError(f"{self.path}: {where}: not a namespace name")
            try:
                if state:  # none: every collection empty but the id counters, as a snapshot's
                    schema.check(state)
            except StateError as exc:
                raise DataFileError(f"{self.path}: {exc.within(f'namespaces.{name}')}") from None
        return loaded

    def start(self) -> None:
        """Move the JSON files of an earlier version in (they go to ``PATH.before-sqlite/``),
        then the syncer thread. :class:`DataFileError` when the file cannot be written."""
        try:
            if self._legacy is not None:
                self._migrate(*self._legacy)
                self._legacy = None
            assert self._db is not None
            self._db.execute("PRAGMA wal_autocheckpoint = 0")  # the syncer's, off the loop
        except (OSError, sqlite3.Error) as exc:
            self._close()
            reason = describe(exc) if isinstance(exc, OSError) else exc
            raise DataFileError(f"{self.path}: cannot be written ({reason})") from None
        self.syncer.start()

    def _migrate(self, namespaces: Namespaces, logs: list[Path]) -> None:
        """A new database beside the JSON files, locked, takes their path; they are linked
        into the backup folder first, so a crash at any point leaves them whole."""
        fd, temporary = tempfile.mkstemp(prefix=temporary_prefix(self.path), dir=self.path.parent)
        backup = migration.backup_folder(self.path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            db = sqlite3.connect(temporary, isolation_level=None)
            try:
                _create(db, namespaces)
            finally:
                db.close()
            os.fsync(fd)
            backup.mkdir(exist_ok=True)
            for old in (self.path, *logs):
                (backup / old.name).unlink(missing_ok=True)
                os.link(old, backup / old.name)
            sync_folder(backup)
            os.replace(temporary, self.path)
        except BaseException:
            os.close(fd)
            Path(temporary).unlink(missing_ok=True)
            raise
        sync_folder(self.path.parent)
        for old in logs:
            old.unlink()
        assert self._lock is not None
        os.close(self._lock)
        self._lock, self._db = fd, _connect(self.path)
        self._db.execute("PRAGMA journal_mode = WAL")
        log.warning("%s: moved into SQLite; its JSON files are kept in %s", self.path, backup)

    # --- writes ------------------------------------------------------------------------

    def recorder(self, name: str) -> Recorder:
        """Namespace ``name``'s :class:`~emulator.state.Changes`."""
        return Recorder(self, name)

    def made(self, name: str, tables: Tables) -> None:
        """A namespace made: written whole and committed now (else :class:`NotPersisted`)."""
        self._now(partial(_write_namespace, name=name, tables=tables))

    def dropped(self, name: str) -> None:
        """A namespace dropped: its rows deleted, committed now (else :class:`NotPersisted`);
        what a call still under way wrote in it goes nowhere."""
        self._now(partial(_delete_namespace, name=name))
        self.writes = [write for write in self.writes if write[0] != name]

    def _now(self, write: Callable[[sqlite3.Connection], None]) -> None:
        assert self._db is not None
        try:
            self._db.execute("BEGIN")
            write(self._db)
            self._db.execute("COMMIT")
        except (sqlite3.Error, NotPersisted) as exc:
            self._failed(exc)
        self._committed()

    def commit(self) -> int:
        """Write the call's writes in one transaction; its number, for :meth:`durable` (0:
        none). :class:`NotPersisted`, every write undone, when the file cannot take them."""
        if not self.writes:
            return 0
        writes, self.writes = self.writes, []
        db = self._db
        assert db is not None
        try:
            if len(writes) > 1 or writes[0][2] is None:  # else one statement: its own
                db.execute("BEGIN")
            for name, target, key, doc, _ in writes:
                if key is None:  # a restored snapshot: the namespace, whole
                    _write_namespace(db, name=name, tables=target.live)
                elif doc is None:
                    db.execute(DELETE, (name, target.name, key))
                else:
                    db.execute(PUT, (name, target.name, key, _json(doc)))
            if db.in_transaction:
                db.execute("COMMIT")
        except (sqlite3.Error, NotPersisted) as exc:
            self._undo(writes)
            self._failed(exc)
        return self._committed()

    def rollback(self) -> None:
        """Undo the call's writes in memory, newest first (the file has none of them)."""
        writes, self.writes = self.writes, []
        self._undo(writes)

    def _undo(self, writes: list[Write]) -> None:
        self.undoing = True
        try:
            for _, target, key, _, old in reversed(writes):
                if key is None:
                    target.restore(old, copied=True)
                elif old is None:
                    target.delete(key)
                else:
                    target.put(key, old)
        finally:
            self.undoing = False

    def _failed(self, exc: BaseException) -> NoReturn:
        assert self._db is not None
        try:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
        except sqlite3.Error as again:
            log.error("%s: rolling back: %s", self.path, again)
        reason = str(exc) if isinstance(exc, NotPersisted) else f"writing {self.path.name}: {exc}"
        self._report(reason)
        raise NotPersisted(reason) from None

    def _committed(self) -> int:
        if self._failing is not None:
            self._report(None)  # the file takes writes again
        return self.syncer.committed()

    @property
    def commits(self) -> int:
        """The commits made so far (a call's own is the count after it)."""
        return self.syncer.commits

    async def durable(self, seq: int) -> None:
        """Return once commit ``seq`` is fsynced (``--fsync always``)."""
        await self.syncer.durable(seq)

    # --- stop and status ---------------------------------------------------------------

    @property
    def status(self) -> str:
        """``ok``, or ``failing: <reason>`` while writes cannot be made durable."""
        problem = self._failing or self.syncer.error
        return "ok" if problem is None else f"failing: {problem}"

    def close(self) -> str | None:
        """Stop: the last commits fsynced, the WAL copied into the database, the file
        unlocked. Returns why the last writes may not be on disk (a line), or None."""
        problem = None
        if self.writes:  # writes made outside a call (a test's): committed now
            try:
                self.commit()
            except NotPersisted as exc:
                problem = str(exc)
        problem = problem or self.syncer.stop()
        try:
            if self._db is not None:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:  # the writes are in the WAL, which the next start reads
            log.warning("%s: copying the WAL into the database: %s", self.path, exc)
        self._close()
        return None if problem is None else f"{self.path}: {problem}"

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()  # before the flock's descriptor: closing that drops SQLite's locks
        if self._lock is not None:
            os.close(self._lock)
        self._db = self._lock = None

    def _report(self, problem: str | None) -> None:
        """A commit failure kept for the status and logged (once), or its end."""
        if self._failing != problem:
            self._failing = problem
            log_status(self.path, problem)


class Recorder:
    """One namespace's :class:`~emulator.state.Changes`: each write kept for the call's
    commit, with what it replaced, to undo it in memory."""

    __slots__ = ("_name", "_persistence")

    def __init__(self, persistence: Persistence, name: str) -> None:
        self._persistence, self._name = persistence, name

    def put(self, collection: Collection, key: str, doc: Doc, old: Doc | None) -> None:
        if not self._persistence.undoing:
            self._persistence.writes.append((self._name, collection, key, doc, old))

    def delete(self, collection: Collection, key: str, old: Doc) -> None:
        if not self._persistence.undoing:
            self._persistence.writes.append((self._name, collection, key, None, old))

    def replace(self, store: Store, old: Tables) -> None:
        if not self._persistence.undoing:
            self._persistence.writes.append((self._name, store, None, None, old))


def _json(doc: Doc) -> str:
    try:
        return orjson.dumps(doc).decode()
    except TypeError as exc:  # not JSON, or deeper than orjson writes
        raise NotPersisted(f"a document JSON cannot hold ({exc})") from None


def _write_namespace(db: sqlite3.Connection, *, name: str, tables: Tables) -> None:
    _delete_namespace(db, name=name)
    db.execute("INSERT INTO namespaces VALUES (?)", (name,))
    rows = ((name, c, key, _json(doc)) for c, docs in tables.items() for key, doc in docs.items())
    db.executemany(PUT, rows)


def _delete_namespace(db: sqlite3.Connection, *, name: str) -> None:
    db.execute("DELETE FROM documents WHERE namespace = ?", (name,))
    db.execute("DELETE FROM namespaces WHERE name = ?", (name,))


def _create(db: sqlite3.Connection, namespaces: Namespaces) -> None:
    """The tables, this emulator's marks and ``namespaces``, in one transaction."""
    db.execute("BEGIN")
    for sql in (
        *TABLES,
        f"PRAGMA application_id = {APPLICATION_ID}",
        f"PRAGMA user_version = {FORMAT}",
    ):
        db.execute(sql)
    for name, tables in namespaces.items():
        _write_namespace(db, name=name, tables=tables)
    db.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA synchronous = NORMAL")  # a commit writes the WAL; the syncer fsyncs it
    return db


def _locked(path: Path) -> int:
    """A descriptor of ``path`` (made if missing) holding its exclusive flock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DataFileError(
            f"{path}: in use by another server (one data file, one server)"
        ) from None
    return fd
