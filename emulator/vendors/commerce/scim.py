"""listProfiles' `q`: a SCIM filter (RFC 7644 section 3.4.2.2) read into a predicate.

The grammar, by precedence ("not" over "and" over "or"; parentheses group)::

    filter  = or
    or      = and *("or" and)
    and     = unary *("and" unary)
    unary   = "not" "(" filter ")" / "(" filter ")" / attrExp
    attrExp = attrPath "pr" / attrPath compareOp compValue
    attrPath = ATTRNAME *("." ATTRNAME)
    compareOp = "eq" / "ne" / "co" / "sw" / "ew" / "gt" / "ge" / "lt" / "le"
    compValue = "true" / "false" / "null" / number / string      ; JSON's

Operators, logical words, literals and attribute names are case-insensitive; string values
compare case-insensitively (SCIM's default, caseExact false; e-mail addresses so at OCC).

Hostile input cannot hurt: the tokenizer reads each character once (no pattern, so nothing
backtracks); the parser descends one level per parenthesis, up to MAX_DEPTH, and reads each
token once; a filter holds at most MAX_TERMS comparisons, so matching costs at most that
many tests a profile. Anything else is a :class:`FilterError` (the vendor's 400), never an
exception of another kind.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

MAX_DEPTH = 32  # nested parentheses (and "not"s): a real filter nests a few levels
MAX_TERMS = 64  # comparisons in one filter: matching costs this many tests a profile at most
MAX_ECHO = 40  # characters of the offending text a message shows

COMPARE = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"})
ORDERING = frozenset({"gt", "ge", "lt", "le"})
TEXT_ONLY = frozenset({"co", "sw", "ew"})
LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}
NAME_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
NAME_CHARS = NAME_START | frozenset("0123456789-.")
NUMBER_CHARS = frozenset("0123456789+-.eE")
SPACE = frozenset(" \t\r\n")
Doc = Mapping[str, Any]
Predicate = Callable[[Doc], bool]
Resolve = Callable[[Doc, tuple[str, ...]], Any]


class FilterError(ValueError):
    """A filter the grammar refuses; its text says where and why."""


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # "(", ")", "word", "string", "number", "end"
    text: str  # as written (a word, a number) or decoded (a string)
    at: int  # its position in the filter, from 1


def _echo(text: str) -> str:
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def _string(q: str, start: int) -> tuple[str, int]:
    """The JSON string that starts at ``q[start]`` (a quote): its value and where it ends."""
    end = start + 1
    while end < len(q):
        char = q[end]
        if char == '"':
            try:
                value = orjson.loads(q[start : end + 1])
            except orjson.JSONDecodeError:
                raise FilterError(f"a malformed string at character {start + 1}") from None
            return value, end + 1
        end += 2 if char == "\\" else 1
    raise FilterError(f"a string without its closing quote at character {start + 1}")


def tokens(q: str) -> list[Token]:
    """The filter's tokens, each character read once."""
    found: list[Token] = []
    i, size = 0, len(q)
    while i < size:
        char = q[i]
        if char in SPACE:
            i += 1
        elif char in "()":
            found.append(Token(char, char, i + 1))
            i += 1
        elif char == '"':
            value, end = _string(q, i)
            found.append(Token("string", value, i + 1))
            i = end
        elif char in NAME_START:
            end = i + 1
            while end < size and q[end] in NAME_CHARS:
                end += 1
            found.append(Token("word", q[i:end], i + 1))
            i = end
        elif char.isascii() and (char.isdigit() or char == "-"):
            end = i + 1
            while end < size and q[end] in NUMBER_CHARS:
                end += 1
            found.append(Token("number", q[i:end], i + 1))
            i = end
        else:
            raise FilterError(f"an unexpected character {char!r} at character {i + 1}")
    found.append(Token("end", "", size + 1))
    return found


def _number(token: Token) -> float | int:
    try:
        value = orjson.loads(token.text)
    except orjson.JSONDecodeError:
        raise FilterError(
            f"a malformed number {_echo(token.text)!r} at character {token.at}"
        ) from None
    if not isinstance(value, (int, float)) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        raise FilterError(f"a malformed number {_echo(token.text)!r} at character {token.at}")
    return value


def _attribute_path(token: Token) -> tuple[str, ...]:
    parts = tuple(token.text.split("."))
    if not all(part and part[0] in NAME_START for part in parts):
        raise FilterError(f"a malformed attribute {_echo(token.text)!r} at character {token.at}")
    return parts


