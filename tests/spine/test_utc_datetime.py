"""The UTC column type on SQLite writes the exact text SQLAlchemy's own two
steps write (SQLite compares the text: one character off and due posts sort
wrong), and still refuses a naive datetime."""

from __future__ import annotations

import datetime as dt
import random

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from scheduler.storage.models import UTCDateTime

DIALECT = sqlite.dialect()
FAST = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
TEXT = sa.DateTime().dialect_impl(DIALECT).bind_processor(DIALECT)


def reference(value: dt.datetime) -> str:
    return TEXT(value.astimezone(dt.UTC).replace(tzinfo=None))


ZONES = [
    dt.UTC,
    dt.timezone(dt.timedelta(hours=5, minutes=30)),
    dt.timezone(-dt.timedelta(hours=11)),
]


def test_same_text_as_sqlalchemy():
    rng = random.Random(17)
    values = [
        dt.datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
        dt.datetime(1, 1, 1, 11, tzinfo=dt.UTC),
        dt.datetime(9999, 12, 31, 0, 30, tzinfo=ZONES[2]),
    ]
    for _ in range(5000):
        naive = dt.datetime(1000, 1, 2) + dt.timedelta(microseconds=rng.randrange(2**57))
        values.append(naive.replace(tzinfo=rng.choice(ZONES)))
    for value in values:
        assert FAST(value) == reference(value), value


def test_none_and_naive():
    assert FAST(None) is None
    with pytest.raises(ValueError, match="naive"):
        FAST(dt.datetime(2026, 1, 1))


def test_round_trip_through_a_sqlite_file(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    table = sa.Table("t", sa.MetaData(), sa.Column("at", UTCDateTime()))
    table.metadata.create_all(engine)
    when = dt.datetime(2026, 3, 29, 1, 30, 0, 5, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(table.insert(), {"at": when})
        stored = conn.exec_driver_sql("SELECT at FROM t").scalar()
        back = conn.execute(sa.select(table.c.at)).scalar()
    assert stored == "2026-03-28 23:30:00.000005"
    assert back == when
    engine.dispose()
