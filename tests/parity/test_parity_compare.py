"""An emulator's answer against the vendor's recorded one: labels bind once and hold, values the
vendor gave twice must be the same, every path that differs is named."""

from __future__ import annotations

from emulator.parity.compare import ABSENT, Bindings, Difference, compare


def answer(body: object, status: int = 200, **headers: str) -> dict:
    return {"status": status, "headers": headers, "body": body}


def test_a_label_stands_for_the_first_value_and_for_it_after() -> None:
    bindings = Bindings()
    found, checked = compare(
        answer({"id": "<id:1>", "again": "<id:1>"}), answer({"id": "a", "again": "b"}), bindings
    )
    assert [(d.path, d.vendor, d.emulator) for d in found] == [("body.again", "<id:1>", "b")]
    assert "another value" in found[0].note
    assert checked == 3  # status and two values


def test_two_labels_may_not_stand_for_one_value() -> None:
    found, _ = compare(
        answer({"accountId": "<id:1>", "loyaltyId": "<id:2>"}),
        answer({"accountId": "7", "loyaltyId": "7"}),
        Bindings(),
    )
    assert [d.path for d in found] == ["body.loyaltyId"]


def test_labels_inside_text_bind_and_are_checked() -> None:
    bindings = Bindings()
    bindings.bind("<id:1>", "c-9")
    vendor = answer(
        {
            "message": "Invalid session correlation ID: parity-<id:1>-none",
            "user": "<id:2>@example.com",
        }
    )
    good, _ = compare(
        vendor,
        answer(
            {
                "message": "Invalid session correlation ID: parity-c-9-none",
                "user": "kim@example.com",
            }
        ),
        bindings,
    )
    assert good == []
    assert bindings.values["<id:2>"] == "kim"
    bad, _ = compare(
        vendor,
        answer(
            {
                "message": "Invalid session correlation ID: parity-c-8-none",
                "user": "kim@example.com",
            }
        ),
        bindings,
    )
    assert [(d.path, d.note) for d in bad] == [("body.message", "different text")]


def test_a_number_label_wants_a_number_and_types_are_strict() -> None:
    found, _ = compare(
        answer({"n": "<num:1>", "flag": True, "lifetime": 300, "code": "400"}),
        answer({"n": "100100", "flag": 1, "lifetime": 300.0, "code": 400}),
        Bindings(),
    )
    assert [d.path for d in found] == ["body.n", "body.flag", "body.lifetime", "body.code"]


def test_what_one_side_lacks_is_a_difference_at_its_path() -> None:
    found, _ = compare(
        answer(
            {"statusCode": 400, "list": [1, 2]}, status=400, **{"content-type": "application/json"}
        ),
        answer(
            {"debugMessage": "Profile Updated", "list": [1]},
            status=200,
            **{"content-type": "text/plain"},
        ),
        Bindings(),
    )
    assert found == [
        Difference("status", 400, 200),
        Difference("headers.content-type", "application/json", "text/plain"),
        Difference("body.statusCode", 400, ABSENT),
        Difference("body.list[1]", 2, ABSENT),
        Difference("body.debugMessage", ABSENT, "Profile Updated"),
    ]


def test_unstable_paths_are_not_compared() -> None:
    found, _ = compare(
        answer({"items": [1, 2], "x": 1}), answer({"items": [], "x": 1}), Bindings(), ["body.items"]
    )
    assert found == []


def test_a_text_answer_against_a_json_one() -> None:
    found, _ = compare(
        {"status": 502, "headers": {}, "text": "<html>Bad gateway</html>"},
        answer({"a": 1}, 502),
        Bindings(),
    )
    assert [d.path for d in found] == ["body", "text"]
