"""Leases under a stalled daemon, renewals off the event loop, and outcomes
that cannot be written at once: a daemon never resends what it is still
sending, and never starts a send whose lease has run out."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from scheduler.delivery import claims
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.lanes import make_client
from scheduler.storage import database
from scheduler.storage.models import Attempt, Post, utcnow

from . import harness
from .sink import Sink
from .test_dispatch import posts, settings


@pytest.fixture
def slow_sink() -> Iterator[Sink]:
    sink = Sink(hang_seconds=3.0)
    sink.start()
    yield sink
    sink.stop()


def test_recovery_never_takes_back_a_post_its_own_daemon_holds(db_url: str) -> None:
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, list(channels.values()), 2)
    engine = database.make_engine(db_url)
    now = utcnow()
    with Session(engine) as session:
        held, other = claims.claim_due(session, "me", now, dt.timedelta(seconds=-1), 10)
        later = now + dt.timedelta(seconds=5)
        counts = claims.recover_expired_leases(session, later, ["webhook"], holding={held})
    assert counts == {"queued": 1, "unknown": 0}
    with Session(engine) as session:
        assert session.get(Post, held).status == "sending"
        assert session.get(Post, other).status == "queued"
    engine.dispose()


def test_a_send_whose_lease_ran_out_is_not_started(sqlite_url: str, sink: Sink) -> None:
    """The whole daemon stalled (SIGSTOP, CPU starvation) between the claim and
    the send: by then another daemon may own the posts, so none may leave."""
    ids = harness.add_channels(sqlite_url, {"ok": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, [ids["ok"]], 3)
    cfg = settings(sqlite_url, lease_seconds=0.5)

    async def go() -> int:
        engine = database.make_engine(sqlite_url)
        async with make_client(cfg.request_timeout_seconds) as client:
            d = Dispatcher(engine, cfg, client=client)
            started = await d.pump()
            time.sleep(0.8)  # the stall: nothing on this loop runs meanwhile
            await asyncio.gather(*d._tasks)
            await d.drain(timeout=5)
        engine.dispose()
        return started

    assert asyncio.run(go()) == 3
    assert sum(sink.snapshot().requests.values()) == 0
    rows = posts(sqlite_url)
    assert [p.status for p in rows] == ["queued"] * 3
    assert all("lease ran out" in (p.last_error or "") for p in rows)


def test_leases_are_renewed_while_the_event_loop_is_blocked(
    sqlite_url: str, slow_sink: Sink
) -> None:
    """Renewals run on a thread of their own: a loop busy for longer than a
    lease (thousands of sends, a long GC) does not let the lease lapse."""
    ids = harness.add_channels(sqlite_url, {"slow": f"{slow_sink.base}/hang"})
    harness.add_posts(sqlite_url, [ids["slow"]], 1)
    cfg = settings(sqlite_url, lease_seconds=0.6, request_timeout_seconds=10.0)

    async def go() -> tuple[int, str, str | None, str]:
        engine = database.make_engine(sqlite_url)
        async with make_client(cfg.request_timeout_seconds) as client:
            d = Dispatcher(engine, cfg, client=client)
            stop = d.start_heartbeat()
            try:
                assert await d.pump() == 1
                # Let the request leave, then block the loop (time.sleep, never
                # yielding) until the lease has been renewed twice: bounded by
                # polls, not by how fast the machine is.
                for _ in range(100):
                    await asyncio.sleep(0.02)
                    if slow_sink.snapshot().requests:
                        break
                ends = {posts(sqlite_url)[0].lease_expires_at}
                for _ in range(600):
                    time.sleep(0.05)
                    ends.add(posts(sqlite_url)[0].lease_expires_at)
                    if len(ends) >= 3:
                        break
                (row,) = posts(sqlite_url)
                seen = (len(ends) - 1, row.status, row.lease_owner, d.owner)
            finally:
                stop()
                for task in list(d._tasks):
                    task.cancel()
                await asyncio.gather(*d._tasks, return_exceptions=True)
        engine.dispose()
        return seen

    renewals, status, owner, me = asyncio.run(go())
    assert renewals >= 2, "the lease was not renewed while the loop was blocked"
    assert status == "sending" and owner == me


def test_an_outcome_that_cannot_be_written_is_written_before_the_next_send(
    sqlite_url: str, sink: Sink
) -> None:
    """A full disk while outcomes are written: the sends that reached the sink
    are not left `sending` to be sent again; their outcomes wait and are written
    first, and no new post is claimed until they are."""
    ids = harness.add_channels(sqlite_url, {"ok": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, [ids["ok"]], 6)
    cfg = settings(sqlite_url, lease_seconds=0.3, channel_concurrency=2)
    full = OperationalError(
        "UPDATE posts", {}, sqlite3.OperationalError("database or disk is full")
    )

    async def go() -> list[int]:
        engine = database.make_engine(sqlite_url)
        requests_while_full: list[int] = []
        async with make_client(cfg.request_timeout_seconds) as client:
            d = Dispatcher(engine, cfg, client=client)
            real = d.exchange.run
            calls = {"n": 0}

            def run(*args, **kwargs):  # type: ignore[no-untyped-def]
                calls["n"] += 1
                if 2 <= calls["n"] <= 4:  # the disk is full for a while
                    requests_while_full.append(sum(sink.snapshot().requests.values()))
                    raise full
                return real(*args, **kwargs)

            d.exchange.run = run  # type: ignore[method-assign]
            for _ in range(200):
                with contextlib.suppress(OperationalError):
                    await d.pump()
                if d._tasks:
                    await asyncio.gather(*d._tasks)
                if not d.in_flight and not _queued(engine):
                    break
            await d.drain(timeout=5)
        engine.dispose()
        return requests_while_full

    while_full = asyncio.run(go())
    stats = sink.snapshot()
    assert sorted(stats.requests.values()) == [1] * 6, "a post was sent twice"
    assert [p.status for p in posts(sqlite_url)] == ["sent"] * 6
    # Nothing new left while the first outcomes waited to be written.
    assert while_full and len(set(while_full)) == 1


def _queued(engine: sa.Engine) -> int:
    with Session(engine) as session:
        return len(
            session.execute(sa.select(Post.id).where(Post.status.in_(["queued", "sending"])))
            .scalars()
            .all()
        )


def test_the_dry_run_marks_missed_what_the_daemon_would_miss(sqlite_url: str, sink: Sink) -> None:
    ids = harness.add_channels(sqlite_url, {"ok": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, [ids["ok"]], 2, due=utcnow() - dt.timedelta(hours=2))
    harness.add_posts(sqlite_url, [ids["ok"]], 1)
    cfg = settings(sqlite_url, grace_seconds=3600.0)

    async def go(dry_run: bool) -> dict[int, str]:
        engine = database.make_engine(sqlite_url)
        async with make_client(cfg.request_timeout_seconds) as client:
            events = await Dispatcher(engine, cfg, client=client, dry_run=dry_run).run_due()
        engine.dispose()
        return {e.post_id: e.status for e in events}

    dry = asyncio.run(go(True))
    assert sorted(dry.values()) == ["dry-run", "missed", "missed"]
    assert sum(sink.snapshot().requests.values()) == 0
    real = asyncio.run(go(False))
    assert {i: s.replace("sent", "dry-run") for i, s in real.items()} == dry


def test_a_late_retry_is_missed_unless_an_earlier_try_may_have_landed(
    sqlite_url: str, sink: Sink
) -> None:
    """Two posts whose retry is two hours late: one after a clear failure (the
    daemon marks it missed), one after an unclear answer (it may be on the
    platform already, so the daemon resends it under its key). The dry run
    agrees with the daemon on both."""
    ids = harness.add_channels(sqlite_url, {"ok": f"{sink.base}/ok"})
    late = utcnow() - dt.timedelta(hours=2)
    harness.add_posts(sqlite_url, [ids["ok"]], 2, due=late - dt.timedelta(minutes=5))
    engine = database.make_engine(sqlite_url)
    with Session(engine) as session:
        clear, unclear = session.execute(sa.select(Post).order_by(Post.id)).scalars().all()
        for post, outcome in ((clear, "retry"), (unclear, "unknown")):
            post.attempts, post.next_attempt_at = 1, late
            session.add(Attempt(post_id=post.id, owner="gone", outcome=outcome))
        session.commit()
        clear_id, unclear_id = clear.id, unclear.id
    engine.dispose()
    cfg = settings(sqlite_url, grace_seconds=3600.0)

    async def go(dry_run: bool) -> dict[int, str]:
        engine = database.make_engine(sqlite_url)
        async with make_client(cfg.request_timeout_seconds) as client:
            events = await Dispatcher(engine, cfg, client=client, dry_run=dry_run).run_due()
        engine.dispose()
        return {e.post_id: e.status for e in events}

    dry = asyncio.run(go(True))
    assert dry == {clear_id: "missed", unclear_id: "dry-run"}
    real = asyncio.run(go(False))
    assert real.get(unclear_id) == "sent"
    assert [p.status for p in posts(sqlite_url)] == ["missed", "sent"]
