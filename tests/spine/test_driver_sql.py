"""`driver_sql.Prepared` writes exactly what Core writes for the same statement."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from scheduler.storage.driver_sql import Prepared
from scheduler.storage.models import UTCDateTime

metadata = sa.MetaData()
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String),
    sa.Column("at", UTCDateTime),
    sa.Column("note", sa.String, nullable=True),
)
UPDATE = (
    sa.update(events)
    .where(events.c.id == sa.bindparam("p_id"), events.c.kind == "new")
    .values(at=sa.bindparam("p_at", type_=events.c.at.type), note=sa.bindparam("p_note"))
)


def _engine(path: Path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(events), [{"kind": "new" if i < 5 else "old"} for i in range(8)])
    return engine


def _rows(engine: sa.Engine) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT * FROM events ORDER BY id")]


def test_prepared_writes_what_core_writes(tmp_path: Path) -> None:
    # Different times in different rows, the same time object in several, a
    # None, and a row the statement's literal ("new") excludes.
    first = dt.datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=dt.UTC)
    later = dt.datetime(2026, 3, 29, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    params = [
        {"p_id": 1, "p_at": first, "p_note": "a"},
        {"p_id": 2, "p_at": first, "p_note": None},
        {"p_id": 3, "p_at": later, "p_note": "c"},
        {"p_id": 7, "p_at": later, "p_note": "old rows are left alone"},
    ]
    results = []
    for name, run in (
        ("core", lambda conn: conn.execute(UPDATE, params)),
        ("prepared", lambda conn: Prepared(UPDATE, conn.dialect).run(conn, params)),
    ):
        engine = _engine(tmp_path / f"{name}.db")
        with engine.begin() as conn:
            assert run(conn).rowcount == 3
            single = Prepared(UPDATE, conn.dialect) if name == "prepared" else None
            one = {"p_id": 4, "p_at": later, "p_note": "d"}
            assert (single.run(conn, one) if single else conn.execute(UPDATE, one)).rowcount == 1
        results.append(_rows(engine))
        engine.dispose()
    assert results[0] == results[1]
    assert Prepared(UPDATE, sa.create_engine("sqlite://").dialect).sql is not None


def test_prepared_runs_in_the_connections_transaction_and_wraps_driver_errors(
    tmp_path: Path,
) -> None:
    """On SQLite `Prepared` runs on the driver's cursor: what it writes is
    committed or rolled back with the Connection, a statement someone listens
    to goes through SQLAlchemy (the listener sees it), and a locked database
    raises SQLAlchemy's OperationalError, which the daemon's retries know."""
    from scheduler.storage import database

    engine = _engine(tmp_path / "tx.db")
    update = Prepared(UPDATE, engine.dialect)
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert update.direct
    with engine.connect() as conn:
        assert update.run(conn, {"p_id": 1, "p_at": at, "p_note": "undone"}).rowcount == 1
        conn.rollback()
        assert update.run(conn, {"p_id": 2, "p_at": at, "p_note": "kept"}).rowcount == 1
        conn.commit()
    notes = {row[0]: row[3] for row in _rows(engine)}
    assert notes[1] is None and notes[2] == "kept"

    seen: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with engine.begin() as conn:
        update.run(conn, {"p_id": 3, "p_at": at, "p_note": "seen"})
    assert seen == [update.sql]
    engine.dispose()

    plain = sa.create_engine(f"sqlite:///{tmp_path / 'tx.db'}", connect_args={"timeout": 0.05})
    with plain.connect() as holder, plain.connect() as conn:
        holder.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            update.run(conn, {"p_id": 4, "p_at": at, "p_note": "locked out"})
        except sa.exc.OperationalError as exc:
            assert database.is_transient(exc)
        else:
            raise AssertionError("a write under another writer's lock went through")
        holder.rollback()
    plain.dispose()
