"""Per-namespace state: keyed collections with secondary indexes, snapshots, id counters.

A collection is a TinyDB table keyed by the documents' own keys, written in place
(``emulator/tinydb_seam.py`` is the one module that meets TinyDB); secondary indexes are
plain dicts kept beside it, so a request costs the same at 100 documents or 100,000. Every
write is also told, as it happens, to the store's :class:`Changes` (the data file, when there
is one) with what it replaced, so persisting a write costs that write, not the whole state,
and a write the data file could not take can be undone.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from typing import Any, Protocol

import orjson

from emulator import tinydb_seam
from emulator.state_schema import Counters, Doc, IndexKey
from emulator.tinydb_seam import KeyedTable

__all__ = ["Changes", "Collection", "KeyedTable", "Store", "clone"]

# Why a write is refused in this context, or None. The Dispatcher sets it while a call's spec
# errors are left to a handler that has not declared its checks passed, so nothing is stored.
writes_refused: ContextVar[str | None] = ContextVar("writes_refused", default=None)


def _writable() -> None:
    reason = writes_refused.get()
    if reason is not None:
        raise RuntimeError(reason)


_PLAIN_JSON_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


def clone(data: Any) -> Any:
    """A deep copy of JSON data: an orjson round trip, ~10x faster than copy.deepcopy.
    Anything else (a date, a dict subclass, an integer over 64 bits, a non-string key)
    makes orjson refuse, and copy.deepcopy copies it as it is. State is plain JSON: bodies,
    fixtures and the data file cannot bring in NaN or Infinity (orjson would write null)."""
    try:
        return orjson.loads(orjson.dumps(data, option=_PLAIN_JSON_ONLY))
    except TypeError:
        return copy.deepcopy(data)


class Changes(Protocol):
    """Told of every write of one store once it is made, with what it replaced (the data
    file, which undoes a write it could not take by putting that back). A stored document is
    never edited in place: a write puts a new one, so what it replaced is intact."""

    def put(self, collection: Collection, key: str, doc: Doc, old: Doc | None) -> None: ...
    def delete(self, collection: Collection, key: str, old: Doc) -> None: ...
    def replace(self, store: Store, old: dict[str, dict[str, Doc]]) -> None: ...


class Collection:
    """Documents by key, with unique secondary indexes (value -> key).

    It reads and writes the table's documents (the storage's own dict, ``KeyedTable.raw()``,
    taken again whenever :meth:`reindex` runs, as it does after every restore) in place, and
    keeps each stored document's index values, so a write computes them for the new document
    only."""

    def __init__(
        self, name: str, table: KeyedTable, indexes: Mapping[str, IndexKey], lock: threading.RLock
    ) -> None:
        self.name = name
        self._table = table
        self._indexes = indexes
        self._index: dict[str, dict[Any, str]] = {name: {} for name in indexes}
        self._keys_of = tuple(indexes.values())
        self._values: dict[str, list[Any]] = {}  # key -> its document's index values
        self._docs: dict[str, Doc] = {}
        self._lock = lock
        self.changes: Changes | None = None  # the store's (set by Store.changes)
        self.reindex()

    def reindex(self) -> None:
        self._docs = self._table.raw()
        self._index = {name: {} for name in self._indexes}
        self._values = {}
        if not self._keys_of:
            return
        indexes = tuple(self._index.values())
        for key, doc in self._docs.items():
            values = self._values[key] = [key_of(doc) for key_of in self._keys_of]
            for index, value in zip(indexes, values, strict=True):
                if value is not None:
                    index[value] = key

    def get(self, key: str) -> Doc | None:
        return self._docs.get(key)

    def find(self, index: str, value: Any) -> Doc | None:
        key = self._index[index].get(value)
        return None if key is None else self._docs.get(key)

    def put(self, key: str, doc: Doc) -> None:
        _writable()
        with self._lock:
            if self._keys_of:
                values = [key_of(doc) for key_of in self._keys_of]
                old = self._values.get(key) or [None] * len(values)
                for index, value, old_value in zip(self._index.values(), values, old, strict=True):
                    if old_value == value and (value is None or index.get(value) == key):
                        continue  # unchanged, and the index already points here
                    if old_value is not None and index.get(old_value) == key:
                        del index[old_value]
                    if value is not None:
                        index[value] = key
                self._values[key] = values
            replaced = self._docs.get(key)
            self._docs[key] = doc
            if self.changes is not None:
                self.changes.put(self, key, doc, replaced)

    def delete(self, key: str) -> bool:
        _writable()
        with self._lock:
            doc = self._docs.get(key)
            if doc is None:
                return False
            for index, value in zip(self._index.values(), self._values.pop(key, ()), strict=False):
                if value is not None and index.get(value) == key:
                    del index[value]
            del self._docs[key]
            if self.changes is not None:
                self.changes.delete(self, key, doc)
            return True

    def __contains__(self, key: str) -> bool:
        return key in self._docs

    def __len__(self) -> int:
        return len(self._docs)

    def __iter__(self) -> Iterator[Doc]:
        return iter(list(self._docs.values()))


class Store:
    """One namespace's state: named collections in one in-memory TinyDB.

    ``lock`` serialises check-then-write sequences (e.g. email uniqueness) across
    threads; handlers hold it for the whole of such a sequence. ``changes``, when set, is
    told of every write (see :class:`Changes`).
    """

    def __init__(
        self,
        schema: Mapping[str, Mapping[str, IndexKey]],
        *,
        kept: frozenset[str] = frozenset(),
        counters: Mapping[str, Counters] | None = None,
        changes: Changes | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self._db = tinydb_seam.open_db()
        self._schema = schema
        self._counters = dict(counters or {})
        self._kept = kept | frozenset(self._counters)
        # Per (collection, counter), since the last restore: the lowest number it may issue
        # (one above the ids in use then), and the numbers it issued at its limit (the ids made
        # of them may not be stored yet: an update making two addresses stores both at once).
        self._floors: dict[tuple[str, str], int] = {}
        self._issued: dict[tuple[str, str], set[int]] = {}
        self._collections = {
            name: Collection(name, tinydb_seam.table(self._db, name), indexes, self.lock)
            for name, indexes in schema.items()
        }
        self.changes = changes

    @property
    def changes(self) -> Changes | None:
        return self._changes

    @changes.setter
    def changes(self, changes: Changes | None) -> None:
        # Each collection holds it too (not the store: no reference cycle, so a dropped
        # namespace is freed by reference counting).
        self._changes = changes
        for collection in self._collections.values():
            collection.changes = changes

    def __getitem__(self, name: str) -> Collection:
        return self._collections[name]

    @property
    def live(self) -> dict[str, dict[str, Doc]]:
        """The documents themselves, by collection (not a copy: for the data file, which
        writes a namespace whole)."""
        return tinydb_seam.tables_of(self._db)

    def snapshot(self) -> dict[str, dict[str, Doc]]:
        """A deep copy of every collection: {collection: {key: doc}}."""
        with self.lock:
            memory = tinydb_seam.tables_of(self._db)
            return {name: clone(memory.get(name, {})) for name in self._schema}

    def restore(self, data: dict[str, dict[str, Doc]], *, copied: bool = False) -> None:
        """Replace all state; unknown collections are refused, missing ones emptied, except
        the ``kept`` ones (id counters), which keep their values (the state reads back as it
        was given). A counter issues nothing below the numbers of the ids in use it could
        make again (``Counters``; see :meth:`issue`), so a new id never equals one the state
        holds. ``copied``: ``data`` is the store's to keep (no deep copy)."""
        unknown = set(data) - set(self._schema)
        if unknown:
            raise KeyError(f"unknown collections: {', '.join(sorted(unknown))}")
        with self.lock:
            fresh = data if copied else clone(data)
            memory = tinydb_seam.tables_of(self._db)
            old = dict(memory)
            for name in self._schema:
                if name in fresh or name not in self._kept:
                    memory[name] = fresh.get(name, {})
            self._issued.clear()
            self._floors = {
                (name, key): lowest
                for name, counters in self._counters.items()
                for key, lowest in counters.lowest(memory).items()
            }
            for collection in self._collections.values():
                collection.reindex()
            if self.changes is not None:
                self.changes.replace(self, old)

    def copy(self) -> Store:
        """A store of its own holding a copy of these documents, as :meth:`restore` of them
        would make it (its counters' floors taken as they are, not worked out again): how a
        namespace is made from the fixture seed. No ``changes`` is told of it."""
        other = Store(self._schema, kept=self._kept, counters=self._counters)
        with self.lock:
            mine = tinydb_seam.tables_of(self._db)
            memory = tinydb_seam.tables_of(other._db)
            for name, docs in clone({name: mine.get(name, {}) for name in self._schema}).items():
                memory[name] = docs
            other._floors = dict(self._floors)
        for collection in other._collections.values():
            collection.reindex()
        return other

    def issue(self, collection: str, name: str) -> int:
        """The number of a new id from the counter ``name`` of ``collection``: the counter's
        value (or, when the last restore left ids in use at or above it, the number above
        them), and the counter moves on past it. At its limit (every number above it
        issued), the lowest number no id in use has and none issued since the last restore."""
        counters = self._counters[collection]
        table = self._collections[collection]
        with self.lock:
            counter = table.get(name)
            assert counter is not None  # the state schema requires every counter
            # int(): JSON Schema's integer 5 may be written 5.0, and "1000000005.0" is no id
            number = max(int(counter["next"]), self._floors.get((collection, name), 0))
            if number < counters.limit:
                table.put(name, {"next": number + 1})
                return number
            # A limit is billions of numbers: far more than a state holds ids, so one is free.
            issued = self._issued.setdefault((collection, name), set())
            used = issued.union(counters.used(self.live).get(name, ()))
            number = next(n for n in itertools.count() if n not in used)
            issued.add(number)
            return number