class _Parser:
    """Recursive descent over the tokens: one level per parenthesis, MAX_DEPTH at most."""

    def __init__(self, found: list[Token], resolve: Resolve) -> None:
        self.found = found
        self.at = 0
        self.terms = 0
        self.resolve = resolve

    def peek(self) -> Token:
        return self.found[self.at]

    def take(self) -> Token:
        token = self.found[self.at]
        if token.kind != "end":
            self.at += 1
        return token

    def word(self, *choices: str) -> bool:
        token = self.peek()
        return token.kind == "word" and token.text.lower() in choices

    def expect(self, kind: str, what: str) -> Token:
        token = self.take()
        if token.kind != kind:
            raise FilterError(f"expected {what} at character {token.at}{self.got(token)}")
        return token

    @staticmethod
    def got(token: Token) -> str:
        return ", found the end" if token.kind == "end" else f", found {_echo(token.text)!r}"

    def filter(self, depth: int) -> Predicate:
        if depth > MAX_DEPTH:
            raise FilterError(f"parentheses nested deeper than {MAX_DEPTH} levels")
        tests = [self.conjunction(depth)]
        while self.word("or"):
            self.take()
            tests.append(self.conjunction(depth))
        if len(tests) == 1:
            return tests[0]
        return lambda doc: any(test(doc) for test in tests)

    def conjunction(self, depth: int) -> Predicate:
        tests = [self.unary(depth)]
        while self.word("and"):
            self.take()
            tests.append(self.unary(depth))
        if len(tests) == 1:
            return tests[0]
        return lambda doc: all(test(doc) for test in tests)

    def unary(self, depth: int) -> Predicate:
        token = self.peek()
        if self.word("not"):
            self.take()
            self.expect("(", "'(' after 'not'")
            inner = self.filter(depth + 1)
            self.expect(")", "')'")
            return lambda doc: not inner(doc)
        if token.kind == "(":
            self.take()
            inner = self.filter(depth + 1)
            self.expect(")", "')'")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        token = self.take()
        if token.kind != "word" or token.text.lower() in ("and", "or", "not"):
            raise FilterError(f"expected an attribute at character {token.at}{self.got(token)}")
        path = _attribute_path(token)
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise FilterError(f"more than {MAX_TERMS} comparisons")
        operator_token = self.take()
        operator = operator_token.text.lower() if operator_token.kind == "word" else ""
        if operator == "pr":
            return _present(path, self.resolve)
        if operator not in COMPARE:
            raise FilterError(
                f"expected an operator after {_echo(token.text)!r} at character "
                f"{operator_token.at}{self.got(operator_token)}"
            )
        value_token = self.take()
        if value_token.kind == "string":
            value: Any = value_token.text
        elif value_token.kind == "number":
            value = _number(value_token)
        elif value_token.kind == "word" and value_token.text.lower() in LITERALS:
            value = LITERALS[value_token.text.lower()]
        else:
            raise FilterError(
                f"expected a value after {operator!r} at character "
                f"{value_token.at}{self.got(value_token)}"
            )
        if operator in TEXT_ONLY and not isinstance(value, str):
            raise FilterError(f"{operator!r} needs a string value at character {value_token.at}")
        if operator in ORDERING and (value is None or isinstance(value, bool)):
            raise FilterError(
                f"{operator!r} needs a string or a number at character {value_token.at}"
            )
        return _compare(path, operator, value, self.resolve)


def _folded(value: Any) -> Any:
    return value.casefold() if isinstance(value, str) else value


def _number_like(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _present(path: tuple[str, ...], resolve: Resolve) -> Predicate:
    def test(doc: Doc) -> bool:
        value = resolve(doc, path)
        return value is not None and value not in ("", [], {})

    return test


def _compare(path: tuple[str, ...], operator: str, value: Any, resolve: Resolve) -> Predicate:
    """One comparison: strings compare case-insensitively, numbers as numbers; a value of
    another kind than the filter's never matches (but for ``ne``)."""
    wanted = _folded(value)

    def same_kind(found: Any) -> bool:
        if isinstance(wanted, str):
            return isinstance(found, str)
        if _number_like(wanted):
            return _number_like(found)
        return found is wanted  # true, false, null

    def equal(doc: Doc) -> bool:
        found = resolve(doc, path)
        return same_kind(found) and _folded(found) == wanted

    if operator == "eq":
        return equal
    if operator == "ne":
        return lambda doc: not equal(doc)

    def test(doc: Doc) -> bool:
        found = resolve(doc, path)
        if not same_kind(found):
            return False
        folded = _folded(found)
        if operator == "co":
            return wanted in folded
        if operator == "sw":
            return bool(folded.startswith(wanted))
        if operator == "ew":
            return bool(folded.endswith(wanted))
        if operator == "gt":
            return bool(folded > wanted)
        if operator == "ge":
            return bool(folded >= wanted)
        if operator == "lt":
            return bool(folded < wanted)
        return bool(folded <= wanted)

    return test


def parse(q: str, resolve: Resolve) -> Predicate:
    """The predicate of filter ``q``; ``resolve(doc, path)`` reads an attribute of a
    document (None when it has none). A FilterError when ``q`` is not a filter."""
    parser = _Parser(tokens(q), resolve)
    if parser.peek().kind == "end":
        raise FilterError("an empty filter")
    predicate = parser.filter(0)
    rest = parser.peek()
    if rest.kind != "end":
        raise FilterError(f"unexpected {_echo(rest.text)!r} at character {rest.at}")
    return predicate
