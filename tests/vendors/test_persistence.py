"""--data-file, a SQLite database: state survives restarts, crashes lose nothing answered, one
server per file, a write answered with an error is never kept, the JSON file of the previous
version is moved in, a file it cannot use stops the start with one line."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from emulator.resources import FIXTURES_DIR, OPENAPI_DIR
from emulator.runtime import Runtime
from emulator.server import EmulatorServer
from emulator.vendors import VENDORS
from tests.processes import SERVE, refused

pytestmark = pytest.mark.slow  # most start the emulator as a process of its own

NS = {"X-Emulator-Namespace": "persisted"}
VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada.persisted@example.com",
    "postalZipCode": "H0H 0H0",
}
SAMPLE = Path(__file__).parent / "data" / "json-data-file"  # written by the JSON version
# `python -c LIMITED BYTES serve ...`: the emulator with a file size limit (RLIMIT_FSIZE, soft:
# a test can lift it), so the data file's writes fail as on a full disk.
LIMITED = (
    "import resource, sys\n"
    "limit = int(sys.argv.pop(1))\n"
    "resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))\n"
    "from emulator.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)
# The emulator whose fsyncs of the data file fail (EIO), as a dying disk's.
FAILING_FSYNC = (
    "import errno, sys\n"
    "from emulator.syncer import Syncer\n"
    "def fsync(fd):\n"
    "    raise OSError(errno.EIO, 'Input/output error')\n"
    "Syncer._fsync = staticmethod(fsync)\n"
    "from emulator.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)

# The emulator that never copies its WAL into the database while it runs, as one killed
# before the copy is due.
NO_CHECKPOINTS = (
    "import sys\n"
    "from emulator.syncer import Syncer\n"
    "Syncer._checkpoints = lambda self: None\n"
    "from emulator.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def member(n: int | str) -> dict[str, str]:
    return {**VALID, "email": f"member-{n}@example.com"}


def emails(url: str, namespace: dict[str, str] = NS) -> set[str]:
    state = httpx.get(url + "/_emulator/state", headers=namespace).json()
    return {account["profile"]["email"] for account in state["loyalty.accounts"].values()}


def rows(data_file: Path, sql: str, *params: object) -> list[tuple]:
    """What another process (the sqlite3 tool) reads from the file, read-only."""
    with sqlite3.connect(f"file:{data_file}?mode=ro", uri=True) as db:
        return db.execute(sql, params).fetchall()


def _example(spec: str, response: str) -> dict:
    """The example body the spec documents for one of its shared responses."""
    doc = yaml.safe_load((OPENAPI_DIR / spec).read_text(encoding="utf-8"))
    return doc["components"]["responses"][response]["content"]["application/json"]["example"]


def test_state_survives_restart(tmp_path: Path) -> None:
    data_file = tmp_path / "emulator.db"
    with EmulatorServer(data_file=data_file) as server:
        account = httpx.post(server.url + "/client/users", json=VALID, headers=NS).json()
        httpx.post(
            f"{server.url}/client/users/{account['accountId']}/sessions",
            json={"correlationId": "keep-me", "channel": "APP"},
            headers=NS,
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.db"]  # the WAL copied in
    ((document,),) = rows(
        data_file,
        "SELECT document FROM documents WHERE namespace = ? AND collection = ? AND key = ?",
        "persisted",
        "loyalty.accounts",
        account["accountId"],
    )
    assert json.loads(document)["profile"]["email"] == VALID["email"]
    with EmulatorServer(data_file=data_file) as server:
        r = httpx.get(server.url + "/client/users/keep-me/profile", headers=NS)
        assert r.status_code == 200 and r.json()["email"] == VALID["email"]
        # the unique email index was rebuilt from the file
        r = httpx.post(server.url + "/client/users", json=VALID, headers=NS)
        assert r.json()["errorCode"] == "EMAIL_ALREADY_EXISTS"


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_a_sigkill_loses_no_answered_write(serve, tmp_path: Path, fsync: str) -> None:
    data_file = tmp_path / "state.db"
    server = serve("--quiet", "--data-file", str(data_file), "--fsync", fsync)
    with httpx.Client(base_url=server.url, headers=NS) as http:
        for n in range(50):
            assert http.post("/client/users", json=member(n)).status_code == 201
        assert http.post("/_emulator/reset", headers={"X-Emulator-Namespace": "gone"}).status_code
    status, _, _ = server.stop(signal.SIGKILL, timeout=20)  # nothing flushed at exit
    assert status == -signal.SIGKILL
    again = serve("--quiet", "--data-file", str(data_file))
    assert emails(again.url) >= {f"member-{n}@example.com" for n in range(50)}
    assert httpx.get(again.url + "/_emulator/health").json() == {"status": "ok"}


def test_what_a_crash_left_in_the_wal_is_copied_into_the_database_at_the_start(
    serve, tmp_path: Path
) -> None:
    """Else each crash before a copy leaves the WAL longer, and the next start reads through
    it."""
    data_file = tmp_path / "state.db"
    server = serve(
        "--quiet",
        "--data-file",
        str(data_file),
        command=[sys.executable, "-c", NO_CHECKPOINTS, "serve"],
    )
    with httpx.Client(base_url=server.url, headers=NS) as http:
        for n in range(5):
            assert http.post("/client/users", json=member(n)).status_code == 201
    server.stop(signal.SIGKILL, timeout=20)
    alone = tmp_path / "alone.db"  # the database without its WAL: what was copied into it
    shutil.copyfile(data_file, alone)
    assert rows(alone, "SELECT count(*) FROM documents WHERE namespace = 'persisted'") == [(0,)]
    again = serve("--quiet", "--data-file", str(data_file))
    shutil.copyfile(data_file, alone)
    (tmp_path / "alone.db-wal").unlink(missing_ok=True)
    assert {f"member-{n}@example.com" for n in range(5)} <= {
        json.loads(document)["profile"]["email"]
        for (document,) in rows(
            alone,
            "SELECT document FROM documents WHERE namespace = 'persisted' "
            "AND collection = 'loyalty.accounts'",
        )
    }
    assert emails(again.url) >= {f"member-{n}@example.com" for n in range(5)}


def test_a_second_server_on_the_same_file_refuses_to_start(serve, tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    first = serve("--quiet", "--data-file", str(data_file))
    with httpx.Client(base_url=first.url, headers=NS) as http:
        assert http.post("/client/users", json=member("first")).status_code == 201
        done = subprocess.run(
            [*SERVE, "--quiet", "--port", "0", "--data-file", str(data_file)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr == (
            f"profile-emulator: {data_file}: in use by another server (one data file, one server)\n"
        )
        assert "listening" not in done.stdout
        # The first goes on, and the file is readable beside it (the sqlite3 tool's way).
        assert http.post("/client/users", json=member("second")).status_code == 201
        ((count,),) = rows(
            data_file,
            "SELECT count(*) FROM documents WHERE namespace = 'persisted' "
            "AND document LIKE '%member-second@example.com%'",
        )
        assert count == 1
    status, _, err = first.stop(timeout=20)
    assert status == 0, err
    again = serve("--quiet", "--data-file", str(data_file))  # the lock went with the first
    assert {"member-first@example.com", "member-second@example.com"} <= emails(again.url)


@pytest.mark.parametrize("fsync", ["batch", "always"])
def test_a_write_the_disk_refuses_is_answered_500_and_never_kept(
    serve, tmp_path: Path, fsync: str
) -> None:
    """The data file's writes fail past a file size limit, as on a full disk: each write
    answered 500 is undone (not seen, not there after a restart), each one answered 201 is
    kept; once the disk takes writes again, so does the server."""
    data_file = tmp_path / "state.db"
    server = serve(
        "--quiet",
        "--data-file",
        str(data_file),
        "--fsync",
        fsync,
        command=[sys.executable, "-c", LIMITED, str(96 * 1024), "serve"],
    )
    answered: dict[int, list[str]] = {201: [], 500: []}
    internal_error = _example("loyalty.yaml", "InternalError")
    with httpx.Client(base_url=server.url, headers=NS) as http:
        for n in range(300):
            r = http.post("/client/users", json=member(n))
            answered[r.status_code].append(member(n)["email"])
            if r.status_code == 500:
                assert r.json() == internal_error
                assert member(n)["email"] not in emails(server.url)  # undone: not seen
                if len(answered[500]) == 1:  # reported until a write goes through again
                    health = http.get("/_emulator/health").json()
                    assert health["status"] == "ok"
                    assert health["persistence"].startswith("failing: writing state.db: ")
        assert answered[201] and answered[500], answered
        resource.prlimit(server.proc.pid, resource.RLIMIT_FSIZE, (-1, -1))  # room again
        assert http.post("/client/users", json=member("later")).status_code == 201
        assert http.get("/_emulator/health").json() == {"status": "ok"}
    server.stop(signal.SIGKILL, timeout=20)
    again = serve("--quiet", "--data-file", str(data_file))
    kept = emails(again.url)
    assert kept >= {*answered[201], "member-later@example.com"}
    assert kept & set(answered[500]) == set()


def test_control_writes_the_file_refuses_answer_500_and_change_nothing(tmp_path: Path) -> None:
    """A restored snapshot and a reset the data file cannot take (its commits fail, as on a
    full disk) answer the control API's 500, and the namespace is as it was."""
    with EmulatorServer(data_file=tmp_path / "state.db") as server:
        http = httpx.Client(base_url=server.url, headers=NS)
        assert http.post("/_emulator/faults", json={"fault": "timeout"}).status_code == 201
        persistence = server.app.runtime.persistence
        real, persistence._db = persistence._db, FullDisk(persistence._db)
        try:
            r = http.put("/_emulator/state", json={"loyalty.sessions": {}})
            assert (r.status_code, r.json()) == (500, _example("control.yaml", "NotPersisted"))
            r = http.post("/_emulator/reset")
            assert (r.status_code, r.json()) == (500, _example("control.yaml", "NotPersisted"))
            assert "seed-session-1" in http.get("/_emulator/state").json()["loyalty.sessions"]
            assert len(http.get("/_emulator/faults").json()) == 1  # not reset
        finally:
            persistence._db = real
        assert http.post("/_emulator/reset").status_code == 204
        assert http.get("/_emulator/faults").json() == []
        http.close()


