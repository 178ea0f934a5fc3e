"""Labels learnt from two runs: what differs becomes a numbered label that keeps its relations,
what both runs agree on stays, and no secret is ever in what is written."""

from __future__ import annotations

import orjson
import pytest

from emulator.parity.placeholders import Labels
from emulator.parity.redact import Paths, RedactionError


def run(unique: str, profile: str, at: str, token: str, number: int) -> dict:
    return {
        "vars": {"unique": unique, "token": token},
        "steps": [
            {
                "request": {
                    "method": "POST",
                    "path": "/p",
                    "json": {"email": f"p-{unique}@example.com"},
                },
                "response": {"status": 200, "body": {"access_token": token, "expires_in": 300}},
            },
            {
                "request": {
                    "method": "POST",
                    "path": "/x",
                    "headers": {"Authorization": f"Bearer {token}"},
                },
                "response": {
                    "status": 201,
                    "body": {"id": profile, "created": at, "count": 3, "n": number},
                },
            },
            {
                "request": {"method": "GET", "path": f"/x/{profile}"},
                "response": {
                    "status": 200,
                    "body": {"message": f"Profile {profile} of p-{unique}@example.com"},
                },
            },
        ],
    }


A = run("a1b2c3d4e5f6", "se-570100", "2026-12-01T08:00:00Z", "tok.aaaa.1111", 100100)
B = run("f6e5d4c3b2a1", "se-570177", "2026-12-01T08:00:09Z", "tok.bbbb.2222", 100177)


def learnt(a: dict = A, b: dict = B, **options: object) -> tuple[Labels, dict]:
    labels = Labels(**options)  # type: ignore[arg-type]
    labels.learn(a, b, {"token"})
    return labels, labels.substitute(a)


def test_values_that_differ_become_labels_that_keep_their_relations() -> None:
    _, out = learnt()
    created, read = out["steps"][1], out["steps"][2]
    assert created["response"]["body"] == {
        "id": "<id:2>",
        "created": "<time:1>",
        "count": 3,
        "n": "<num:1>",
    }
    assert read["request"]["path"] == "/x/<id:2>"  # the created id, sent in a later path
    assert read["response"]["body"]["message"] == "Profile <id:2> of p-<id:1>@example.com"
    assert out["vars"]["unique"] == "<id:1>"
    assert out["steps"][0]["request"]["json"]["email"] == "p-<id:1>@example.com"


def test_what_both_runs_agree_on_stays() -> None:
    _, out = learnt()
    assert out["steps"][0]["response"]["body"]["expires_in"] == 300
    assert out["steps"][1]["response"]["status"] == 201


def test_tokens_are_secret_labels_wherever_they_appear() -> None:
    labels, out = learnt()
    assert out["steps"][0]["response"]["body"]["access_token"] == "<secret:1>"
    assert out["steps"][1]["request"]["headers"]["Authorization"] == "Bearer <secret:1>"
    text = orjson.dumps(out).decode()
    assert "tok.aaaa" not in text
    labels.check(text, "out.json")  # nothing left to find


def test_a_credential_equal_in_both_runs_is_still_secret() -> None:
    a = {
        "vars": {},
        "steps": [
            {
                "request": {"path": "/", "headers": {"Authorization": "Basic c2VrcmV0"}},
                "response": {"status": 200, "body": {"echo": "c2VrcmV0", "password": "hunter22"}},
            }
        ],
    }
    labels, out = learnt(a, a)
    assert out["steps"][0]["request"]["headers"]["Authorization"] == "<secret:1>"
    assert out["steps"][0]["response"]["body"]["password"] == "<secret:2>"
    assert out["steps"][0]["response"]["body"]["echo"] == "<secret:1>"  # the credential alone
    for leak in ("Basic c2VrcmV0", "c2VrcmV0"):
        with pytest.raises(RedactionError, match=r"<secret:1>"):
            labels.check(orjson.dumps({"x": leak}).decode(), "out.json")


def test_a_named_secret_is_replaced_by_its_name() -> None:
    a = {
        "vars": {},
        "steps": [
            {
                "request": {"path": "/", "headers": {"Authorization": "Bearer app-key-123"}},
                "response": {"status": 401, "body": {"message": "app-key-123 is unknown"}},
            }
        ],
    }
    labels = Labels()
    labels.name("app-key-123", "OCC_APP_KEY")
    labels.learn(a, a)
    out = labels.substitute(a)
    assert out["steps"][0]["request"]["headers"]["Authorization"] == "Bearer <secret:OCC_APP_KEY>"
    assert out["steps"][0]["response"]["body"]["message"] == "<secret:OCC_APP_KEY> is unknown"


def test_listed_paths_are_kept_off_the_disk_even_inside_text() -> None:
    a = {
        "vars": {},
        "steps": [
            {
                "request": {"path": "/", "json": {"email": "kim@example.com"}},
                "response": {"status": 400, "body": {"message": "kim@example.com is in use"}},
            }
        ],
    }
    _, out = learnt(a, a, paths=Paths(["email"]))
    assert out["steps"][0]["request"]["json"]["email"] == "<secret:1>"
    assert out["steps"][0]["response"]["body"]["message"] == "<secret:1> is in use"


def test_values_written_in_the_case_are_not_secrets() -> None:
    a = {
        "vars": {},
        "steps": [
            {
                "request": {"path": "/", "headers": {"Authorization": "Bearer not-a-key"}},
                "response": {"status": 401, "body": {}},
            }
        ],
    }
    labels, out = learnt(a, a, public=frozenset({"Bearer not-a-key"}))
    assert out["steps"][0]["request"]["headers"]["Authorization"] == "Bearer not-a-key"
    labels.check(orjson.dumps(out).decode(), "out.json")


def test_a_different_shape_is_unstable_not_labelled() -> None:
    a = {
        "vars": {},
        "steps": [{"request": {}, "response": {"status": 200, "body": {"items": [1, 2], "x": {}}}}],
    }
    b = {
        "vars": {},
        "steps": [{"request": {}, "response": {"status": 200, "body": {"items": [1], "x": 5}}}],
    }
    labels, out = learnt(a, b)
    assert labels.unstable == {
        ("steps", 0, "response", "body", "items"),
        ("steps", 0, "response", "body", "x"),
    }
    assert out["steps"][0]["response"]["body"] == {"items": [1, 2], "x": {}}


def test_the_check_finds_a_secret_as_json_escapes_it() -> None:
    a = {
        "vars": {},
        "steps": [
            {
                "request": {"path": "/", "form": {"password": 'pa"ss\\word'}},
                "response": {"status": 200},
            }
        ],
    }
    labels, _ = learnt(a, a)
    with pytest.raises(RedactionError):
        labels.check(orjson.dumps({"leak": 'pa"ss\\word'}).decode(), "out.json")
