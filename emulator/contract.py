"""Which errors a fault rule may inject into which operation, read from the specs at start-up:
an operation documents an error when one of its responses of that status has an example of
that body (``rules.Contract`` enforces it when a rule is added)."""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from emulator import specs
from emulator.errors import VendorError
from emulator.rules import Contract

if TYPE_CHECKING:
    from emulator.vendors.base import Vendor


def documents(error: VendorError, status: int, example: Any) -> bool:
    """Whether a spec's example response is this error: its status, its keys, its values
    (a ``{placeholder}`` in the error's text stands for any text)."""
    if (
        status != error.status
        or not isinstance(example, dict)
        or example.keys() != error.body.keys()
    ):
        return False
    for key, value in error.body.items():
        if isinstance(value, str) and "{" in value:
            pattern = "".join(
                re.escape(literal) + (".+" if name is not None else "")
                for literal, name, _, _ in string.Formatter().parse(value)
            )
            if not isinstance(example[key], str) or not re.fullmatch(pattern, example[key], re.S):
                return False
        elif type(example[key]) is not type(value) or example[key] != value:
            return False
    return True


def contract_of(vendors: Iterable[Vendor]) -> Contract:
    """Each vendor's operations, and the operations whose spec documents each of its errors."""
    operations: dict[str, tuple[str, ...]] = {}
    documented: dict[str, frozenset[str]] = {}
    for vendor in vendors:
        examples = specs.response_examples(vendor.spec)
        operations[vendor.name] = tuple(examples)
        for name, error in vendor.errors.items():
            documented[f"{vendor.name}.{name}"] = frozenset(
                operation
                for operation, found in examples.items()
                if any(documents(error, status, body) for status, body in found)
            )
    return Contract(operations, documented)
