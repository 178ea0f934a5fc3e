"""The data file's writer (emulator/persistence.py), driven step by step on an injected clock:
the change log, compaction, crash recovery, --fsync always, and failures it survives."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
from pathlib import Path

import orjson
import pytest

from emulator import files, persistence
from emulator.persistence import DataFileError, NotPersisted, Persistence, log_path
from emulator.state import Documents, StateSchema, Store

INDEXES = {"people": {"email": lambda d: d["email"].lower()}, "counters": {}}
DOCUMENTS = {
    "people": Documents({"type": "object", "required": ["email"]}),
    "counters": Documents(
        {"type": "object", "required": ["next"], "properties": {"next": {"type": "integer"}}},
        required=("n",),
        kept=True,
    ),
}
SCHEMA = StateSchema(INDEXES, DOCUMENTS)
NAMES = re.compile(r"^[a-z]+$")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Server:
    """One namespace's store persisted to ``path``, as the runtime wires it (no threads)."""

    def __init__(
        self, path: Path, clock: Clock | None = None, *, opened: bool = True, **options
    ) -> None:
        self.clock = clock or Clock()
        self.persistence = Persistence(path, clock=self.clock, **options)
        saved = self.persistence.load(SCHEMA, NAMES)
        self.stores: dict[str, Store] = {}
        for name, state in saved.namespaces.items():
            self.store(name).restore(state)
        for record in saved.records:
            if record[0] == "put":
                self.store(record[1])[record[2]].put(record[3], record[4])
            elif record[0] == "del":
                self.store(record[1])[record[2]].delete(record[3])
            elif record[0] == "set":
                self.store(record[1]).restore(record[2])
            else:
                self.stores.pop(record[1], None)
        if not opened:
            return
        self.persistence.open(lambda: {n: s.live for n, s in self.stores.items()})
        for name, store in self.stores.items():
            store.changes = self.persistence.recorder(name)

    def store(self, name: str = "ns") -> Store:
        if name not in self.stores:
            store = Store(INDEXES, kept=SCHEMA.kept)
            store.restore({"counters": {"n": {"next": 1}}})
            if self.persistence._live is not dict:  # opened: record from here on
                store.changes = self.persistence.recorder(name)
            self.stores[name] = store
        return self.stores[name]

    def state(self) -> dict:
        return {name: store.snapshot() for name, store in self.stores.items()}


def crashed(path: Path) -> dict:
    """What a server starting on the files as they are now (as after a SIGKILL) finds; the
    files are left as they are."""
    return Server(path, opened=False).state()


def test_a_write_costs_its_own_record_whatever_the_state_holds(tmp_path: Path) -> None:
    server = Server(tmp_path / "state.json")
    people = server.store()["people"]
    for n in range(10_000):
        people.put(f"p{n}", {"email": f"p{n}@x.co"})
    server.persistence.step()
    log = log_path(tmp_path / "state.json", 1)
    before = log.stat().st_size
    people.put("p5", {"email": "new@x.co"})
    server.persistence.step()
    record = orjson.dumps(["put", "ns", "people", "p5", {"email": "new@x.co"}]) + b"\n"
    assert log.stat().st_size - before == len(record)
    assert log.read_bytes().endswith(record)


def test_a_crash_at_any_point_leaves_files_that_load_whole(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = Server(path, min_log_bytes=0)  # compact as soon as the log grows
    store = server.store()
    store["people"].put("a", {"email": "a@x.co"})
    store["counters"].put("n", {"next": 2})
    server.persistence.step()  # written, and a snapshot is now wanted
    assert crashed(path) == server.state()
    server.persistence.compact()  # snapshot 2 on disk (log 1 is in it: gone); the switch
    store["people"].put("b", {"email": "b@x.co"})  # to log 2 is still queued, then b
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]
    assert crashed(path) == {
        "ns": {"people": {"a": {"email": "a@x.co"}}, "counters": {"n": {"next": 2}}}
    }  # b: not written yet
    server.persistence.step()  # the writer moves on to log 2 with b's record
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.2.log"]
    assert crashed(path) == server.state()
    store["people"].delete("a")
    server.persistence.step()
    assert (
        crashed(path)
        == server.state()
        == {"ns": {"people": {"b": {"email": "b@x.co"}}, "counters": {"n": {"next": 2}}}}
    )


