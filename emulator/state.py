"""Per-namespace state over TinyDB, with keyed look-ups, secondary indexes and safe persistence.

This module is the only importer of tinydb. TinyDB 4 rewrites a whole table on every
write and scans it on every query; here a table is keyed by the document's own key
(``document_id_class = str``), writes touch one document in place, and secondary indexes
are plain dicts kept beside the table, so a request costs the same at 100 documents
or 100,000.
"""
from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

from emulator.files import write_atomically

Doc = dict[str, Any]
IndexKey = Callable[[Doc], Any]

# Why a write is refused in this context, or None. The Dispatcher sets it while a call's spec
# errors are left to a handler that has not declared its checks passed, so nothing is stored.
writes_refused: ContextVar[str | None] = ContextVar("writes_refused", default=None)


def _writable() -> None:
    reason = writes_refused.get()
    if reason is not None:
        raise RuntimeError(reason)


_PLAIN_JSON_ONLY = (orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_SUBCLASS
                    | orjson.OPT_PASSTHROUGH_DATACLASS)


def clone(data: Any) -> Any:
    """A deep copy of JSON data: an orjson round trip, ~10x faster than copy.deepcopy.
    Anything else (a date, a dict subclass, an integer over 64 bits, a non-string key)
    makes orjson refuse, and copy.deepcopy copies it as it is. State is plain JSON: bodies,
    fixtures and the data file cannot bring in NaN or Infinity (orjson would write null)."""
    try:
        return orjson.loads(orjson.dumps(data, option=_PLAIN_JSON_ONLY))
    except TypeError:
        return copy.deepcopy(data)


class _InPlaceStorage(Storage):
    """Holds the tables in memory; ``write`` is a no-op because tables are edited in place."""

    def __init__(self) -> None:
        self.memory: dict[str, dict[str, Doc]] = {}

    def read(self) -> dict[str, dict[str, Doc]]:
        return self.memory

    def write(self, data: dict[str, dict[str, Doc]]) -> None:
        self.memory = data


class KeyedTable(Table):
    """A TinyDB table whose document ids are the documents' own string keys."""

    document_id_class = str

    def _update_table(self, updater: Callable[[dict[str, Doc]], None]) -> None:
        tables = self._storage.read()
        raw = tables.setdefault(self.name, {})
        updater(raw)  # ids are already strings: no whole-table copy, no rewrite
        self.clear_cache()

    def raw(self) -> dict[str, Doc]:
        return self._storage.read().setdefault(self.name, {})


class KeyedDB(TinyDB):
    table_class = KeyedTable


class Collection:
    """Documents by key, with unique secondary indexes (value -> key)."""

    def __init__(self, table: KeyedTable, indexes: dict[str, IndexKey], lock: threading.RLock,
                 on_write: Callable[[], None]) -> None:
        self._table = table
        self._indexes = indexes
        self._index: dict[str, dict[Any, str]] = {name: {} for name in indexes}
        self._lock = lock
        self._on_write = on_write
        self.reindex()

    def reindex(self) -> None:
        for name, key_of in self._indexes.items():
            self._index[name] = {}
            for key, doc in self._table.raw().items():
                value = key_of(doc)
                if value is not None:
                    self._index[name][value] = key

    def get(self, key: str) -> Doc | None:
        return self._table.raw().get(key)

    def find(self, index: str, value: Any) -> Doc | None:
        key = self._index[index].get(value)
        return None if key is None else self._table.raw().get(key)

    def put(self, key: str, doc: Doc) -> None:
        _writable()
        with self._lock:
            raw = self._table.raw()
            old = raw.get(key)
            for name, key_of in self._indexes.items():
                index = self._index[name]
                value = key_of(doc)
                if old is not None:
                    old_value = key_of(old)
                    if old_value == value and (value is None or index.get(value) == key):
                        continue  # unchanged, and the index already points here
                    if old_value is not None and index.get(old_value) == key:
                        del index[old_value]
                if value is not None:
                    index[value] = key
            self._table._update_table(lambda table: table.__setitem__(key, doc))
            self._on_write()

    def delete(self, key: str) -> bool:
        _writable()
        with self._lock:
            doc = self._table.raw().get(key)
            if doc is None:
                return False
            for name, key_of in self._indexes.items():
                value = key_of(doc)
                if value is not None and self._index[name].get(value) == key:
                    del self._index[name][value]
            self._table._update_table(lambda table: table.pop(key))
            self._on_write()
            return True

    def __contains__(self, key: str) -> bool:
        return key in self._table.raw()

    def __len__(self) -> int:
        return len(self._table.raw())

    def __iter__(self) -> Iterator[Doc]:
        return iter(list(self._table.raw().values()))


