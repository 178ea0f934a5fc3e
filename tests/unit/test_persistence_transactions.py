"""The data file's transactions (emulator/persistence.py): a call's writes are committed
together, or undone together, in the file and in memory."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulator.errors import EmulatedError
from emulator.persistence import NotPersisted
from emulator.resources import FIXTURES_DIR
from emulator.runtime import Runtime
from emulator.server import EmulatorServer
from emulator.vendors import VENDORS
from tests.tiny_vendor import VENDOR as TINY
from tests.tiny_vendor import errors as tiny_errors
from tests.tiny_vendor import handlers as tiny_handlers


class FullDisk:
    """A connection whose commits fail as on a full disk (a seam over sqlite3's own)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql == "COMMIT" or sql.startswith(("INSERT", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def documents(data_file: Path, namespace: str) -> dict[tuple[str, str], str]:
    with sqlite3.connect(f"file:{data_file}?mode=ro", uri=True) as db:
        found = db.execute(
            "SELECT collection, key, document FROM documents WHERE namespace = ?", (namespace,)
        )
        return {(collection, key): text for collection, key, text in found}


def test_a_commit_the_file_refuses_undoes_every_write_in_memory(tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    runtime = Runtime(VENDORS, FIXTURES_DIR, data_file)
    store = runtime.namespace("x").store
    persistence = runtime.persistence
    assert persistence is not None
    before, in_file = store.snapshot(), documents(data_file, "x")
    accounts = store["loyalty.accounts"]
    ada = accounts.get("1000000001")
    assert ada is not None and accounts.find("email", "ada@example.com") is ada
    accounts.put("1000000001", {**ada, "profile": {**ada["profile"], "email": "new@example.com"}})
    accounts.put("1000000009", {**ada, "accountId": "1000000009", "profile": {"email": "n@x.co"}})
    store["loyalty.sessions"].delete("seed-session-1")
    store.restore({"loyalty.sessions": {}, "commerce.profiles": {}}, copied=True)
    accounts.put("1000000001", {**ada, "profile": {"email": "last@example.com"}})
    real, persistence._db = persistence._db, FullDisk(persistence._db)  # type: ignore[assignment]
    with pytest.raises(NotPersisted, match=r"^writing state\.db: database or disk is full$"):
        persistence.commit()
    assert store.snapshot() == before
    assert accounts.find("email", "ada@example.com") is ada  # the indexes too
    assert accounts.find("email", "new@example.com") is None
    assert accounts.find("email", "last@example.com") is None
    assert persistence.status == "failing: writing state.db: database or disk is full"
    assert documents(data_file, "x") == in_file
    persistence._db = real
    store["loyalty.sessions"].delete("seed-session-2")
    assert persistence.commit() > 0
    assert persistence.status == "ok"
    runtime.close()
    assert runtime.close_error is None
    again = Runtime(VENDORS, FIXTURES_DIR, data_file)
    expected = {**before, "loyalty.sessions": dict(before["loyalty.sessions"])}
    del expected["loyalty.sessions"]["seed-session-2"]
    assert again.namespace("x").store.snapshot() == expected
    again.close()


def test_a_handler_that_raises_after_writing_leaves_nothing_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call answered with an error keeps none of its writes, whatever the handler did."""

    async def put_then_refuse(ctx):  # a handler that writes, then refuses the call
        await ctx.checked()
        ctx.store["tiny.items"].put(ctx.path_params["item_id"], {"name": ctx.body["name"]})
        raise EmulatedError(tiny_errors.BUSY)

    monkeypatch.setattr(tiny_handlers, "put_item", put_then_refuse)
    data_file = tmp_path / "state.db"
    with EmulatorServer(data_file=data_file, vendors=(TINY,)) as server:
        r = httpx.put(server.url + "/tiny/v1/items/a", json={"name": "Ay"})
        assert (r.status_code, r.json()) == (503, {"code": "BUSY", "text": "Try again later"})
        assert httpx.get(server.url + "/tiny/v1/items/a").status_code == 404
    assert documents(data_file, "default") == {("tiny.items", "seed"): '{"name":"Seed"}'}


def test_writes_made_outside_a_call_are_committed_at_the_stop(tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    runtime = Runtime(VENDORS, FIXTURES_DIR, data_file)
    runtime.namespace("x").store["loyalty.sessions"].delete("seed-session-1")
    runtime.close()
    assert runtime.close_error is None
    assert ("loyalty.sessions", "seed-session-1") not in documents(data_file, "x")
    assert ("loyalty.sessions", "seed-session-2") in documents(data_file, "x")
