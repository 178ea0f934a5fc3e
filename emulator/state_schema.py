"""The state schema: what a namespace's state must be for the vendors' handlers to use it
(``StateSchema``, the one check of snapshots, the data file and the fixtures' seeds), built
from each collection's ``Documents``; a collection of id counters is described by its
``Counters``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
import jsonschema_rs
import orjson

from emulator.errors import DETAIL, echo
from emulator.jsonyaml import json_path

Doc = dict[str, Any]
IndexKey = Callable[[Doc], Any]

_ID_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")


def decimals(values: Iterable[Any]) -> list[int]:
    """The numbers of the values that are an id's digits as a counter writes them (ASCII
    digits, no sign, no leading zero, at most 18); the other values are left out."""
    digits = _ID_DIGITS.fullmatch
    return [int(value) for value in values if type(value) is str and digits(value)]


@dataclass(frozen=True)
class Counters:
    """A collection of id counters: one document per counter, ``{"next": n}``, the number the
    next new id is made of (``Store.issue``), an integer from 0 to ``limit`` (JSON Schema's
    integer: 5.0 is 5).

    ``used(state)``: for each counter, the numbers of the ids in ``state`` (``{collection:
    {key: document}}``) it could make again: after a restore a counter issues none of them
    (it goes on above them), and at its limit it issues the lowest number they leave free.
    """

    names: tuple[str, ...]
    limit: int
    used: Callable[[Mapping[str, Mapping[str, Doc]]], Mapping[str, Iterable[int]]]

    def lowest(self, state: Mapping[str, Mapping[str, Doc]]) -> dict[str, int]:
        """The lowest number each counter may issue in ``state``: one above its highest
        number in use (``limit`` at most)."""
        return {
            name: max((n + 1 for n in numbers if 0 <= n < self.limit), default=0)
            for name, numbers in self.used(state).items()
        }

    def documents(self) -> Documents:
        """The collection's documents: every counter required, kept when a snapshot leaves
        the collection out (ids handed out are never handed out again)."""
        schema = {
            "type": "object",
            "required": ["next"],
            "additionalProperties": False,
            "properties": {"next": {"type": "integer", "minimum": 0, "maximum": self.limit}},
        }
        return Documents(schema, required=self.names, kept=True, counters=self)


@dataclass(frozen=True)
class Documents:
    """What a collection's documents must be for the handlers to use them.

    ``schema``: JSON Schema (draft 7) of one document. ``key``: the document property that
    must equal its key (e.g. an account's ``accountId``). ``required``: keys the collection
    must hold when a snapshot gives it (e.g. the id counters). ``kept``: a snapshot that
    leaves the collection out keeps its documents instead of emptying it (the id counters:
    ids handed out are never handed out again). ``counters``: the collection holds id
    counters (made by ``Counters.documents``).
    """

    schema: Mapping[str, Any] = field(default_factory=dict)
    key: str | None = None
    required: tuple[str, ...] = ()
    kept: bool = False
    counters: Counters | None = None


class StateError(ValueError):
    """State the handlers could not use: ``path`` (``collection.key.field``, "" for the
    whole state) and what is wrong there."""

    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"{path or '(top level)'}: {detail}")
        self.path = path
        self.detail = detail

    def within(self, outer: str) -> StateError:
        """The same error, its path inside ``outer`` (e.g. a data file's ``namespaces.x``)."""
        return StateError(f"{outer}.{self.path}" if self.path else outer, self.detail)


class StateSchema:
    """The one check of a namespace's state, for snapshots (``PUT /_emulator/state``) and
    the data file alike: known collections, documents of the collection's shape whose
    indexes can be computed, keys equal to their documents' own, id counters in their range,
    what JSON can write back.
    """

    def __init__(
        self, indexes: Mapping[str, Mapping[str, IndexKey]], documents: Mapping[str, Documents]
    ) -> None:
        self.indexes = indexes
        self.documents = {name: documents.get(name, Documents()) for name in indexes}
        self.kept = frozenset(name for name, docs in self.documents.items() if docs.kept)
        self.counters = {
            name: docs.counters for name, docs in self.documents.items() if docs.counters
        }
        self._document = {
            name: jsonschema.Draft7Validator(dict(docs.schema))
            for name, docs in self.documents.items()
        }
        self._whole = jsonschema_rs.Draft7Validator(
            {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": False,
                "properties": {
                    name: {
                        "type": "object",
                        "required": list(docs.required),
                        "additionalProperties": dict(docs.schema),
                    }
                    for name, docs in self.documents.items()
                },
            }
        )

    def check(self, state: Any) -> bytes:
        """``state`` encoded as JSON when the handlers can use it; else :class:`StateError`
        naming the first path that is wrong."""
        if not isinstance(state, dict):
            raise StateError("", f"{echo(state)} is not of type 'object'")
        if not state:
            raise StateError(
                "",
                "names no collection; send the collections GET "
                "/_emulator/state returns (an empty one as {})",
            )
        valid = self._whole.is_valid(state)
        for name, docs in state.items():
            if name not in self.indexes:
                raise StateError(
                    name, f"unknown collection; expected one of: {', '.join(self.indexes)}"
                )
            if not isinstance(docs, dict):
                raise StateError(name, "must be an object of documents by key")
            own = self.documents[name].key
            for key, doc in docs.items():
                self._check_indexes(name, key, doc)
                if not valid:
                    self._check_document(name, key, doc)
                elif own is not None and doc.get(own) != key:
                    self._check_key(name, key, doc, own)
            missing = [key for key in self.documents[name].required if key not in docs]
            if missing:
                raise StateError(name, f"{missing[0]!r} is a required property")
        if not valid:  # what the walk above did not word (the two validators disagree)
            raise StateError("", "does not match the state schema")
        try:
            return orjson.dumps(state)
        except TypeError as exc:  # deeper than JSON is written back, or not JSON at all
            raise self._unwritable(state, exc) from None

    def check_document(self, collection: str, key: Any, doc: Any) -> None:
        """One document of a collection (a change log's record), as :meth:`check` would."""
        if collection not in self.indexes:
            raise StateError(
                str(collection), f"unknown collection; expected one of: {', '.join(self.indexes)}"
            )
        if not isinstance(key, str):
            raise StateError(collection, f"a key must be a string, not {echo(key)}")
        self._check_indexes(collection, key, doc)
        self._check_document(collection, key, doc)

    def _check_indexes(self, name: str, key: str, doc: Any) -> None:
        if not isinstance(doc, dict):
            raise StateError(f"{name}.{key}", "a document must be an object")
        for index, key_of in self.indexes[name].items():
            try:
                key_of(doc)
            except Exception as exc:
                raise StateError(
                    f"{name}.{key}",
                    f"does not fit the collection's {index} index ({type(exc).__name__}: {exc})",
                ) from None

    def _check_document(self, name: str, key: str, doc: Doc) -> None:
        error = jsonschema.exceptions.best_match(self._document[name].iter_errors(doc))
        if error is not None:
            where = json_path([name, key, *error.absolute_path])
            raise StateError(where, echo(error.message, DETAIL))
        own = self.documents[name].key
        if own is not None and doc.get(own) != key:
            self._check_key(name, key, doc, own)

    @staticmethod
    def _check_key(name: str, key: str, doc: Doc, own: str) -> None:
        raise StateError(
            f"{name}.{key}.{own}", f"{echo(doc.get(own))} is not the document's key {echo(key)}"
        )

    @staticmethod
    def _unwritable(state: dict[str, Any], exc: Exception) -> StateError:
        for name, docs in state.items():
            for key, doc in docs.items():
                try:
                    orjson.dumps(doc)
                except TypeError as found:
                    return StateError(f"{name}.{key}", f"cannot be written back as JSON ({found})")
        return StateError("", f"cannot be written back as JSON ({exc})")
