"""The TinyDB-backed store: keyed documents, unique indexes, snapshots, atomic data file."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from emulator.files import write_atomically
from emulator.state import KeyedTable, Store

SCHEMA = {"people": {"email": lambda d: d.get("email", "").lower() or None}, "other": {}}


def test_put_get_and_index_follow_updates():
    store = Store(SCHEMA)
    people = store["people"]
    people.put("p1", {"email": "A@x.co"})
    assert people.get("p1") == {"email": "A@x.co"}
    assert people.find("email", "a@x.co") == {"email": "A@x.co"}
    people.put("p1", {"email": "b@x.co"})
    assert people.find("email", "a@x.co") is None
    assert people.find("email", "b@x.co") == {"email": "b@x.co"}
    assert people.delete("p1") and people.find("email", "b@x.co") is None
    assert not people.delete("p1")


def test_putting_a_document_again_points_its_index_entries_back_at_it():
    store = Store(SCHEMA)
    people = store["people"]
    people.put("p1", {"email": "a@x.co"})
    store.restore({"people": {"p1": {"email": "a@x.co"}, "p2": {"email": "A@x.co"}}})
    assert people.find("email", "a@x.co") == {"email": "A@x.co"}  # the later one won
    people.put("p1", {"email": "a@x.co"})  # unchanged value, but the index pointed at p2
    assert people.find("email", "a@x.co") is people.get("p1")


def test_a_document_edited_in_place_and_put_again_moves_its_index_entry():
    """The index follows what the document was when it was last put, not the object: an edit
    of the stored dict itself, then put, must not leave the old value pointing at it."""
    store = Store(SCHEMA)
    people = store["people"]
    doc = {"email": "a@x.co"}
    people.put("p1", doc)
    doc["email"] = "b@x.co"
    people.put("p1", doc)
    assert people.find("email", "a@x.co") is None
    assert people.find("email", "b@x.co") is doc


def test_indexes_follow_a_restore_and_a_delete_after_it():
    store = Store(SCHEMA)
    people = store["people"]
    people.put("p1", {"email": "a@x.co"})
    store.restore({"people": {"p9": {"email": "z@x.co"}}})
    assert people.get("p1") is None and people.find("email", "a@x.co") is None
    assert people.find("email", "z@x.co") == {"email": "z@x.co"} and len(people) == 1
    people.put("p9", {"email": "y@x.co"})
    assert people.find("email", "z@x.co") is None
    assert people.delete("p9") and people.find("email", "y@x.co") is None and len(people) == 0


def test_collections_are_tinydb_tables_keyed_by_document_key():
    store = Store(SCHEMA)
    store["people"].put("p1", {"email": "a@x.co"})
    table = store["people"]._table
    assert isinstance(table, KeyedTable)
    assert table.get(doc_id="p1") == {"email": "a@x.co"}
    assert [doc.doc_id for doc in table.all()] == ["p1"]


def test_snapshot_is_a_deep_copy_and_restore_reindexes():
    store = Store(SCHEMA)
    store["people"].put("p1", {"email": "a@x.co", "tags": ["x"]})
    snap = store.snapshot()
    store["people"].get("p1")["tags"].append("mutated")
    assert snap == {"people": {"p1": {"email": "a@x.co", "tags": ["x"]}}, "other": {}}
    store.restore({"people": {"p2": {"email": "c@x.co"}}})
    assert store["people"].get("p1") is None
    assert store["people"].find("email", "c@x.co") == {"email": "c@x.co"}
    assert len(store["other"]) == 0


def test_restore_refuses_unknown_collections():
    with pytest.raises(KeyError, match="nope"):
        Store(SCHEMA).restore({"nope": {}})


def test_write_cost_does_not_copy_the_table():
    """A write edits the one document in place: the table dict object stays the same."""
    store = Store(SCHEMA)
    people = store["people"]
    for i in range(1000):
        people.put(f"p{i}", {"email": f"{i}@x.co"})
    raw = people._table.raw()
    people.put("p5", {"email": "new@x.co"})
    assert people._table.raw() is raw and len(raw) == 1000


def test_a_file_written_atomically_leaves_no_temporary_file(tmp_path: Path):
    target = tmp_path / "state.json"
    data = {"version": 1, "namespaces": {"default": {"people": {"p1": {"email": "a@x.co"}}}}}
    write_atomically(target, lambda handle: handle.write(json.dumps(data)))
    assert json.loads(target.read_text()) == data
    assert os.listdir(tmp_path) == ["state.json"]  # no temporary file left behind


def test_a_failed_atomic_write_leaves_the_old_file_whole(tmp_path: Path):
    target = tmp_path / "state.json"
    target.write_text('{"version": 1, "namespaces": {}}')

    def broken(handle) -> None:
        handle.write('{"version": 1, "bad": ')
        raise TypeError("not JSON-serialisable: fails mid-write")

    with pytest.raises(TypeError):
        write_atomically(target, broken)
    assert json.loads(target.read_text()) == {"version": 1, "namespaces": {}}
    assert os.listdir(tmp_path) == ["state.json"]


@pytest.mark.parametrize(
    "data",
    [
        {"a": [1, 2.5, "x", None, True, {"b": []}]},
        {"big": 2**70},
        {1: "int key"},
        {"when": __import__("datetime").date(2026, 11, 22)},
    ],
)
def test_clone_is_a_deep_copy_of_the_same_values_and_types(data):
    from emulator.state import clone

    copied = clone(data)
    assert copied == data and copied is not data
    assert [type(v) for v in copied.values()] == [type(v) for v in data.values()]
    first = next(iter(data.values()))
    if isinstance(first, (list, dict)):
        assert next(iter(copied.values())) is not first


# --- id counters ----------------------------------------------------------------------------


def _used(state):
    """Ids of people "p<n>" are made of the counter "people"."""
    return {"people": [int(key[1:]) for key in state.get("people", {}) if key[1:].isdigit()]}


def _counted(limit: int = 1_000) -> Store:
    from emulator.state_schema import Counters

    counters = Counters(("people",), limit, _used)
    return Store({"people": {}, "counters": {}}, counters={"counters": counters})


def test_after_a_restore_a_counter_issues_no_number_in_use_and_reads_back_as_given():
    store = _counted()
    state = {"people": {f"p{n}": {} for n in range(1, 6)}, "counters": {"people": {"next": 1}}}
    store.restore(state)
    assert store.snapshot() == state  # the state reads back as it was given
    assert [store.issue("counters", "people") for _ in range(2)] == [6, 7]
    assert store["counters"].get("people") == {"next": 8}


def test_a_counter_left_out_of_a_restore_goes_on_above_the_ids_it_brings():
    store = _counted()
    store.restore({"people": {}, "counters": {"people": {"next": 3}}})
    store.restore({"people": {"p3": {}, "p9": {}}})  # counters kept: next is still 3
    assert store["counters"].get("people") == {"next": 3}
    assert store.issue("counters", "people") == 10


def test_a_counter_below_the_ids_of_a_later_restore_is_lifted_again():
    store = _counted()
    store.restore({"people": {"p5": {}}, "counters": {"people": {"next": 1}}})
    assert store.issue("counters", "people") == 6
    store.restore({"people": {"p1": {}}, "counters": {"people": {"next": 1}}})
    assert store.issue("counters", "people") == 2  # the ids in use now, not those before


def test_a_counter_at_its_limit_issues_the_lowest_numbers_free():
    """p9 is the highest number below the limit: every number above is used up."""
    store = _counted(limit=10)
    store.restore({"people": {"p0": {}, "p2": {}, "p9": {}}, "counters": {"people": {"next": 8}}})
    numbers = [store.issue("counters", "people") for _ in range(3)]
    assert numbers == [1, 3, 4]  # none stored yet: each is still new
    store["people"].put("p5", {})
    assert store.issue("counters", "people") == 6
    store.restore({"people": {}, "counters": {"people": {"next": 10}}})
    assert store.issue("counters", "people") == 0  # what was issued is forgotten with it


def test_a_whole_float_counter_issues_its_integer():
    store = _counted()
    store.restore({"people": {}, "counters": {"people": {"next": 5.0}}})
    number = store.issue("counters", "people")
    assert (number, type(number)) == (5, int)
    assert store["counters"].get("people") == {"next": 6}


def test_decimals_are_only_the_digits_a_counter_writes():
    from emulator.state_schema import decimals

    values = ["0", "1000000001", "9" * 18, "01", "9" * 19, "", "-1", "1.0", "١٢", "12\n", 12, None]
    assert decimals(values) == [0, 1000000001, 10**18 - 1]


def test_the_counters_schema_bounds_each_counter_and_requires_them_all():
    from emulator.state_schema import Counters, StateError, StateSchema

    counters = Counters(("people", "pets"), 10, lambda state: {"people": [], "pets": []})
    schema = StateSchema({"counters": {}}, {"counters": counters.documents()})
    assert schema.kept == frozenset({"counters"}) and schema.counters == {"counters": counters}
    schema.check({"counters": {"people": {"next": 10}, "pets": {"next": 0}}})
    for bad, where in [
        ({"people": {"next": 11}, "pets": {"next": 0}}, "counters.people.next"),
        ({"people": {"next": -1}, "pets": {"next": 0}}, "counters.people.next"),
        ({"people": {"next": 2.5}, "pets": {"next": 0}}, "counters.people.next"),
        ({"people": {"next": 1}}, "counters"),
    ]:
        with pytest.raises(StateError) as raised:
            schema.check({"counters": bad})
        assert raised.value.path == where
