"""Sending through a real HTTP sink: retries persisted with backoff and
Retry-After, permanent errors, ambiguous failures, channel isolation, rows that
no longer read, a locked SQLite database, misfires."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from scheduler.config import Settings, load_settings
from scheduler.delivery import claims
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.lanes import make_client
from scheduler.storage import database
from scheduler.storage.models import Attempt, Post, utcnow

from . import harness
from .sink import Sink


def settings(url: str, **kw: object) -> Settings:
    base: dict[str, object] = {
        "db": url,
        "retry_base_seconds": 10.0,
        "max_attempts": 3,
        "lease_seconds": 30.0,
        "request_timeout_seconds": 5.0,
        "grace_seconds": 3600.0,
    }
    base.update(kw)
    return load_settings(**base)


async def run(url: str, cfg: Settings, now: dt.datetime | None = None, **kw: object) -> list:
    engine = database.make_engine(url, **kw)  # type: ignore[arg-type]
    async with make_client(cfg.request_timeout_seconds) as client:
        events = await Dispatcher(engine, cfg, client=client).run_due(now=now)
    engine.dispose()
    return events


def posts(url: str) -> list[Post]:
    engine = database.make_engine(url)
    with Session(engine) as session:
        rows = list(session.execute(sa.select(Post).order_by(Post.id)).scalars())
    engine.dispose()
    return rows


def attempts(url: str, post_id: int) -> list[Attempt]:
    engine = database.make_engine(url)
    with Session(engine) as session:
        rows = list(
            session.execute(
                sa.select(Attempt).where(Attempt.post_id == post_id).order_by(Attempt.id)
            ).scalars()
        )
    engine.dispose()
    return rows


def test_retries_are_persisted_with_backoff_then_fail(db_url: str, sink: Sink) -> None:
    harness.add_channels(db_url, {"down": f"{sink.base}/status/500"})
    ids = harness.add_channels(db_url, {"up": f"{sink.base}/ok"})
    down = posts(db_url)
    harness.add_posts(db_url, [1], 1)
    harness.add_posts(db_url, [ids["up"]], 1)
    assert not down
    cfg = settings(db_url)
    t0 = utcnow()
    events = asyncio.run(run(db_url, cfg, now=t0))
    assert sorted(e.status for e in events) == ["retry", "sent"]
    first, ok = posts(db_url)
    assert ok.status == "sent"
    assert first.status == "queued" and first.attempts == 1
    assert first.next_attempt_at is not None
    # Exponential backoff with jitter: base 10 s, +-20 %.
    assert 8 <= (first.next_attempt_at - t0).total_seconds() <= 12
    assert "HTTP 500" in (first.last_error or "")
    # Not due again before its time...
    assert asyncio.run(run(db_url, cfg, now=t0 + dt.timedelta(seconds=5))) == []
    # ...then tried again, backing off further, until the attempts run out.
    t1 = first.next_attempt_at + dt.timedelta(seconds=1)
    asyncio.run(run(db_url, cfg, now=t1))
    second = posts(db_url)[0]
    assert second.attempts == 2
    assert 16 <= (second.next_attempt_at - t1).total_seconds() <= 24
    asyncio.run(run(db_url, cfg, now=second.next_attempt_at + dt.timedelta(seconds=1)))
    final = posts(db_url)[0]
    assert final.status == "failed" and final.attempts == 3
    assert "gave up after 3 attempts" in (final.last_error or "")
    assert [a.outcome for a in attempts(db_url, final.id)] == ["retry", "retry", "failed"]
    assert sum(sink.snapshot().requests.values()) == 4


def test_retry_after_is_honoured(sqlite_url: str) -> None:
    sink = Sink(retry_after="120")
    sink.start()
    try:
        harness.add_channels(sqlite_url, {"busy": f"{sink.base}/status/429"})
        harness.add_posts(sqlite_url, [1], 1)
        t0 = utcnow()
        asyncio.run(run(sqlite_url, settings(sqlite_url, retry_base_seconds=0.01), now=t0))
    finally:
        sink.stop()
    (post,) = posts(sqlite_url)
    assert post.status == "queued"
    assert (post.next_attempt_at - t0).total_seconds() >= 120


def test_a_permanent_error_is_not_retried(db_url: str, sink: Sink) -> None:
    harness.add_channels(db_url, {"bad": f"{sink.base}/status/422"})
    harness.add_posts(db_url, [1], 1)
    asyncio.run(run(db_url, settings(db_url)))
    (post,) = posts(db_url)
    assert post.status == "failed" and post.attempts == 1
    assert "HTTP 422" in (post.last_error or "")


def test_no_answer_then_giving_up_is_unknown_not_failed(sqlite_url: str) -> None:
    """A request that got no answer may have been published: when the retries
    run out, the post is `unknown` (so `failed` always means "not published")."""
    sink = Sink(hang_seconds=10)
    sink.start()
    try:
        harness.add_channels(sqlite_url, {"slow": f"{sink.base}/hang"})
        harness.add_posts(sqlite_url, [1], 1)
        cfg = settings(sqlite_url, max_attempts=2, request_timeout_seconds=0.3)
        t0 = utcnow()
        asyncio.run(run(sqlite_url, cfg, now=t0))
        (post,) = posts(sqlite_url)
        assert post.status == "queued"
        asyncio.run(run(sqlite_url, cfg, now=t0 + dt.timedelta(hours=1)))
    finally:
        sink.stop()
    (post,) = posts(sqlite_url)
    assert post.status == "unknown"
    assert "may have reached the platform" in (post.last_error or "")
    assert [a.outcome for a in attempts(sqlite_url, post.id)] == ["unsure", "failed"]


@pytest.fixture
def hanging_sink() -> Iterator[Sink]:
    """A sink whose `/hang` path holds each request a minute."""
    sink = Sink(hang_seconds=60)
    sink.start()
    yield sink
    sink.stop()


def test_a_hanging_channel_does_not_hold_back_another(db_url: str, hanging_sink: Sink) -> None:
    sink = hanging_sink
    ids = harness.add_channels(db_url, {"stuck": f"{sink.base}/hang", "fine": f"{sink.base}/ok"})
    harness.add_posts(db_url, [ids["stuck"]], 3)
    harness.add_posts(db_url, [ids["fine"]], 20)
    cfg = settings(db_url, channel_concurrency=2, request_timeout_seconds=50)

    async def scenario() -> dict[str, list[str]]:
        engine = database.make_engine(db_url)
        async with make_client(cfg.request_timeout_seconds) as client:
            dispatcher = Dispatcher(engine, cfg, client=client)
            by_channel = await _pump_until(
                dispatcher, db_url, lambda by: by.get(ids["fine"]) == ["sent"] * 20, 400, 0.02
            )
        engine.dispose()
        return by_channel

    by_channel = asyncio.run(scenario())
    assert by_channel[ids["fine"]] == ["sent"] * 20
    # The stuck channel used only its own two slots; its third post waits.
    assert sorted(by_channel[ids["stuck"]]) == ["queued", "sending", "sending"]


def test_a_platform_that_never_answers_gets_one_send_at_a_time(
    sqlite_url: str, hanging_sink: Sink
) -> None:
    """Six channels whose platform hangs would hold 24 of the wire's 20 slots
    for as long as their sends wait to time out, again at every retry. Once a
    channel's send got no answer, it gets one send at a time until the
    platform answers again, and the healthy channel beside them gets through.
    Counted where the sends start: how many of a channel's are in flight when
    a new one starts, after its first went unanswered."""
    from collections import Counter

    from scheduler.delivery.lanes import make_lanes

    sink = hanging_sink
    hanging = harness.add_channels(sqlite_url, {f"down{i}": f"{sink.base}/hang" for i in range(6)})
    fine = harness.add_channels(sqlite_url, {"fine": f"{sink.base}/ok"})["fine"]
    harness.add_posts(sqlite_url, list(hanging.values()), 10)
    harness.add_posts(sqlite_url, [fine], 20)
    cfg = settings(
        sqlite_url, request_timeout_seconds=0.5, retry_base_seconds=0.05, max_attempts=50
    )
    live: Counter[int] = Counter()
    after: dict[int, list[int]] = {c: [] for c in hanging.values()}
    unanswered: set[int] = set()

    async def scenario() -> dict[str, list[str]]:
        engine = database.make_engine(sqlite_url)
        async with make_lanes(cfg.request_timeout_seconds) as lanes:
            dispatcher = Dispatcher(engine, cfg, lanes=lanes)
            publish = dispatcher._publish

            async def counted(flight, now_fn):  # type: ignore[no-untyped-def]
                c = flight.channel_id
                live[c] += 1
                if c in unanswered:
                    after[c].append(live[c])
                try:
                    outcome = await publish(flight, now_fn)
                finally:
                    live[c] -= 1
                if "no answer from" in (outcome.error or ""):
                    unanswered.add(c)
                return outcome

            dispatcher._publish = counted  # type: ignore[method-assign]
            # Bounded by progress: done once the healthy channel is sent and
            # every hanging one has started sends after its first went unanswered.
            by_channel = await _pump_until(
                dispatcher,
                sqlite_url,
                lambda by: by[fine] == ["sent"] * 20 and all(len(a) >= 2 for a in after.values()),
                5_000,
                0.01,
            )
        engine.dispose()
        return by_channel

    by_channel = asyncio.run(scenario())
    assert by_channel[fine] == ["sent"] * 20
    assert all(len(a) >= 2 for a in after.values())
    # Each send a hanging channel started after that was its only one in flight.
    assert {n for a in after.values() for n in a} == {1}


async def _pump_until(
    dispatcher: Dispatcher,
    url: str,
    done: Callable[[dict[int, list[str]]], bool],
    turns: int,
    pause: float,
) -> dict[int, list[str]]:
    """Pump until `done` holds for the posts' statuses by channel (or `turns`
    run out), then cancel the sends still in flight; the last statuses."""
    for _ in range(turns):
        await dispatcher.pump()
        await asyncio.sleep(pause)
        by_channel = _statuses_by_channel(url)
        if done(by_channel):
            break
    for task in list(dispatcher._tasks):
        task.cancel()
    await asyncio.gather(*dispatcher._tasks, return_exceptions=True)
    return by_channel


def _statuses_by_channel(url: str) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for post in posts(url):
        out.setdefault(post.channel_id, []).append(post.status)
    return out


def test_rows_that_no_longer_read_fail_alone(db_url: str, sink: Sink) -> None:
    ids = harness.add_channels(
        db_url,
        {"good": f"{sink.base}/ok", "typed": f"{sink.base}/ok", "gone": f"{sink.base}/ok"},
        grace_seconds=3 * 86400.0,
    )
    harness.add_posts(db_url, list(ids.values()), 9)
    engine = database.make_engine(db_url)
    with engine.begin() as conn:
        # Options of the wrong shape, an adapter that is no longer installed.
        conn.execute(
            sa.text("UPDATE channels SET options = :o WHERE id = :i"),
            {"o": '{"url": 5, "colour": "red"}', "i": ids["typed"]},
        )
        conn.execute(
            sa.text("UPDATE channels SET platform = 'uninstalled' WHERE id = :i"),
            {"i": ids["gone"]},
        )
        if engine.dialect.name == "sqlite":
            # A date that cannot be parsed, on one post of the good channel.
            bad = utcnow() - dt.timedelta(hours=2)
            conn.execute(
                sa.text("UPDATE posts SET due_at = :d WHERE id = 1"),
                {"d": f"{bad.date()} {bad.hour:02d}:99:00"},
            )
    events = {e.post_id: e for e in asyncio.run(run(db_url, settings(db_url)))}
    statuses = dict(
        engine.connect().execute(sa.text("SELECT id, status FROM posts ORDER BY id")).all()
    )
    errors = dict(
        engine.connect().execute(sa.text("SELECT id, last_error FROM posts ORDER BY id")).all()
    )
    tried = dict(engine.connect().execute(sa.text("SELECT id, attempts FROM posts")).all())
    engine.dispose()
    good = [p for p in range(1, 10) if (p - 1) % 3 == 0]
    typed = [p for p in range(1, 10) if (p - 1) % 3 == 1]
    gone = [p for p in range(1, 10) if (p - 1) % 3 == 2]
    for p in typed:
        assert statuses[p] == "failed" and "cannot prepare the post" in errors[p]
        assert "url" in errors[p]
    for p in gone:
        assert statuses[p] == "failed" and "uninstalled" in errors[p]
    if db_url.startswith("sqlite"):
        assert statuses[1] == "failed" and "cannot read post 1" in errors[1]
        assert (events[1].channel, events[1].status) == ("good", "failed")
        good.remove(1)
    assert all(statuses[p] == "sent" for p in good)
    # Nothing left for the posts that failed before the network: no attempt counted.
    assert all(tried[p] == 0 for p in statuses if statuses[p] == "failed")
    published = set(sink.snapshot().published.values())
    assert published == set(good)


def test_a_locked_sqlite_database_waits_and_retries(sqlite_url: str, sink: Sink) -> None:
    harness.add_channels(sqlite_url, {"a": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, [1], 5)
    path = sa.make_url(sqlite_url).database
    locked = threading.Event()

    def hold_lock() -> None:
        conn = sqlite3.connect(path, timeout=0)
        conn.execute("BEGIN EXCLUSIVE")
        locked.set()
        threading.Event().wait(1.5)
        conn.rollback()
        conn.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    locked.wait(5)
    # A 50 ms busy timeout: the lock outlasts it many times over.
    events = asyncio.run(run(sqlite_url, settings(sqlite_url), busy_timeout=0.05))
    holder.join()
    assert sorted(e.status for e in events) == ["sent"] * 5
    assert [p.status for p in posts(sqlite_url)] == ["sent"] * 5
    assert len(sink.snapshot().published) == 5


def test_late_posts_go_out_within_grace_and_are_missed_beyond(db_url: str, sink: Sink) -> None:
    ids = harness.add_channels(db_url, {"a": f"{sink.base}/ok"})
    now = utcnow()
    harness.add_posts(db_url, [ids["a"]], 3, due=now - dt.timedelta(hours=5), spread_seconds=60)
    harness.add_posts(db_url, [ids["a"]], 2, due=now - dt.timedelta(minutes=20))
    events = asyncio.run(run(db_url, settings(db_url, grace_seconds=3600)))
    assert sorted(e.status for e in events) == ["missed"] * 3 + ["sent"] * 2
    rows = posts(db_url)
    assert [p.status for p in rows] == ["missed"] * 3 + ["sent"] * 2
    assert all("not sent within 3600s" in (p.last_error or "") for p in rows[:3])
    assert len(sink.snapshot().published) == 2


@pytest.mark.parametrize("shares", [0.0])
def test_each_post_carries_its_own_stable_key(sqlite_url: str, sink: Sink, shares: float) -> None:
    harness.add_channels(sqlite_url, {"a": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, [1], 10)
    asyncio.run(run(sqlite_url, settings(sqlite_url)))
    stats = sink.snapshot()
    keys = {p.idempotency_key: p.id for p in posts(sqlite_url)}
    assert stats.published == keys


def test_expired_posts_are_never_sent(db_url: str, sink: Sink) -> None:
    ids = harness.add_channels(db_url, {"a": f"{sink.base}/ok"})
    now = utcnow()
    harness.add_posts(db_url, [ids["a"]], 3, due=now - dt.timedelta(minutes=5))
    engine = database.make_engine(db_url)
    with database.session_scope(engine) as session:
        session.execute(
            sa.update(Post).where(Post.id == 2).values(expires_at=now - dt.timedelta(minutes=1))
        )
        # Not expired yet when claimed: sent.
        session.execute(
            sa.update(Post).where(Post.id == 3).values(expires_at=now + dt.timedelta(hours=1))
        )
        # Between sweeps, the claim itself refuses an expired post.
        assert sorted(claims.claim_due(session, "x", now, dt.timedelta(seconds=30), 10)) == [1, 3]
        session.execute(
            sa.update(Post)
            .where(Post.id.in_([1, 3]))
            .values(status="queued", lease_owner=None, lease_expires_at=None)
        )
    engine.dispose()
    events = asyncio.run(run(db_url, settings(db_url)))
    assert sorted((e.post_id, e.status) for e in events) == [
        (1, "sent"),
        (2, "missed"),
        (3, "sent"),
    ]
    assert [p.status for p in posts(db_url)] == ["sent", "missed", "sent"]
    assert "expired" in (posts(db_url)[1].last_error or "")
    assert set(sink.snapshot().published.values()) == {1, 3}
