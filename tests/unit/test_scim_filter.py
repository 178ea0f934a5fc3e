"""The SCIM filter of listProfiles' q (emulator/vendors/commerce/scim.py), read as RFC 7644
3.4.2.2 writes it, and hostile filters: every one a FilterError (the vendor's 400), never
another exception, never a recursion past MAX_DEPTH; and listing's cost at 100,000 profiles
counted in attribute reads (no clock), so a sort or a page never grows with the square."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from emulator.vendors.commerce import listing, scim

DOCS: list[dict[str, Any]] = [
    {"id": "1", "firstName": "Kim", "email": "Kim@Example.com", "visits": 3, "vip": True},
    {"id": "2", "firstName": "Jill", "email": "jill@example.com", "visits": 12, "vip": None},
    {"id": "3", "firstName": "", "email": 'a"b@example.com', "tags": [], "nested": {"c": "x"}},
]


def picked(q: str) -> list[str]:
    test = scim.parse(q, listing.attribute)
    return [doc["id"] for doc in DOCS if test(doc)]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('email eq "kim@example.com"', ["1"]),
        ('EMAIL EQ "KIM@EXAMPLE.COM"', ["1"]),
        ('Email Eq "kim@example.com"', ["1"]),
        ('email eq "a\\"b@example.com"', ["3"]),  # JSON escapes
        ('email eq "\\u006bim@example.com"', ["1"]),
        ("visits gt 5", ["2"]),
        ("visits ge 3", ["1", "2"]),
        ("visits lt 3.5", ["1"]),
        ("visits le -1", []),
        ('visits eq "3"', []),  # a string is not the number 3
        ("vip eq true", ["1"]),
        ("vip eq null", ["2", "3"]),  # null or absent
        ("vip ne null", ["1"]),
        ("vip pr", ["1"]),
        ("firstName pr", ["1", "2"]),  # "" is no value
        ("tags pr", []),
        ('nested.c eq "X"', ["3"]),
        ('nested.C eq "x"', ["3"]),
        ('firstName eq "Kim" or firstName eq "Jill" and visits gt 100', ["1"]),
        ('(firstName eq "Kim" or firstName eq "Jill") and visits gt 10', ["2"]),
        ('not (firstName eq "Kim") and not (firstName eq "Jill")', ["3"]),
        ('NOT(firstName sw "k")', ["2", "3"]),
        ('((((email co "EXAMPLE"))))', ["1", "2", "3"]),
        ('email ew ".COM" and firstName co "i"', ["1", "2"]),
    ],
)
def test_filters_read_as_rfc_7644_writes_them(q: str, expected: list[str]) -> None:
    assert picked(q) == expected


@pytest.mark.parametrize(
    "q",
    [
        "",
        "   ",
        "email",
        "email eq",
        'email eq "x" or',
        'email eq "x" xor email eq "y"',
        'not email eq "x"',
        '(email eq "x"',
        'email eq "x"))',
        "email co 1",
        "email gt null",
        "vip lt false",
        'emails[type eq "work"]',
        "urn:ietf:params:scim:schemas:core:2.0:User:userName eq 1",
        'email eq "\\q"',
        'email eq "\x01"',
        "visits eq 01",
        "visits eq 1e400",
        "visits eq -",
        "a..b pr",
        ".a pr",
        "1 eq 1",
        'email eq "x" and "y"',
        "email eq 'x'",
        "é eq 1",
    ],
)
def test_what_is_not_a_filter_is_a_filter_error(q: str) -> None:
    with pytest.raises(scim.FilterError):
        scim.parse(q, listing.attribute)


@pytest.mark.parametrize(
    "q",
    [
        "(" * 100_000,
        "(" * 33 + "a eq 1" + ")" * 33,  # one past the bound
        "not (" * 50_000,
        " or ".join(["a eq 1"] * (scim.MAX_TERMS + 1)),
        '"' + "\\" * 100_001,
        'a eq "' + '\\"' * 50_000,
        "a" * 200_000 + " eq",
        "a." * 100_000,
    ],
)
def test_hostile_filters_are_refused_within_the_recursion_bound(q: str) -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(300)  # far below what MAX_DEPTH needs: the parser stays under it
    try:
        with pytest.raises(scim.FilterError):
            scim.parse(q, listing.attribute)
    finally:
        sys.setrecursionlimit(limit)


def test_the_bounds_themselves_are_filters() -> None:
    deep = "(" * scim.MAX_DEPTH + "a eq 1" + ")" * scim.MAX_DEPTH
    many = " or ".join([f"visits eq {n}" for n in range(scim.MAX_TERMS)])
    assert picked(deep) == []
    assert picked(many) == ["1", "2"]


def test_a_100k_profile_page_reads_each_profile_a_bounded_number_of_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    reads = 0
    read = listing.attribute

    def counted(doc: Any, path: tuple[str, ...]) -> Any:
        nonlocal reads
        reads += 1
        return read(doc, path)

    monkeypatch.setattr(listing, "attribute", counted)
    n = 100_000
    profiles = [
        {"id": f"p{i}", "lastName": f"n{(i * 7919) % n}", "email": f"{i}@x.co"} for i in range(n)
    ]
    picked = listing.matching(profiles, 'email ew ".co" and lastName pr', "lastName:desc")
    assert len(picked) == n and picked[0]["lastName"] == "n99999"
    # the filter's two tests a profile, then one read a profile a sort pass (two passes for
    # a descending key): linear in n, whatever the page
    assert reads <= 2 * n + 2 * n
    page = [listing.Projection.of("items.id", None).item(dict(doc)) for doc in picked[:250]]
    assert page[0] == {"id": picked[0]["id"]}