class Store:
    """One namespace's state: named collections in one in-memory TinyDB.

    ``lock`` serialises check-then-write sequences (e.g. email uniqueness) across
    threads; handlers hold it for the whole of such a sequence.
    """

    def __init__(self, schema: dict[str, dict[str, IndexKey]],
                 on_write: Callable[[], None] = lambda: None) -> None:
        self.lock = threading.RLock()
        self._db = KeyedDB(storage=_InPlaceStorage)
        self._schema = schema
        self._on_write = on_write
        self._collections = {
            name: Collection(self._db.table(name, cache_size=0), indexes, self.lock, on_write)
            for name, indexes in schema.items()
        }

    def __getitem__(self, name: str) -> Collection:
        return self._collections[name]

    def snapshot(self) -> dict[str, dict[str, Doc]]:
        """A deep copy of every collection: {collection: {key: doc}}."""
        with self.lock:
            memory = self._db.storage.read()
            return {name: clone(memory.get(name, {})) for name in self._schema}

    def dismantle(self, slice_size: int) -> Iterator[int]:
        """Empty a store nobody uses any more, ``slice_size`` documents at a time; yields
        the count freed after each slice, so the caller can let other work run in between
        (freeing 10k documents at once holds the process's one thread for ~5 ms)."""
        held: list[Doc] = []
        for collection in self._collections.values():
            for index in collection._index.values():
                count = len(index)
                with self.lock:
                    index.clear()  # strings only: ~0.1 ms per 10k entries
                yield count
        with self.lock:
            for docs in self._db.storage.read().values():
                held.extend(docs.values())  # the list keeps them alive: clearing frees nothing
                docs.clear()
        yield 0
        while held:
            count = min(slice_size, len(held))
            with self.lock:
                del held[-count:]  # frees `count` documents, in C
            yield count

    def restore(self, data: dict[str, dict[str, Doc]], *, copied: bool = False) -> None:
        """Replace all state; unknown collections are refused, missing ones emptied."""
        unknown = set(data) - set(self._schema)
        if unknown:
            raise KeyError(f"unknown collections: {', '.join(sorted(unknown))}")
        with self.lock:
            fresh = data if copied else clone(data)
            memory = self._db.storage.read()
            for name in self._schema:
                memory[name] = fresh.get(name, {})
            for collection in self._collections.values():
                collection.reindex()
            self._on_write()


class DataFile:
    """Write-behind persistence of every namespace's state to one JSON file.

    Writes go to a temporary file in the same folder, are fsynced, then renamed over
    the target, so a crash leaves either the old file or the new one, never half of one.
    """

    def __init__(self, path: Path, snapshot: Callable[[], dict[str, Any]],
                 delay: float = 0.05) -> None:
        self.path = path
        self._snapshot = snapshot
        self._delay = delay
        self._dirty = threading.Event()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no file; ValueError (naming the file) when
        it is not JSON this class wrote (NaN and Infinity included: state is plain JSON)."""
        if not self.path.exists():
            return None
        try:
            data = orjson.loads(self.path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"{self.path}: not a state file (not JSON: {exc})") from None
        if not isinstance(data, dict) or not isinstance(data.get("namespaces", {}), dict):
            raise ValueError(f"{self.path}: not a state file (no namespaces object)")
        return data

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="emulator-data-file", daemon=True)
        self._thread.start()

    def mark_dirty(self) -> None:
        self._dirty.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            # A burst of writes is coalesced into one flush; once stopping, close() flushes.
            if self._dirty.wait(timeout=0.5) and not self._stop.wait(self._delay):
                self.flush()

    def flush(self) -> None:
        with self._write_lock:
            self._dirty.clear()
            data = self._snapshot()
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, lambda handle: json.dump(
                data, handle, ensure_ascii=False, separators=(",", ":")))

    def close(self) -> None:
        self._stop.set()
        self._dirty.set()  # wakes the thread now rather than at its next half-second
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.flush()
