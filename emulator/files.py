"""Files written whole or not at all, folders flushed, an OSError in one line (standard library
only: the CLI imports it light)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def write_atomically(
    path: Path,
    write: Callable[[IO[Any]], Any],
    *,
    encoding: str = "utf-8",
    mode: int | None = None,
    binary: bool = False,
) -> None:
    """``write(handle)`` into a temporary file beside ``path``, flushed to disk, then renamed
    over ``path`` (and the folder flushed, so the rename is on disk too): a reader, or a
    crash, finds the old file or the new one, never a part. ``mode``: the file's permissions
    (mkstemp's own are 0600). ``binary``: the handle takes bytes."""
    fd, tmp = tempfile.mkstemp(prefix=temporary_prefix(path), dir=path.parent)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding=encoding) as handle:
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
    sync_folder(path.parent)


def temporary_prefix(path: Path) -> str:
    """The name every temporary file of ``path`` starts with."""
    return f".{path.name}."


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Remove the temporary files a crash left beside ``path`` (a process killed between
    creating one and renaming it); returns them."""
    prefix = temporary_prefix(path)
    removed: list[Path] = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
            except FileNotFoundError:
                continue
            removed.append(Path(entry.path))
    return removed


def sync_folder(folder: Path) -> None:
    """fsync a folder, so the files created, renamed or removed in it stay so after a
    power cut (where the platform allows opening a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe(exc: OSError) -> str:
    """An OSError in one line: ``[Errno 28] No space left on device``."""
    return f"[Errno {exc.errno}] {exc.strerror}" if exc.strerror else str(exc)
