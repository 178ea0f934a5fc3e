"""The one place the emulator meets TinyDB (its only importer of tinydb), and on what terms.

A namespace's collections are TinyDB tables over an in-memory storage of the emulator's
own. TinyDB 4 copies a whole table on every write (``insert``/``update``/``remove`` go
through ``Table._update_table``, which rebuilds the table to convert its ids) and scans
it on every query, so the emulator writes a document by editing its storage's data in
place and looks documents up by key, in constant time; the TinyDB table stays a read view
(``get``, ``all``, ``search``, ``len``) of the same data. Only public extension points are
used; each line below is something tests/unit/test_tinydb_seam.py checks against the
installed TinyDB, so an upgrade that changes one fails there, naming tinydb's version:

- ``Storage`` (subclassed): ``read()`` returns the storage's own dict, and a table reads
  its storage afresh on every call without copying it, so an in-place edit is seen at once.
- ``Table.document_id_class = str``: the document ids are the documents' own keys, the form
  TinyDB itself keeps ids in (string keys of the stored table).
- ``TinyDB.table_class``: picks the keyed table; ``TinyDB.storage`` is the storage object.
- ``cache_size=0``: a table opened so keeps no query result (its LRU cache drops what it is
  given at once), so an in-place edit needs no ``clear_cache()``: no query cache can outlive it.
"""

from __future__ import annotations

from typing import Any

import tinydb.version
from tinydb import TinyDB
from tinydb.storages import Storage
from tinydb.table import Table

VERSION = tinydb.version.__version__
Doc = dict[str, Any]


class MemoryStorage(Storage):
    """The tables in memory: ``{table name: {document key: document}}``. ``write`` only
    happens through TinyDB's own write methods, which the emulator does not call."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[str, Doc]] = {}

    def read(self) -> dict[str, dict[str, Doc]]:
        return self.tables

    def write(self, data: dict[str, dict[str, Doc]]) -> None:
        self.tables = data


class KeyedTable(Table):
    """A TinyDB table whose document ids are the documents' own string keys."""

    # TinyDB's documented extension point, typed by TinyDB as its default (int) only
    document_id_class = str  # type: ignore[assignment]

    def __init__(  # Table's own signature, so TinyDB.table_class may name this class
        self,
        storage: Storage,
        name: str,
        cache_size: int = Table.default_query_cache_capacity,
        persist_empty: bool = False,
    ) -> None:
        super().__init__(storage, name, cache_size, persist_empty)
        assert isinstance(storage, MemoryStorage)  # open_db's: the only storage it is given
        self.source = storage  # the storage it reads (TinyDB keeps its own copy private)

    def raw(self) -> dict[str, Doc]:
        """The stored documents by key: the storage's own dict, edited in place (by
        ``state.Collection``, which takes it again after a restore replaces it)."""
        return self.source.read().setdefault(self.name, {})


class KeyedDB(TinyDB):
    table_class = KeyedTable


def open_db() -> KeyedDB:
    """An empty in-memory database of keyed tables."""
    return KeyedDB(storage=MemoryStorage)


def tables_of(db: TinyDB) -> dict[str, dict[str, Doc]]:
    """Every table's documents, by table name (the storage's own dict)."""
    storage = db.storage
    assert isinstance(storage, MemoryStorage)  # open_db's
    return storage.read()


def table(db: TinyDB, name: str) -> KeyedTable:
    found = db.table(name, cache_size=0)
    assert isinstance(found, KeyedTable)
    return found
