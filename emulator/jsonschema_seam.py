"""The one place jsonschema's errors are edited; tests/unit/test_jsonschema_seam.py checks each
edit against the installed jsonschema, so an upgrade that changes one fails there, by name.

1. ``as_property``: a property's schema is explained on its own (only the failing parts of a
   body are explained, emulator/validation.py); its errors are then addressed as the whole
   object's ``properties`` keyword addresses them, by extending their ``path`` and
   ``schema_path`` deques on the left, as jsonschema's own ``descend`` does.
2. ``unlink``: the nested errors of an ``anyOf`` (``error.context``) point back at their
   error through ``parent``; cutting that link once the errors are reported lets them go by
   reference counting instead of as cyclic garbage.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import version

from jsonschema.exceptions import ValidationError

VERSION = version("jsonschema")  # named by the seam test when a touch moves


def as_property(error: ValidationError, name: str) -> ValidationError:
    """A property's own error, addressed as the object's ``properties`` reports it."""
    error.path.appendleft(name)
    error.schema_path.extendleft((name, "properties"))
    return error


def unlink(errors: Iterable[ValidationError]) -> None:
    """Cut the links from nested errors back to their parent."""
    stack = list(errors)
    while stack:
        error = stack.pop()
        for child in error.context:
            child.parent = None
            stack.append(child)
