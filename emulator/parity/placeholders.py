"""Placeholders: what differs between two runs against the vendor (ids, timestamps, tokens) and
what is secret, written as numbered labels (``<id:1>``, ``<time:2>``, ``<secret:3>``) that keep
their relations: the same value twice is the same label, in requests and answers alike,
across a whole recording. What is equal in both runs stays as it is.

A run is a document ``{"vars": {...}, "steps": [{"request": ..., "response": ...}, ...]}``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Set
from typing import Any

from emulator.parity import redact
from emulator.parity.redact import Paths

LABEL = re.compile(r"<(id|time|num|bool|secret):([A-Za-z0-9_]+)>")
TEXT_FROM = 6  # a value this long is also a label where it appears inside text
NUMBER_FROM = 10000  # a number this large is one value wherever it appears
MAX_ROUNDS = 8
_TIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$"
    r"|^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$"
)
_BODIES = ("json", "form", "body")  # where a request's or an answer's body sits in a step

Path = tuple[str | int, ...]


def kind_of(label: str) -> str:
    match = LABEL.fullmatch(label)
    return match.group(1) if match else ""


def _key(value: Any) -> tuple[str, Any]:
    return type(value).__name__, value


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    return type(value).__name__


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "num"
    if isinstance(value, str) and _TIME.match(value):
        return "time"
    return "id"


class Labels:
    """The labels of one recording, learnt from two runs (run 0 is the one written)."""

    def __init__(self, paths: Paths | None = None, public: frozenset[str] = frozenset()) -> None:
        """``paths``: JSON paths whose values are secret; ``public``: values that are not,
        wherever they are (those written in the case itself: it is a file already)."""
        self.redact = paths or Paths(())
        self.public = public
        self.counts: Counter[str] = Counter()
        self.at: dict[Path, str] = {}  # a labelled position (both runs)
        self.whole: tuple[dict[Any, str], dict[Any, str]] = ({}, {})
        self.text: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self.secrets: dict[tuple[str, Any], str] = {}  # every secret of either run -> its label
        self.unstable: set[Path] = set()  # where the two runs differ in shape
        self._texts: tuple[list[tuple[str, str]], list[tuple[str, str]]] | None = None

    # -- what is known before the runs are compared -------------------------------------
    def name(self, value: str, name: str) -> None:
        """A secret both runs share under a name (an environment variable)."""
        label = f"<secret:{name}>"
        for run in (0, 1):
            self._remember(run, value, label, secret=True)

    # -- learning ----------------------------------------------------------------------
    def learn(self, a: Any, b: Any, secret_vars: Set[str] = frozenset()) -> None:
        """Label what differs between runs ``a`` and ``b`` and what is secret in either."""
        for _ in range(MAX_ROUNDS):
            before = (len(self.at), len(self.secrets))
            self._walk(a, b, (), secret_vars)
            if (len(self.at), len(self.secrets)) == before:
                return

    def _walk(self, a: Any, b: Any, path: Path, secret_vars: Set[str]) -> None:
        if isinstance(a, dict) and isinstance(b, dict):
            if a.keys() != b.keys():
                self.unstable.add(path)
            for key in a:
                if key in b:
                    self._walk(a[key], b[key], (*path, key), secret_vars)
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                self.unstable.add(path)
            for index, (x, y) in enumerate(zip(a, b, strict=False)):
                self._walk(x, y, (*path, index), secret_vars)
        elif not (_scalar(a) and _scalar(b)) or _json_type(a) != _json_type(b):
            self.unstable.add(path)
        elif self._secret(path, a, b, secret_vars):
            if path not in self.at or _key(a) not in self.secrets or _key(b) not in self.secrets:
                label = self.pair(path, a, b, "secret")
                if len(path) == 5 and path[3] == "headers":  # the credential alone is one too
                    for run, value in ((0, a), (1, b)):
                        self._remember(run, redact.credential(value), label, secret=True)
        elif path not in self.at and self.leaf(a, 0, path) != self.leaf(b, 1, path):
            self.pair(path, a, b)

    def _secret(self, path: Path, a: Any, b: Any, secret_vars: Set[str]) -> bool:
        if a in self.public and b in self.public:
            return False
        if len(path) == 2 and path[0] == "vars":
            return path[1] in secret_vars
        if len(path) >= 3 and redact.secret_key(path[-1]):
            return True
        if len(path) == 5 and path[3] == "headers" and redact.secret_header(path[4]):
            return any(
                isinstance(value, str) and redact.credential_left(self.leaf(value, run, ()), LABEL)
                for run, value in ((0, a), (1, b))
            )
        return len(path) >= 5 and path[3] in _BODIES and self.redact.match(path[4:])

    def pair(self, path: Path, a: Any, b: Any, kind: str | None = None) -> str:
        """Label position ``path``, whose value is ``a`` in run 0 and ``b`` in run 1."""
        label = self.at.get(path) or self.whole[0].get(_key(a)) or self.whole[1].get(_key(b))
        if label is None:  # (a value labelled already keeps its label: a relation)
            label = self._new(kind or _kind(a))
        self.at[path] = label
        secret = kind == "secret"
        self._remember(0, a, label, secret)
        self._remember(1, b, label, secret)
        return label

    def _new(self, kind: str) -> str:
        self.counts[kind] += 1
        return f"<{kind}:{self.counts[kind]}>"

    def _remember(self, run: int, value: Any, label: str, secret: bool) -> None:
        if secret:
            self.secrets[_key(value)] = label
        if isinstance(value, str):
            if secret or len(value) >= TEXT_FROM:
                self.whole[run].setdefault(_key(value), label)
            if len(value) >= (redact.SEARCHED_FROM if secret else TEXT_FROM):
                self.text[run].setdefault(value, label)
                self._texts = None
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if secret or abs(value) >= NUMBER_FROM:
                self.whole[run].setdefault(_key(value), label)

    # -- writing -----------------------------------------------------------------------
    def substitute(self, node: Any, run: int = 0, path: Path = ()) -> Any:
        """``node`` (at ``path`` of a run's document) with its labels in place of values."""
        if isinstance(node, dict):
            return {key: self.substitute(value, run, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [self.substitute(value, run, (*path, i)) for i, value in enumerate(node)]
        return self.leaf(node, run, path)

    def leaf(self, value: Any, run: int, path: Path) -> Any:
        label = self.at.get(path) if path else None
        if label is not None:
            return label
        hit = self.whole[run].get(_key(value))
        if hit is not None:
            return hit
        if isinstance(value, str):
            for text, label in self._sorted(run):
                if text in value:
                    value = value.replace(text, label)
        return value

    def _sorted(self, run: int) -> list[tuple[str, str]]:
        if self._texts is None:
            self._texts = tuple(  # type: ignore[assignment]
                sorted(table.items(), key=lambda item: -len(item[0])) for table in self.text
            )
        assert self._texts is not None
        return self._texts[run]

    def check(self, text: str, where: str) -> None:
        """RedactionError when ``text`` (about to be written to ``where``) holds a secret."""
        secrets = {value: label for (_, value), label in self.secrets.items()}
        redact.check(
            text, {v: label for v, label in secrets.items() if v not in self.public}, where
        )


def literals(node: Any) -> frozenset[str]:
    """The strings written in a case (no ``${...}`` in them): public wherever they appear."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and "${" not in item:
            found.add(item)
    return frozenset(found)


def one_run(
    doc: Any, named: Mapping[str, str], secret_vars: set[str], paths: Paths, public: frozenset[str]
) -> Labels:
    """The secrets of a single run (an emulator's answers, a HAR file): its own labels."""
    labels = Labels(paths, public)
    for name, value in named.items():
        labels.name(value, name)
    labels.learn(doc, doc, secret_vars)
    return labels
