"""Where the bundled post templates and database migrations are.

In a checkout they sit at the top of the repository (`templates/`, `db/`); in an
installed wheel they are copied into `scheduler/_bundled/`.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PACKAGE / "_bundled" / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled folder {name!r} is missing from this installation")


def templates_dir() -> Path:
    return _find("templates") / "posts"


def migrations_dir() -> Path:
    return _find("db")
