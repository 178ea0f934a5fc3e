"""The skip file: differences a team accepts, each with its reason (verify reports them apart
and does not fail on them)::

    - case: extended-data          # the case's name ("*" matches any characters)
      step: root-key-limit         # optional: every step of the case
      path: body.errorMessage      # optional: every difference of the step
      reason: The program has root keys of its own; the count in the message includes them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

from emulator.jsonyaml import read_yaml

SCHEMA = {
    "type": "array",
    "items": {
        "type": "object",
        "additionalProperties": False,
        "required": ["case", "reason"],
        "properties": {
            "api": {"type": "string"},
            "case": {"type": "string", "minLength": 1},
            "step": {"type": "string", "minLength": 1},
            "path": {"type": "string", "minLength": 1},
            "reason": {"type": "string", "pattern": r"\S"},
        },
    },
}
DEFAULT_NAME = "skip.yaml"  # looked for in the snapshots folder when no --skip is given


class SkipError(ValueError):
    """A skip file that cannot be used (the message names the file and the entry)."""


def _pattern(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")))


@dataclass
class Skip:
    api: str | None
    case: str
    step: str | None
    path: str | None
    reason: str
    used: int = 0

    def matches(self, api: str, case: str, step: str, path: str) -> bool:
        return (
            (self.api is None or self.api == api)
            and bool(_pattern(self.case).fullmatch(case))
            and (self.step is None or bool(_pattern(self.step).fullmatch(step)))
            and (self.path is None or bool(_pattern(self.path).fullmatch(path)))
        )

    def __str__(self) -> str:
        where = "/".join(part for part in (self.case, self.step) if part)
        return f"{where}{' ' + self.path if self.path else ''}"


def load(path: Path) -> list[Skip]:
    try:
        doc = read_yaml(path) or []
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise SkipError(f"{path}: cannot read it: {exc}") from None
    error = jsonschema.exceptions.best_match(jsonschema.Draft7Validator(SCHEMA).iter_errors(doc))
    if error is not None:
        at = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        raise SkipError(f"{path}: {at or '(top level)'}: {error.message}")
    return [
        Skip(item.get("api"), item["case"], item.get("step"), item.get("path"), item["reason"])
        for item in doc
    ]


def accepted(skips: list[Skip], api: str, case: str, step: str, path: str) -> Skip | None:
    for skip in skips:
        if skip.matches(api, case, step, path):
            skip.used += 1
            return skip
    return None
