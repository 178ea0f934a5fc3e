"""Files written whole or not at all (standard library only: the CLI imports it light)."""
from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO


def write_atomically(path: Path, write: Callable[[TextIO], None], *, encoding: str = "utf-8",
                     mode: int | None = None) -> None:
    """``write(handle)`` into a temporary file beside ``path``, flushed to disk, then renamed
    over ``path``: a reader, or a crash, finds the old file or the new one, never a part.
    ``mode``: the file's permissions (mkstemp's own are 0600)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding=encoding) as handle:
            write(handle)
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