class FullDisk:
    """A connection whose commits fail as on a full disk (a seam over sqlite3's own)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" or sql.startswith(("INSERT", "DELETE")):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_an_fsync_that_fails_with_fsync_always_stops_the_server_unanswered(
    serve, tmp_path: Path
) -> None:
    """What reached the disk is unknown once an fsync fails: the call waiting for it gets no
    answer (neither acknowledged nor refused), and the server ends with status 1."""
    data_file = tmp_path / "state.db"
    server = serve(
        "--quiet",
        "--data-file",
        str(data_file),
        "--fsync",
        "always",
        command=[sys.executable, "-c", FAILING_FSYNC, "serve"],
    )
    with pytest.raises(httpx.TransportError):
        httpx.post(server.url + "/client/users", json=member(1), headers=NS, timeout=20)
    assert server.proc.wait(timeout=20) == 1
    err = server.err.read_text()
    assert err.count("\n") == 1, err
    assert "syncing state.db-wal: [Errno 5] Input/output error; the server stops" in err


def test_an_fsync_that_fails_in_the_default_mode_is_reported_and_ends_in_exit_1(
    serve, tmp_path: Path
) -> None:
    data_file = tmp_path / "state.db"
    server = serve(
        "--quiet",
        "--data-file",
        str(data_file),
        command=[sys.executable, "-c", FAILING_FSYNC, "serve"],
    )
    with httpx.Client(base_url=server.url, headers=NS) as http:
        assert http.post("/client/users", json=member(1)).status_code == 201  # in the WAL
        health = _until(lambda: http.get("/_emulator/health").json(), lambda h: len(h) > 1)
    assert health == {
        "status": "ok",
        "persistence": "failing: syncing state.db-wal: [Errno 5] Input/output error",
    }
    status, _, err = server.stop(timeout=20)
    assert status == 1
    assert err.endswith(
        f"profile-emulator: --data-file: {data_file}: "
        "syncing state.db-wal: [Errno 5] Input/output error\n"
    )


def _until(read, done, attempts: int = 500):
    """Poll ``read()`` until ``done(value)`` (the syncer acts on its own time)."""
    for _ in range(attempts):
        value = read()
        if done(value):
            return value
        time.sleep(0.01)
    raise AssertionError(f"never came: last {value!r}")


# --- the JSON data file of the previous version ---------------------------------------------


def test_a_json_data_file_of_the_previous_version_is_moved_into_sqlite(
    serve, tmp_path: Path
) -> None:
    """The sample was written by the previous version: a clean stop, then a SIGKILL, which
    left a snapshot (generation 3) and its change log (puts, a reset, a restored snapshot,
    and a namespace first used after the snapshot, so made from the fixture seed)."""
    data_file = tmp_path / "state.json"
    for sample in SAMPLE.iterdir():
        shutil.copy(sample, tmp_path / sample.name)
    server = serve("--data-file", str(data_file))
    with httpx.Client(base_url=server.url) as http:
        alpha = {"X-Emulator-Namespace": "alpha"}
        assert emails(server.url, alpha) == {
            "ada@example.com",  # the fixture seed's
            "grace@example.com",
            "snap-updated@example.com",  # enrolled as snap@, then updated, in the log
            "logged@example.com",
        }
        profile = http.get("/client/users/snap-session/profile", headers=alpha).json()
        assert profile["email"] == "snap-updated@example.com"
        beta = {"X-Emulator-Namespace": "beta"}
        assert "beta@example.com" in emails(server.url, beta)
        assert [ns["name"] for ns in http.get("/_emulator/namespaces").json()] == [
            "alpha",
            "beta",
            "default",  # made by the call just above
            "delta",
        ]  # gamma was reset
        delta = http.get("/_emulator/state", headers={"X-Emulator-Namespace": "delta"}).json()
        assert delta["loyalty.accounts"] == delta["commerce.profiles"] == {}  # left out: emptied
        assert delta["loyalty.counters"] == {"accounts": {"next": 1000}}  # kept
    assert data_file.read_bytes().startswith(b"SQLite format 3\x00")
    backup = tmp_path / "state.json.before-sqlite"
    assert sorted(p.name for p in backup.iterdir()) == ["state.json", "state.json.3.log"]
    assert (backup / "state.json").read_bytes() == (SAMPLE / "state.json").read_bytes()
    assert not (tmp_path / "state.json.3.log").exists()
    status, _, err = server.stop(timeout=20)
    assert status == 0
    assert f"moved into SQLite; its JSON files are kept in {backup}" in err
    again = serve("--data-file", str(data_file))
    assert "logged@example.com" in emails(again.url, {"X-Emulator-Namespace": "alpha"})


def test_a_json_data_file_of_version_1_is_moved_in_too(serve, tmp_path: Path) -> None:
    data_file = tmp_path / "state.json"
    seeded = Runtime(VENDORS, FIXTURES_DIR).namespace("old").store.snapshot()
    seeded["loyalty.sessions"]["kept"] = {
        "correlationId": "kept",
        "accountId": "1000000001",
        "channel": "WEB",
    }
    data_file.write_text(json.dumps({"namespaces": {"old": seeded}}))
    server = serve("--quiet", "--data-file", str(data_file))
    r = httpx.get(
        server.url + "/client/users/kept/profile", headers={"X-Emulator-Namespace": "old"}
    )
    assert r.status_code == 200


# --- data files it refuses (exit 2, one line naming the file and the field) -----------------


def _refused(*args: str) -> subprocess.CompletedProcess[str]:
    done = refused("--quiet", "--port", "0", *args)
    assert done.stderr.count("\n") == 1, done.stderr  # one line
    return done


@pytest.mark.parametrize(
    ("saved", "problem"),
    [
        ({"namespaces": {"x": 5}}, "namespaces.x: 5"),  # path and value; the checker words the rest
        (
            {"namespaces": {"x": {"nope": {}}}},
            "namespaces.x.nope: unknown collection; expected one of: loyalty.accounts",
        ),
        (
            {
                "namespaces": {
                    "x": {
                        "loyalty.accounts": {"1": {"accountId": "1", "loyaltyId": "7", "emd": {}}}
                    }
                }
            },
            "namespaces.x.loyalty.accounts.1: does not fit the collection's email index "
            "(KeyError: 'profile')",
        ),
        (
            {"namespaces": {"x": {"loyalty.counters": {"accounts": {"next": "x"}}}}},
            "namespaces.x.loyalty.counters.accounts.next: 'x'",
        ),
        ({"namespaces": {"bad name": {}}}, "namespaces.'bad name': not a namespace name"),
        (
            {"version": 9, "namespaces": {}},
            "version: 9 is not a version this emulator reads (1, 2)",
        ),
        (
            {"namespace": {}},
            "namespace: unknown field; a state file holds version, generation and namespaces",
        ),
    ],
)
def test_a_json_data_file_of_the_wrong_shape_is_refused(
    tmp_path: Path, saved: dict, problem: str
) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_text(json.dumps(saved))
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {data_file}: {problem}")
    assert data_file.read_text() == json.dumps(saved)  # left as it was


@pytest.mark.parametrize(
    ("log", "problem"),
    [
        (
            b'{"log": 1, "generation": 1}\n["put","x","loyalty.sessions","s",{"correlationId":"s",'
            b'"accountId":\n["drop","x"]\n',
            "state.json.1.log: line 2: not a change record ('corrupt: ",
        ),
        (
            b'{"log": 1, "generation": 1}\n["put","x","loyalty.sessions","s",{}]\n',
            "state.json: namespaces.x.loyalty.sessions.s: 'correlationId' is a required property",
        ),
        (b'{"log":\n', "state.json.1.log: line 1: not a change log of generation 1"),
        (b'{"log": 1, "generation": 1}\n["put","x"]\n', "state.json.1.log: line 2: not a change"),
    ],
)
def test_a_corrupt_change_log_of_a_json_data_file_is_refused(
    tmp_path: Path, log: bytes, problem: str
) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_text('{"version": 2, "generation": 1, "namespaces": {}}')
    (tmp_path / "state.json.1.log").write_bytes(log)
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {tmp_path}/{problem}"), done.stderr


def test_a_sqlite_database_of_something_else_is_refused(tmp_path: Path) -> None:
    data_file = tmp_path / "other.db"
    with sqlite3.connect(data_file) as db:
        db.execute("CREATE TABLE songs (title TEXT)")
    done = _refused("--data-file", str(data_file))
    assert done.stderr == (
        f"profile-emulator: {data_file}: not a data file of this emulator (a SQLite "
        "database with application_id 0, tables: songs)\n"
    )


def test_a_document_the_handlers_could_not_use_is_refused(serve, tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    server = serve("--quiet", "--data-file", str(data_file))
    assert httpx.post(server.url + "/client/users", json=VALID, headers=NS).status_code == 201
    assert server.stop(timeout=20)[0] == 0
    with sqlite3.connect(data_file) as db:
        db.execute(
            "UPDATE documents SET document = ? WHERE collection = 'loyalty.counters'",
            ('{"next": "soon"}',),
        )
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(
        f"profile-emulator: {data_file}: namespaces.persisted.loyalty.counters.accounts.next: "
        "'soon' is not of type 'integer'"
    ), done.stderr


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    data_file.write_bytes(b"SQLite format 3\x00" + b"\xff" * 200)
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {data_file}: not a data file (SQLite: ")


def test_a_data_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    done = _refused("--data-file", str(tmp_path))
    assert done.stderr == f"profile-emulator: --data-file {tmp_path}: not a file\n"


def test_a_data_file_in_a_folder_that_cannot_be_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    data_file = tmp_path / "file" / "state.db"
    done = _refused("--data-file", str(data_file))
    assert done.stderr == (
        f"profile-emulator: {data_file}: cannot be read ([Errno 20] Not a directory)\n"
    )


# --- namespaces made and dropped --------------------------------------------------------------


def test_a_call_still_under_way_in_a_reset_namespace_writes_nothing_to_the_file(
    tmp_path: Path,
) -> None:
    """After a reset the namespace is made afresh; what a call still holding the old one
    writes does not reach the file, so it is not in the new one after a restart."""
    data_file = tmp_path / "state.db"
    runtime = Runtime(VENDORS, FIXTURES_DIR, data_file)
    old = runtime.namespace("gone")
    runtime.reset("gone")
    old.store["loyalty.sessions"].put(
        "late", {"correlationId": "late", "accountId": "1000000001", "channel": "WEB"}
    )
    runtime.close()
    assert runtime.close_error is None
    again = Runtime(VENDORS, FIXTURES_DIR, data_file)
    assert "late" not in again.namespace("gone").store["loyalty.sessions"]
    again.close()


def test_a_namespace_evicted_to_make_room_leaves_the_file_too(tmp_path: Path) -> None:
    data_file = tmp_path / "state.db"
    runtime = Runtime(VENDORS, FIXTURES_DIR, data_file, max_namespaces=2)
    runtime.namespace("first").store["loyalty.sessions"].put(
        "mine", {"correlationId": "mine", "accountId": "1000000001", "channel": "WEB"}
    )
    runtime.namespace("second")
    runtime.namespace("third")  # the least recently used one goes
    runtime.close()
    assert runtime.close_error is None
    assert rows(data_file, "SELECT name FROM namespaces ORDER BY name") == [("second",), ("third",)]
    assert rows(data_file, "SELECT count(*) FROM documents WHERE namespace = 'first'") == [(0,)]