def test_a_log_cut_short_by_a_crash_loses_only_its_last_record(tmp_path: Path, caplog) -> None:
    path = tmp_path / "state.json"
    server = Server(path)
    server.store()["people"].put("a", {"email": "a@x.co"})
    server.persistence.step()
    with log_path(path, 1).open("ab") as log:
        log.write(b'["put","ns","people","b",{"email":"b@')  # the write a kill cut short
    with caplog.at_level(logging.WARNING, "emulator.persistence"):
        assert crashed(path)["ns"]["people"] == {"a": {"email": "a@x.co"}}
    assert "dropped its last record, cut short (37 bytes)" in caplog.text


def test_a_clean_stop_leaves_one_snapshot_and_no_log(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = Server(path)
    server.store()["people"].put("a", {"email": "a@x.co"})
    assert server.persistence.close() is None
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]
    saved = json.loads(path.read_text())
    assert saved["version"] == 2 and saved["namespaces"]["ns"]["people"] == {
        "a": {"email": "a@x.co"}
    }
    assert Server(path).state() == server.state()


def test_temporary_files_left_by_a_crash_are_removed_at_start(tmp_path: Path, caplog) -> None:
    path = tmp_path / "state.json"
    stale = tmp_path / f"{files.temporary_prefix(path)}k3j2h1"
    stale.write_text('{"version": 2, "namesp')
    other = tmp_path / ".other.json.abc"
    other.write_text("{}")
    with caplog.at_level(logging.WARNING, "emulator.persistence"):
        Server(path)
    assert not stale.exists() and other.exists()
    assert f"removed {stale.name}, a temporary file left by a server" in caplog.text


def test_resets_and_restores_are_replayed(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    server = Server(path)
    server.store("a")["people"].put("x", {"email": "x@x.co"})
    server.store("b")["people"].put("y", {"email": "y@x.co"})
    server.store("a").restore({"people": {"z": {"email": "z@x.co"}}})  # counters kept
    server.stores.pop("b")
    server.persistence.dropped("b")
    server.persistence.step()
    assert crashed(path) == {
        "a": {"people": {"z": {"email": "z@x.co"}}, "counters": {"n": {"next": 1}}}
    }


# --- --fsync always -------------------------------------------------------------------------


def test_fsync_always_answers_a_write_once_it_is_on_disk(tmp_path: Path, monkeypatch) -> None:
    synced: list[int] = []
    real_fsync = persistence.os.fsync
    monkeypatch.setattr(persistence.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    server = Server(tmp_path / "state.json", always=True)
    writer = server.persistence

    async def scenario() -> None:
        server.store()["people"].put("a", {"email": "a@x.co"})
        waiting = asyncio.ensure_future(writer.durable(writer.appended))
        await asyncio.sleep(0)
        assert not waiting.done()  # nothing written yet: no answer
        synced.clear()
        await asyncio.get_running_loop().run_in_executor(None, writer.step)
        await asyncio.wait_for(waiting, 5)
        assert synced  # the log was fsynced before the write was let go
        assert b'"a@x.co"' in log_path(tmp_path / "state.json", 1).read_bytes()

    asyncio.run(scenario())


def test_fsync_always_refuses_to_acknowledge_what_cannot_reach_the_disk(
    tmp_path: Path, monkeypatch
) -> None:
    server = Server(tmp_path / "state.json", always=True)
    writer = server.persistence
    monkeypatch.setattr(persistence.os, "fsync", _raise(OSError(errno.EIO, "Input/output error")))

    async def scenario() -> None:
        server.store()["people"].put("a", {"email": "a@x.co"})
        waiting = asyncio.ensure_future(writer.durable(writer.appended))
        await asyncio.sleep(0)
        await asyncio.get_running_loop().run_in_executor(None, writer.step)
        with pytest.raises(NotPersisted, match="Input/output error"):
            await asyncio.wait_for(waiting, 5)
        server.store()["people"].put("b", {"email": "b@x.co"})
        with pytest.raises(NotPersisted):  # still failing: refused at once
            await writer.durable(writer.appended)

    asyncio.run(scenario())


# --- failures the writer survives -----------------------------------------------------------


def _raise(exc: BaseException):
    def fail(*args, **kwargs):
        raise exc

    return fail


def test_a_full_disk_is_logged_once_reported_retried_with_backoff_then_recovered(
    tmp_path: Path, monkeypatch, caplog
) -> None:
    path = tmp_path / "state.json"
    clock = Clock()
    server = Server(path, clock)
    writer = server.persistence
    people = server.store()["people"]
    disk_full = OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(writer._log, "write", _raise(disk_full), raising=False)
    monkeypatch.setattr(files.tempfile, "mkstemp", _raise(disk_full))
    delays = []
    with caplog.at_level(logging.WARNING, "emulator.persistence"):
        people.put("a", {"email": "a@x.co"})
        delays.append(writer.step())
        assert writer.status == (
            "failing: writing state.json.1.log: [Errno 28] No space left on device"
        )
        for _ in range(4):
            people.put(f"b{_}", {"email": f"b{_}@x.co"})  # writes go on being answered
            assert writer.step() == pytest.approx(delays[-1])  # not yet: waits its turn
            clock.now += delays[-1]
            delays.append(writer.step())  # the retry: a whole snapshot, failing again
            assert (
                writer.status == "failing: writing state.json: [Errno 28] No space left on device"
            )
        assert delays == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])  # doubling
        monkeypatch.undo()  # the disk has room again
        clock.now += delays[-1]
        assert writer.step() == 0.0
        assert writer.status == "ok"
        people.put("c", {"email": "c@x.co"})
        writer.step()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(": ", 2)[-1] for r in errors] == [
        "writing state.json.1.log: [Errno 28] No space left on device",
        "writing state.json: [Errno 28] No space left on device",
    ]  # each once, not per retry
    assert caplog.records[-1].getMessage() == f"{path}: persisting again"
    assert sorted(crashed(path)["ns"]["people"]) == ["a", "b0", "b1", "b2", "b3", "c"]


