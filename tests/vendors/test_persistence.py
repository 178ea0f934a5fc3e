"""--data-file: state survives a restart of the server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from emulator.server import EmulatorServer

VALID = {
    "firstName": "Ada",
    "lastName": "Lovelace",
    "dateOfBirth": "1985-12-10",
    "gender": "F",
    "email": "ada.persisted@example.com",
    "postalZipCode": "H0H 0H0",
}


def test_state_survives_restart(tmp_path: Path):
    data_file = tmp_path / "emulator.json"
    with EmulatorServer(data_file=data_file) as server:
        headers = {"X-Emulator-Namespace": "persisted"}
        account = httpx.post(server.url + "/client/users", json=VALID, headers=headers).json()
        httpx.post(
            f"{server.url}/client/users/{account['accountId']}/sessions",
            json={"correlationId": "keep-me", "channel": "APP"},
            headers=headers,
        )
    saved = json.loads(data_file.read_text())
    assert account["accountId"] in saved["namespaces"]["persisted"]["loyalty.accounts"]
    with EmulatorServer(data_file=data_file) as server:
        r = httpx.get(server.url + "/client/users/keep-me/profile", headers=headers)
        assert r.status_code == 200 and r.json()["email"] == "ada.persisted@example.com"
        # the unique email index was rebuilt from the file
        r = httpx.post(server.url + "/client/users", json=VALID, headers=headers)
        assert r.json()["errorCode"] == "EMAIL_ALREADY_EXISTS"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["emulator.json"]


# --- as users run it: a real server, real signals ---------------------------------------------

import errno  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import pytest  # noqa: E402
import yaml  # noqa: E402

from emulator import files  # noqa: E402
from emulator.cli import FSYNC_MODES  # noqa: E402
from emulator.persistence import MODES, log_path  # noqa: E402
from emulator.resources import OPENAPI_DIR  # noqa: E402
from tests.processes import refused  # noqa: E402

LOYALTY_NS = {"X-Emulator-Namespace": "persisted"}


def member(n: int | str) -> dict[str, str]:
    return {**VALID, "email": f"member-{n}@example.com"}


def test_the_cli_offers_the_fsync_modes_the_writer_has() -> None:
    assert FSYNC_MODES == MODES


def test_with_fsync_always_a_sigkill_loses_no_acknowledged_write(serve, tmp_path: Path) -> None:
    data_file = tmp_path / "state.json"
    server = serve("--quiet", "--data-file", str(data_file), "--fsync", "always")
    with httpx.Client(base_url=server.url, headers=LOYALTY_NS) as http:
        created = [
            http.post("/client/users", json=member(n)).json()["accountId"] for n in range(30)
        ]
    status, _, _ = server.stop(signal.SIGKILL, timeout=20)  # no flush at exit: only what is on disk
    assert status == -signal.SIGKILL
    again = serve("--quiet", "--data-file", str(data_file))
    state = httpx.get(again.url + "/_emulator/state", headers=LOYALTY_NS).json()
    assert set(created) <= set(state["loyalty.accounts"])
    assert httpx.get(again.url + "/_emulator/health").json() == {"status": "ok"}


def test_a_data_file_killed_mid_write_still_loads(serve, tmp_path: Path) -> None:
    """Whatever moment a kill lands on, the next start reads the files (here: a record cut
    short at the end of the log, and a temporary file of a snapshot never renamed)."""
    data_file = tmp_path / "state.json"
    server = serve("--quiet", "--data-file", str(data_file), "--fsync", "always")
    with httpx.Client(base_url=server.url, headers=LOYALTY_NS) as http:
        kept = http.post("/client/users", json=member("kept")).json()["accountId"]
    server.stop(signal.SIGKILL, timeout=20)
    with log_path(data_file, 2).open("ab") as log:
        log.write(b'["put","persisted","loyalty.accounts","1000001001",{"accountId":"10')
    stale = tmp_path / f"{files.temporary_prefix(data_file)}x1y2z3"
    stale.write_bytes(b'{"version":2,"generation":3,"namesp')
    again = serve("--quiet", "--data-file", str(data_file))
    state = httpx.get(again.url + "/_emulator/state", headers=LOYALTY_NS).json()
    assert kept in state["loyalty.accounts"] and "1000001001" not in state["loyalty.accounts"]
    assert not stale.exists()
    status, _, err = again.stop(timeout=20)
    assert status == 0
    assert "dropped its last record, cut short" in err and f"removed {stale.name}" in err


def test_a_last_snapshot_that_fails_at_the_stop_exits_1_with_one_line(
    serve, tmp_path: Path
) -> None:
    data_file = tmp_path / "state.json"
    server = serve("--quiet", "--data-file", str(data_file))
    with httpx.Client(base_url=server.url, headers=LOYALTY_NS) as http:
        assert http.post("/client/users", json=member(1)).status_code == 201
    data_file.unlink()
    data_file.mkdir()  # the rename over it fails, for root too
    status, _, err = server.stop(timeout=20)
    assert status == 1
    assert err == (
        f"profile-emulator: --data-file: could not write {data_file}: [Errno 21] "
        "Is a directory; the writes up to the stop are in state.json.1.log\n"
    )


def test_health_reports_persistence_failing_and_recovering(tmp_path: Path, monkeypatch) -> None:
    data_file = tmp_path / "state.json"
    with EmulatorServer(data_file=data_file) as server:
        writer = server.app.runtime.persistence
        assert httpx.get(server.url + "/_emulator/health").json() == {"status": "ok"}

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(writer, "_write", full)
        monkeypatch.setattr(files.tempfile, "mkstemp", full)
        assert (
            httpx.post(server.url + "/client/users", json=member(1), headers=LOYALTY_NS).status_code
            == 201
        )  # still answered
        health = _until(
            lambda: httpx.get(server.url + "/_emulator/health").json(), lambda h: "persistence" in h
        )
        assert health == {
            "status": "ok",
            "persistence": "failing: writing state.json.1.log: [Errno 28] No space left on device",
        }
        monkeypatch.undo()
        _until(
            lambda: httpx.get(server.url + "/_emulator/health").json(),
            lambda h: h == {"status": "ok"},
        )
    saved = json.loads(data_file.read_text())
    emails = [
        a["profile"]["email"] for a in saved["namespaces"]["persisted"]["loyalty.accounts"].values()
    ]
    assert "member-1@example.com" in emails


def test_with_fsync_always_a_write_that_cannot_reach_the_disk_is_not_acknowledged(
    tmp_path: Path, monkeypatch
) -> None:
    with EmulatorServer(data_file=tmp_path / "state.json", fsync="always") as server:
        writer = server.app.runtime.persistence

        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(writer, "_write", full)
        monkeypatch.setattr(files.tempfile, "mkstemp", full)
        r = httpx.post(server.url + "/client/users", json=member(2), headers=LOYALTY_NS)
        assert (r.status_code, r.json()) == (500, _example("loyalty.yaml", "InternalError"))
        r = httpx.put(server.url + "/_emulator/state", json={"loyalty.sessions": {}})
        assert (r.status_code, r.json()) == (500, _example("control.yaml", "NotPersisted"))
        monkeypatch.undo()


def _example(spec: str, response: str) -> dict:
    """The example body the spec documents for one of its shared responses."""
    doc = yaml.safe_load((OPENAPI_DIR / spec).read_text(encoding="utf-8"))
    return doc["components"]["responses"][response]["content"]["application/json"]["example"]


def _until(read, done, attempts: int = 500):
    """Poll ``read()`` until ``done(value)`` (the writer's thread acts on its own time)."""
    for _ in range(attempts):
        value = read()
        if done(value):
            return value
        time.sleep(0.01)
    raise AssertionError(f"never came: last {value!r}")


# --- data files it refuses (exit 2, one line naming the file and the field) -----------------


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
def test_a_data_file_of_the_wrong_shape_is_refused(
    tmp_path: Path, saved: dict, problem: str
) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_text(json.dumps(saved))
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {data_file}: {problem}")


def test_a_data_file_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    done = _refused("--data-file", str(tmp_path))
    assert done.stderr == f"profile-emulator: --data-file {tmp_path}: not a file\n"


def test_a_data_file_in_a_folder_that_cannot_be_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    data_file = tmp_path / "file" / "state.json"
    done = _refused("--data-file", str(data_file))
    assert done.stderr == (
        f"profile-emulator: {data_file}: cannot be read ([Errno 20] Not a directory)\n"
    )


@pytest.mark.parametrize(
    ("log", "problem"),
    [
        (
            b'{"log": 1, "generation": 1}\n["put","x","loyalty.sessions","s",{"correlationId":"s",'
            b'"accountId":\n["drop","x"]\n',
            "line 2: not a change record (corrupt: ",
        ),
        (
            b'{"log": 1, "generation": 1}\n["put","x","loyalty.sessions","s",{}]\n',
            "line 2: namespace 'x': loyalty.sessions.s: 'correlationId'",
        ),
        (b'{"log":', "line 1: not a change log of generation 1"),
    ],
)
def test_a_corrupt_or_truncated_change_log_is_refused(
    tmp_path: Path, log: bytes, problem: str
) -> None:
    data_file = tmp_path / "state.json"
    data_file.write_text('{"version": 2, "generation": 1, "namespaces": {}}')
    log_path(data_file, 1).write_bytes(log + (b"\n" if not log.endswith(b"\n") else b""))
    done = _refused("--data-file", str(data_file))
    assert done.stderr.startswith(f"profile-emulator: {log_path(data_file, 1)}: {problem}")


def _refused(*args: str) -> subprocess.CompletedProcess[str]:
    done = refused("--quiet", "--port", "0", *args)
    assert done.stderr.count("\n") == 1, done.stderr  # one line
    return done


def test_a_call_still_under_way_in_a_reset_namespace_writes_nothing_to_the_file(
    tmp_path: Path,
) -> None:
    """After a reset the namespace is made afresh; what a call still holding the old one
    writes is not replayed into the new one after a restart."""
    from emulator.resources import FIXTURES_DIR
    from emulator.runtime import Runtime
    from emulator.vendors import VENDORS

    data_file = tmp_path / "state.json"
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
    from emulator.resources import FIXTURES_DIR
    from emulator.runtime import Runtime
    from emulator.vendors import VENDORS

    data_file = tmp_path / "state.json"
    runtime = Runtime(VENDORS, FIXTURES_DIR, data_file, max_namespaces=2)
    runtime.namespace("first").store["loyalty.sessions"].put(
        "mine", {"correlationId": "mine", "accountId": "1000000001", "channel": "WEB"}
    )
    runtime.namespace("second")
    runtime.namespace("third")  # the least recently used one goes
    runtime.close()
    assert runtime.close_error is None
    saved = json.loads(data_file.read_text())
    assert "first" not in saved["namespaces"]
