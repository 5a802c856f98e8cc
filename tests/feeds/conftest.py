"""Fixtures for feeds, notifications and source watch: a migrated SQLite file,
a local HTTP server, and articles we wrote (a fictional rowing club)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from scheduler.accounts import channels
from scheduler.config import Settings
from scheduler.storage import database

from .server import Served, Site

ARTICLES = {
    "a1": (
        "Red River Oars open their season\n\n"
        "The club put four boats on the water on Saturday. "
        '"We have never been this ready in March," coach Ilse Marchetti said. '
        "The first regatta is on 12 April 2027."
    ),
    "a2": (
        "A new boathouse for the Oars\n\n"
        "Builders finished the roof on Monday. "
        '"A dry boat is a fast boat," captain Tomas Brandvold said.'
    ),
    "a3": (
        "Oars sign a junior coach\n\n"
        "The club named a coach for its juniors. "
        '"Teenagers row with their whole heart," coach Ada Okonkwo said.'
    ),
}


@pytest.fixture
def served() -> Iterator[Site]:
    server = Served()
    yield server.site
    server.close()


@pytest.fixture
def engine(tmp_path, migrated) -> Iterator[Engine]:  # type: ignore[no-untyped-def]
    shutil.copyfile(migrated, tmp_path / "feeds.db")
    eng = database.make_engine(f"sqlite:///{tmp_path / 'feeds.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def settings(tmp_path) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(db=f"sqlite:///{tmp_path / 'feeds.db'}", request_timeout_seconds=5.0)


def add_channel(engine: Engine, name: str, platform: str = "outbox", **options: str) -> None:
    with database.session_scope(engine) as session:
        channels.add_channel(
            session,
            name,
            platform,
            options=options,
            secret_env=None,
            timezone="UTC",
            slots="mon-sun 00:00,06:00,12:00,18:00",
        )
