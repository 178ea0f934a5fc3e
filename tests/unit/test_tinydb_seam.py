"""What emulator/tinydb_seam.py relies on, against the installed TinyDB: an upgrade that
changes one of these fails here, naming tinydb's version."""

from __future__ import annotations

import tinydb
from tinydb import Query
from tinydb.table import Document

from emulator import tinydb_seam
from emulator.state import Store

VERSION = f"tinydb {tinydb.__version__}"


def test_a_table_reads_its_storage_afresh_and_without_copying() -> None:
    db = tinydb_seam.open_db()
    table = tinydb_seam.table(db, "people")
    assert isinstance(db.storage, tinydb_seam.MemoryStorage), (
        f"{VERSION}: TinyDB(storage=cls) no longer builds cls() (TinyDB.storage)"
    )
    table.raw()["p1"] = {"name": "Ada"}  # an edit of the storage's own dict, in place
    assert tinydb_seam.tables_of(db) == {"people": {"p1": {"name": "Ada"}}}, (
        f"{VERSION}: Storage.read() is no longer the storage's own data"
    )
    found = table.get(doc_id="p1")
    assert isinstance(found, Document) and found == {"name": "Ada"}, (
        f"{VERSION}: Table.get(doc_id=) no longer sees an in-place edit of its storage"
    )
    assert [doc.doc_id for doc in table.all()] == ["p1"], (
        f"{VERSION}: Table.document_id_class = str no longer makes the ids the stored keys"
    )
    assert table.search(Query().name == "Ada") == [{"name": "Ada"}], (
        f"{VERSION}: Table.search no longer reads the storage afresh"
    )
    assert len(table) == 1 and table.contains(doc_id="p1"), (
        f"{VERSION}: len()/contains() no longer read the storage afresh"
    )
    table.raw()["p1"] = {"name": "Grace"}  # no clear_cache(): cache_size=0 keeps nothing
    assert table.search(Query().name == "Ada") == [], (
        f"{VERSION}: a table opened with cache_size=0 keeps query results (stale after an edit)"
    )
    assert table.search(Query().name == "Grace") == [{"name": "Grace"}], (
        f"{VERSION}: Table.search no longer sees an in-place edit"
    )
    del table.raw()["p1"]
    assert table.get(doc_id="p1") is None and len(table) == 0, (
        f"{VERSION}: a removal in place is not seen by the table"
    )


def test_the_table_is_a_view_of_the_store_documents_not_a_copy() -> None:
    db = tinydb_seam.open_db()
    table = tinydb_seam.table(db, "people")
    assert tinydb_seam.table(db, "people") is table, (
        f"{VERSION}: TinyDB.table(name) no longer returns the table it made (TinyDB.table_class)"
    )
    table.raw()["p1"] = {"n": 1}
    assert table.raw() is tinydb_seam.tables_of(db)["people"], (
        f"{VERSION}: the keyed table's documents are not the storage's own dict"
    )


def test_the_store_writes_no_table_through_tinydbs_own_write_methods(monkeypatch) -> None:
    """TinyDB's own writes rebuild the whole table; the store never calls them."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"{VERSION}: a whole-table write was called")

    monkeypatch.setattr(tinydb.table.Table, "_update_table", refuse)
    monkeypatch.setattr(tinydb_seam.MemoryStorage, "write", refuse)
    store = Store({"people": {}})
    store["people"].put("p1", {"n": 1})
    store["people"].delete("p1")
    store.restore({"people": {"p2": {"n": 2}}})
    assert store.snapshot() == {"people": {"p2": {"n": 2}}}


def test_only_the_seam_imports_tinydb() -> None:
    import re
    from pathlib import Path

    package = Path(tinydb_seam.__file__).parent
    importing = re.compile(r"^\s*(import tinydb|from tinydb[ .])", re.M)
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if importing.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["tinydb_seam.py"]