def test_a_read_only_folder_fails_the_snapshot_but_the_log_keeps_every_write(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "state.json"
    server = Server(path, min_log_bytes=0)
    people = server.store()["people"]
    monkeypatch.setattr(
        files.tempfile, "mkstemp", _raise(PermissionError(errno.EROFS, "Read-only file system"))
    )
    people.put("a", {"email": "a@x.co"})
    server.persistence.step()
    server.persistence.compact()
    assert server.persistence.status == (
        "failing: writing state.json: [Errno 30] Read-only file system"
    )
    people.put("b", {"email": "b@x.co"})
    server.persistence.step()
    assert sorted(crashed(path)["ns"]["people"]) == ["a", "b"]
    monkeypatch.undo()
    server.persistence.compact()
    assert server.persistence.status == "ok"
    server.persistence.step()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json", "state.json.3.log"]


def test_a_document_json_cannot_hold_is_reported_until_it_is_gone(tmp_path: Path) -> None:
    """orjson writes 255 levels at most (json.dump raised RecursionError at ~990)."""
    path = tmp_path / "state.json"
    clock = Clock()
    server = Server(path, clock)
    deep: dict = {}
    node = deep
    for _ in range(990):
        node["x"] = {}
        node = node["x"]
    people = server.store()["people"]
    people.put("deep", {"email": "d@x.co", "extra": deep})  # past the schema, straight in
    assert server.persistence.status.startswith(
        "failing: namespace 'ns', people.deep: cannot be written as JSON ("
    )
    clock.now += 1
    server.persistence.step()  # the retry cannot write the snapshot either
    assert "nested too deep to write as JSON" in server.persistence.status
    people.put("deep", {"email": "d@x.co"})
    clock.now += 1
    server.persistence.step()
    assert server.persistence.status == "ok"
    assert crashed(path)["ns"]["people"] == {"deep": {"email": "d@x.co"}}


def test_a_failed_last_snapshot_says_why_and_where_the_writes_are(
    tmp_path: Path, monkeypatch
) -> None:
    path = tmp_path / "state.json"
    server = Server(path)
    server.store()["people"].put("a", {"email": "a@x.co"})
    monkeypatch.setattr(
        files.tempfile, "mkstemp", _raise(OSError(errno.ENOSPC, "No space left on device"))
    )
    assert server.persistence.close() == (
        f"could not write {path}: [Errno 28] No space left on device; the writes up to the "
        "stop are in state.json.1.log"
    )
    monkeypatch.undo()
    assert crashed(path)["ns"]["people"] == {"a": {"email": "a@x.co"}}


# --- files it refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("log", "problem"),
    [
        (
            b'{"log": 1, "generation": 1}\n["put","ns","people","a",{"email":"a@x.co"}]\n'
            b'["put","ns","peop\n["put","ns","people","b",{"email":"b@x.co"}]\n',
            "line 3: not a change record (corrupt: ",
        ),
        (
            b'{"log": 1, "generation": 1}\n["put","ns","nope","a",{}]\n',
            "line 2: namespace 'ns': nope: unknown collection; expected one of: people, counters",
        ),
        (
            b'{"log": 1, "generation": 1}\n["put","ns","people","a",{"name":"x"}]\n',
            "line 2: namespace 'ns': people.a: does not fit the collection's email index "
            "(KeyError: 'email')",
        ),
        (
            b'{"log": 1, "generation": 1}\n["put","NS","people","a",{"email":"a"}]\n',
            "line 2: 'NS' is not a namespace name",
        ),
        (
            b'{"log": 1, "generation": 1}\n["rename","ns"]\n',
            "line 2: not a change record (['rename', 'ns'])",
        ),
        (b'{"log": 1, "generation": 7}\n', "line 1: not a change log of generation 1"),
    ],
)
def test_a_corrupt_change_log_is_refused_naming_the_file_and_line(
    tmp_path: Path, log: bytes, problem: str
) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 2, "generation": 1, "namespaces": {}}')
    log_path(path, 1).write_bytes(log)
    with pytest.raises(DataFileError) as refused:
        Persistence(path).load(SCHEMA, NAMES)
    assert str(refused.value).startswith(f"{log_path(path, 1)}: {problem}")


