"""The checks client input meets read it in linear time and mean what the contract says.

- The loyalty email (docs/decisions.md#3: "characters, '@', characters, '.', characters") is
  plain string operations, meaning exactly the decision's pattern over whole strings.
- Every `pattern` of the specs runs on the Rust `regex` crate (finite automata), in
  jsonschema-rs and in the Python explanation of a failure alike; a pattern that needs a
  backtracking engine is refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import rules, specs
from emulator.schemas import Compiled, is_email, pattern_matcher
from emulator.vendors import VENDORS

# docs/decisions.md#3 as a pattern over the whole string ("characters": neither '@' nor space).
DECISION_3 = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@pytest.mark.parametrize(
    ("email", "valid"),
    [
        ("ada@example.com", True),
        ("a@b.c", True),
        ("a.b@c.d.e", True),
        ("ünï@cödé.ca", True),
        ("ada@example", False),  # tests/vendors: no '.' after the '@'
        ("ada.example.com", False),  # no '@'
        ("@example.com", False),
        ("ada@.com", False),  # no characters before the '.'
        ("ada@example.", False),  # none after it
        ("ada@@example.com", False),
        ("a@b@c.d", False),
        ("ada @example.com", False),
        ("ada@exam\u00a0ple.com", False),  # a no-break space is a space
        ("ada@example.com\n", False),  # nor is a last newline a character
        ("", False),
    ],
)
def test_the_email_check_is_decision_3(email: str, valid: bool) -> None:
    assert is_email(email) is valid


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.sampled_from("a.@ \t\n\u00a0\u2003\u3000ü"), max_size=12))
def test_the_email_check_means_decision_3s_pattern(text: str) -> None:
    assert is_email(text) is (DECISION_3.fullmatch(text) is not None)


def patterns_in(node: Any) -> list[str]:
    """Every `pattern` keyword's value in a schema (or a whole spec), in document order."""
    if isinstance(node, dict):
        own = [node["pattern"]] if isinstance(node.get("pattern"), str) else []
        return own + [found for value in node.values() for found in patterns_in(value)]
    if isinstance(node, list):
        return [found for value in node for found in patterns_in(value)]
    return []


def _spec_patterns() -> list[str]:
    names = ("loyalty.yaml", "commerce.yaml", "control.yaml")
    return sorted({pattern for name in names for pattern in patterns_in(specs.load(name))})


@pytest.mark.parametrize("pattern", _spec_patterns())
def test_every_spec_pattern_compiles_on_the_linear_engine(pattern: str) -> None:
    pattern_matcher(pattern)  # ValueError when it needs backtracking


@pytest.mark.parametrize("pattern", ["(?=a)a", "(a)\\1", "a(?!b)"])
def test_a_pattern_that_needs_backtracking_is_refused(pattern: str) -> None:
    with pytest.raises(ValueError, match="needs a backtracking engine"):
        pattern_matcher(pattern)


@pytest.mark.parametrize("value", ["abc\n", "abc\r\n", ""])
def test_both_validators_give_one_verdict_on_an_anchored_pattern(value: str) -> None:
    """Python's `$` also matches before a last newline, the spec's (ECMA 262) does not: a
    value jsonschema-rs refused was found valid by the explanation, and let through."""
    checks = Compiled({"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,64}$"})
    assert [error.validator for error in checks.errors(value)] == ["pattern"]


def test_no_schema_outside_the_linear_engine_holds_an_unbounded_pattern() -> None:
    """The state schema (emulator/state.py: snapshots, the data file) and the fault engine's
    own rule schema judge client input with engines of their own: the vendors' documents
    hold no pattern, and a rule's id pattern reads at most 65 characters."""
    documents = [dict(docs.schema) for vendor in VENDORS for docs in vendor.documents.values()]
    assert patterns_in(documents) == []
    assert patterns_in(rules.RULE_SCHEMA) == ["^[A-Za-z0-9_.-]{1,64}$"]
