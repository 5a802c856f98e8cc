"""Running the Alembic migrations from inside the program (`scheduler init`).

Alembic is imported only to migrate. Every other command checks the schema
with one query and a look at the revision ids in db/versions, because importing
Alembic costs more than the rest of a daemon's start-up checks together.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scheduler.resources import migrations_dir

if TYPE_CHECKING:
    from alembic.config import Config

_REVISION = re.compile(r"^(revision|down_revision)\s*=\s*['\"]?([^'\"\s]+)['\"]?", re.M)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


def head_revision(engine: Engine | None = None) -> str | None:
    return _head()


@cache
def _head() -> str | None:
    """The revision no other revision names as its parent (a linear history)."""
    revisions, parents = set(), set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        found = dict(m.groups() for m in _REVISION.finditer(path.read_text()))
        if "revision" in found:
            revisions.add(found["revision"])
            parents.add(found.get("down_revision"))
    heads = revisions - parents
    if len(heads) != 1:
        from alembic.script import ScriptDirectory

        return ScriptDirectory(str(migrations_dir())).get_current_head()
    return heads.pop()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Migrate to the newest revision; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    return before, current_revision(engine)
