"""Where the shipped specs (``openapi/``) and fixtures (``fixtures/``, ``scenarios/`` in it) are.

The repository keeps them at its top level. A wheel carries them inside the package, as
``emulator/_data/openapi`` and ``emulator/_data/fixtures`` (pyproject.toml maps the two
folders there), and they are found through importlib.resources wherever it is installed. A
checkout, and its editable install (setuptools' editable finder cannot map a folder of data
into a package), reads the top-level folders. Standard library only: the CLI imports this
before anything heavy.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def shipped(name: str) -> Path:
    """The folder ``name`` ('openapi' or 'fixtures'): the installed package's own copy, else
    the checkout's."""
    packaged = files(__package__) / "_data" / name
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name


OPENAPI_DIR = shipped("openapi")
FIXTURES_DIR = shipped("fixtures")
