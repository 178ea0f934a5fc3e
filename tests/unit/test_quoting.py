"""How messages repeat what a client sent (emulator/errors.py, `echo`): whatever its size, a
value comes back short and still recognisable; a detail keeps what a checker says of it."""

from __future__ import annotations

import pytest

from emulator.errors import DETAIL, REPORT, VALUE, VENDOR_VALUE, Quoting, echo

HUGE = "x" * 1_000_000
KINDS = [VALUE, VENDOR_VALUE, DETAIL, REPORT]


def test_a_short_value_is_quoted_whole_in_quotes() -> None:
    assert echo("loyalty.NOPE") == "'loyalty.NOPE'"
    assert echo("it's") == '"it\'s"'
    assert echo(12) == "12"
    assert echo({"a": [1, None]}) == "{'a': [1, None]}"


def test_a_short_text_is_kept_as_it_is() -> None:
    words = "firstName: 12 is not of type 'string'"
    assert echo(words, DETAIL) == words
    assert echo('{"a":1}', VENDOR_VALUE) == '{"a":1}'


@pytest.mark.parametrize("kind", KINDS)
def test_a_huge_value_comes_back_short_and_marked(kind: Quoting) -> None:
    for value in (HUGE, list(range(100_000)), {"k": HUGE}):
        text = echo(value, kind)
        assert len(text) < 500 and "..." in text
        assert text.startswith(("'xxx", "[0, 1, 2", "{'k': 'xxx", "xxx"))


def test_a_detail_keeps_the_start_and_what_is_said_of_the_value() -> None:
    words = f"{HUGE!r} is not one of ['connection_reset', 'timeout']"
    text = echo(words, DETAIL)
    assert text.startswith("'xxx") and text.endswith(
        "is not one of ['connection_reset', 'timeout']"
    )
    assert len(text) < 500


def test_a_quoted_value_is_cut_where_its_repr_would_be() -> None:
    """A string is cut before its repr (a huge one is never repr'd whole), to the same text."""
    long = "ab\tc" * 1000
    assert echo(long) == repr(long)[: len(echo(long)) - 3] + "..."
