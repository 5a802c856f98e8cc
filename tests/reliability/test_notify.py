"""LISTEN/NOTIFY on PostgreSQL: a post queued or moved by another process wakes
a daemon at once. The daemons here sweep once an hour, so only the
notification can make them send within the test."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa

from scheduler.config import load_settings
from scheduler.delivery import claims
from scheduler.delivery.daemon import Daemon
from scheduler.desk.posts import get_post, move_post
from scheduler.storage import database
from scheduler.storage.models import utcnow

from . import harness
from .sink import Sink

pytestmark = pytest.mark.postgres


async def _wait_for(predicate, seconds: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


def test_insert_and_move_wake_a_sleeping_daemon(pg_url: str, sink: Sink) -> None:
    ids = harness.add_channels(pg_url, {"a": f"{sink.base}/ok"})
    # Due tomorrow: the daemon arms its wake-up for then and goes to sleep.
    harness.add_posts(pg_url, [ids["a"]], 1, due=utcnow() + dt.timedelta(days=1))
    cfg = load_settings(db=pg_url, sweep_seconds=3600.0, lease_seconds=30.0)

    async def scenario() -> tuple[bool, bool]:
        engine = database.make_engine(pg_url)
        daemon = Daemon(engine, cfg)
        task = asyncio.create_task(daemon.run_forever())
        try:
            assert await _wait_for(daemon.listening.is_set)
            await asyncio.sleep(0.2)  # the first pass finds nothing due
            harness.add_posts(pg_url, [ids["a"]], 3)
            inserted = await _wait_for(lambda: harness.status_counts(pg_url)["sent"] == 3)
            with database.session_scope(engine) as session:
                move_post(session, get_post(session, 1), utcnow())
            moved = await _wait_for(lambda: harness.status_counts(pg_url)["sent"] == 4)
            with database.session_scope(engine) as session:
                session.execute(sa.text("UPDATE channels SET paused = true"))
            harness.add_posts(pg_url, [ids["a"]], 2)
            await asyncio.sleep(0.3)
            held = harness.status_counts(pg_url)["queued"] == 2
            with database.session_scope(engine) as session:
                session.execute(sa.text("UPDATE channels SET paused = false"))
            resumed = await _wait_for(lambda: harness.status_counts(pg_url)["sent"] == 6)
            return inserted, moved and held and resumed
        finally:
            daemon.stop()
            await task
            engine.dispose()

    inserted, moved = asyncio.run(scenario())
    assert inserted, "a post inserted by another process did not wake the daemon"
    assert moved, "a post moved to now, or a channel resumed, did not wake the daemon"
    assert len(sink.snapshot().published) == 6


def test_notifications_are_sent_by_the_trigger(pg_url: str) -> None:
    import psycopg

    from scheduler.delivery import wakeups

    engine = database.make_engine(pg_url)
    ids = harness.add_channels(pg_url, {"a": "http://127.0.0.1:9/"})
    with psycopg.connect(wakeups.conninfo(engine), autocommit=True) as conn:
        conn.execute(f"LISTEN {wakeups.CHANNEL}")
        harness.add_posts(pg_url, [ids["a"]], 500)
        got = list(conn.notifies(timeout=5, stop_after=1))
        assert len(got) == 1
        # Claiming (queued -> sending) is not news for other daemons.
        with database.session_scope(engine) as session:
            claims.claim_due(session, "x", utcnow(), dt.timedelta(seconds=30), 10)
        assert list(conn.notifies(timeout=0.5)) == []
    engine.dispose()