def test_a_missing_log_between_two_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 2, "generation": 1, "namespaces": {}}')
    log_path(path, 1).write_bytes(b'{"log": 1, "generation": 1}\n')
    log_path(path, 3).write_bytes(b'{"log": 1, "generation": 3}\n')
    with pytest.raises(DataFileError, match=r"state\.json\.3\.log: change log 2 is missing"):
        Persistence(path).load(SCHEMA, NAMES)


def test_a_log_without_its_snapshot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    log_path(path, 4).write_bytes(b'{"log": 1, "generation": 4}\n')
    with pytest.raises(
        DataFileError,
        match=r"state\.json\.4\.log: a change log without its "
        r"data file",
    ):
        Persistence(path).load(SCHEMA, NAMES)


def test_a_version_1_file_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"version": 1, "namespaces": {"ns": {"people": {"a": {"email": "a@x.co"}}}}}')
    assert crashed(path)["ns"]["people"] == {"a": {"email": "a@x.co"}}


def test_with_its_threads_the_writer_appends_at_once_and_a_syncer_fsyncs_apart(
    tmp_path: Path, monkeypatch
) -> None:
    """Batch mode: a slow fsync never holds up the appends (they are what a SIGKILL keeps)."""
    import threading
    import time

    release = threading.Event()
    real_fsync = persistence.os.fsync
    server = Server(tmp_path / "state.json")
    writer = server.persistence

    def slow_fsync(fd: int) -> None:
        if threading.current_thread().name == "emulator-data-file-sync":
            release.wait(10)  # a disk busy for as long as the test likes
        real_fsync(fd)

    monkeypatch.setattr(persistence.os, "fsync", slow_fsync)
    writer.start()
    try:
        server.store()["people"].put("a", {"email": "a@x.co"})
        log = log_path(tmp_path / "state.json", 1)
        for _ in range(1000):  # the writer's thread acts on its own time
            if b'"a@x.co"' in log.read_bytes():
                break
            time.sleep(0.005)
        assert b'"a@x.co"' in log.read_bytes()  # appended while the fsync still waits
        assert writer._synced < writer.appended
        release.set()
        for _ in range(1000):
            if writer._synced == writer.appended:
                break
            time.sleep(0.005)
        assert writer._synced == writer.appended
    finally:
        release.set()
        assert writer.close() is None
