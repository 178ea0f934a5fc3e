"""listProfiles: which stored profiles a query picks (`q`), in which order (`sort`), which
page (`limit`, `offset`) and which of their properties (`fields`, `exclude`).

The vendor's "REST query parameters" page: at most 250 items by default, from `offset` 0;
`fields` names the properties to keep, `items.`-prefixed or not (nested ones with more
periods), and `totalResults` only when it names it; `exclude` the ones to drop.

Cost: a query reads each profile of the namespace once (MAX_TERMS tests at most); a sort
sorts the matching ones (n log n); only the page's profiles are rendered and projected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from emulator.errors import echo
from emulator.vendors.commerce import scim
from emulator.vendors.commerce.profiles import PROFILE_KEYS

DEFAULT_LIMIT = 250
# The list's own keys: a `fields` or `exclude` name among these is the list's, any other an
# item's (`items.` names an item's explicitly).
LIST_KEYS = ("total", "totalResults", "offset", "limit", "links", "items")
# Stored beside a profile, never matched, sorted on or sent.
HIDDEN = frozenset({"password"})
# Each stored key by its case-folded name (q and sort names are case-insensitive).
KNOWN = {key.casefold(): key for key in (*PROFILE_KEYS, "login")}
SORT_DIRECTIONS = ("asc", "desc")
Tree = dict[str, Any]  # a projection: name -> its own tree, or None for the whole value


class QueryError(ValueError):
    """A `q` or `sort` the emulator cannot read; its text says why."""


def attribute(doc: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """A profile's attribute by (case-insensitive) name, a nested one by its dotted path; None
    when it has none. A custom property is a key of the stored profile the seed's shape lacks."""
    value: Any = doc
    for depth, name in enumerate(path):
        if not isinstance(value, Mapping):
            return None
        folded = name.casefold()
        if depth == 0:
            if folded in HIDDEN:
                return None
            key = KNOWN.get(folded, name)
            if key == "login":  # None: the email's
                value = value.get("login") or value.get("email")
                continue
            if key in value:
                value = value[key]
                continue
        elif name in value:
            value = value[name]
            continue
        value = next((v for k, v in value.items() if k.casefold() == folded), None)
    return value


def matcher(q: str | None) -> scim.Predicate | None:
    """The predicate of a `q` (None: every profile)."""
    if q is None:
        return None
    try:
        return scim.parse(q, attribute)
    except scim.FilterError as exc:
        raise QueryError(f"q: {exc}") from None


@dataclass(frozen=True, slots=True)
class SortKey:
    path: tuple[str, ...]
    descending: bool


def sort_keys(sort: str | None) -> list[SortKey]:
    """`sort=firstName:asc,lastName:desc`: properties in turn, each ascending by default."""
    if sort is None:
        return []
    keys = []
    for part in sort.split(","):
        name, _, direction = part.strip().partition(":")
        direction = direction.strip().lower() or "asc"
        if not name.strip() or direction not in SORT_DIRECTIONS:
            raise QueryError(f"sort: {echo(part.strip())} is not property:asc or property:desc")
        path = tuple(name.strip().split("."))
        if not all(path):
            raise QueryError(f"sort: {echo(name.strip())} is not a property")
        keys.append(SortKey(path, direction == "desc"))
    return keys


def _rank(value: Any) -> tuple[int, Any]:
    """A sortable form of any JSON value: numbers, then strings (case-insensitively), then
    anything else; a profile without the property last."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, value)
    if isinstance(value, str):
        return (1, value.casefold())
    if value is None:
        return (3, 0)
    return (2, str(value))


def ordered(docs: list[Mapping[str, Any]], keys: list[SortKey]) -> list[Mapping[str, Any]]:
    """``docs`` sorted by each key in turn (stable sorts, the last key first)."""
    for key in reversed(keys):
        path = key.path
        docs.sort(key=lambda doc: _rank(attribute(doc, path)), reverse=key.descending)
        if key.descending:  # profiles without the property stay last
            docs.sort(key=lambda doc: attribute(doc, path) is None)
    return docs


def matching(
    profiles: Iterable[Mapping[str, Any]], q: str | None, sort: str | None
) -> list[Mapping[str, Any]]:
    """The profiles ``q`` picks, in ``sort``'s order (else the store's)."""
    test = matcher(q)
    keys = sort_keys(sort)
    picked = list(profiles) if test is None else [doc for doc in profiles if test(doc)]
    return ordered(picked, keys) if keys else picked


def _names(value: str | None) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


@dataclass(frozen=True, slots=True)
class Projection:
    """What `fields` and `exclude` keep of the list and of each item."""

    keep: Tree | None  # the items' properties `fields` names (None: every one)
    drop: Tree  # the items' properties `exclude` names
    list_keys: frozenset[str]  # the list's own keys to send

    @classmethod
    def of(cls, fields: str | None, exclude: str | None) -> Projection:
        kept_items: Tree = {}
        kept_list: set[str] = set()
        for name in _names(fields):
            _sort_name(name, kept_items, kept_list)
        dropped_items: Tree = {}
        dropped_list: set[str] = set()
        for name in _names(exclude):
            _sort_name(name, dropped_items, dropped_list)
        if fields is None:
            listed = set(LIST_KEYS)
        else:  # totalResults only when named (the vendor's page); the rest always
            listed = (set(LIST_KEYS) - {"totalResults"}) | kept_list
        return cls(
            None if fields is None else kept_items,
            dropped_items,
            frozenset(listed - dropped_list),
        )

    def item(self, item: dict[str, Any]) -> dict[str, Any]:
        if self.keep is not None:
            item = _keep(item, self.keep)
        return _drop(item, self.drop) if self.drop else item


def _sort_name(name: str, items: Tree, list_keys: set[str]) -> None:
    if name.startswith("items."):
        name = name[len("items.") :]
    elif name in LIST_KEYS:
        list_keys.add(name)
        return
    tree = items
    parts = name.split(".")
    for part in parts[:-1]:
        sub: Tree | None = tree.get(part, {})
        if sub is None:
            return  # the whole of it is named already
        tree = tree.setdefault(part, sub)
    tree[parts[-1]] = None


def _keep(value: Any, tree: Tree) -> Any:
    if isinstance(value, list):
        return [_keep(element, tree) for element in value]
    if not isinstance(value, Mapping):
        return value
    kept = {}
    for key, sub in tree.items():
        if key in value:
            kept[key] = value[key] if sub is None else _keep(value[key], sub)
    return kept


def _drop(value: Any, tree: Tree) -> Any:
    if isinstance(value, list):
        return [_drop(element, tree) for element in value]
    if not isinstance(value, Mapping):
        return value
    return {
        key: item if key not in tree else _drop(item, tree[key])
        for key, item in value.items()
        if not (key in tree and tree[key] is None)
    }
