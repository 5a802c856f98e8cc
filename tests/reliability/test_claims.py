"""The claim, leases and recovery, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from scheduler.delivery import attempts, claims
from scheduler.storage import database
from scheduler.storage.models import Attempt, Post, PostStatus, utcnow

from . import harness

LEASE = dt.timedelta(seconds=30)


def _post(engine, post_id: int) -> Post:
    with Session(engine) as session:
        post = session.get(Post, post_id)
        assert post is not None
        return post


def _ids(engine) -> list[int]:
    with Session(engine) as session:
        return list(session.execute(sa.select(Post.id).order_by(Post.id)).scalars())


def test_concurrent_claims_never_share_a_post(db_url: str) -> None:
    channels = harness.add_channels(
        db_url, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"}
    )
    harness.add_posts(db_url, list(channels.values()), 600)
    engine = database.make_engine(db_url)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def worker(name: str) -> None:
        mine: list[int] = []
        try:
            barrier.wait()
            while True:
                with Session(engine) as session:
                    got = claims.claim_due(session, name, utcnow(), LEASE, 7)
                if not got:
                    break
                mine.extend(got)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        claimed[name] = mine

    threads = [threading.Thread(target=worker, args=(f"d{i}",)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)), "a post was claimed twice"
    assert sorted(every) == _ids(engine)
    with Session(engine) as session:
        owners = dict(session.execute(sa.select(Post.id, Post.lease_owner)).all())
    for name, ids in claimed.items():
        assert all(owners[i] == name for i in ids)
    engine.dispose()


def test_claim_per_channel_and_in_due_order(db_url: str) -> None:
    channels = harness.add_channels(
        db_url, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"}
    )
    now = utcnow()
    harness.add_posts(
        db_url, [channels["a"]], 5, due=now - dt.timedelta(minutes=5), spread_seconds=60
    )
    harness.add_posts(db_url, [channels["b"]], 3, due=now - dt.timedelta(minutes=1))
    harness.add_posts(db_url, [channels["a"]], 2, due=now + dt.timedelta(hours=1))
    engine = database.make_engine(db_url)
    with engine.connect() as conn:
        assert sorted(claims.due_channel_rows(conn, now)) == sorted(channels.values())
    with Session(engine) as session:
        got = claims.claim_due(session, "me", now, LEASE, 3, channel_id=channels["a"])
        dues = [session.get(Post, i).due_at for i in got]
        assert dues == sorted(dues) and len(got) == 3
        assert {session.get(Post, i).channel_id for i in got} == {channels["a"]}
        rest = claims.claim_due(session, "me", now, LEASE, 100)
        assert len(rest) == 2 + 3  # the future posts are not due
        assert claims.next_due_at(session, after=now) == now + dt.timedelta(hours=1)
    engine.dispose()


def test_start_attempt_needs_the_lease(db_url: str) -> None:
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, list(channels.values()), 1)
    engine = database.make_engine(db_url)
    now = utcnow()
    with Session(engine) as session:
        (post_id,) = claims.claim_due(session, "old", now, dt.timedelta(seconds=-1), 10)
        # The lease ran out and another daemon took the post back...
        claims.recover_expired_leases(session, now, ["webhook"])
        (again,) = claims.claim_due(session, "new", now, LEASE, 10)
        assert again == post_id
        # ...so the first daemon must not send it.
        assert attempts.begin_attempt(session, post_id, "old", now, LEASE) is None
        started = attempts.begin_attempt(session, post_id, "new", now, LEASE)
        assert started is not None and started.attempts == 1
    assert _post(engine, post_id).attempts == 1
    engine.dispose()


@pytest.mark.parametrize("idempotent", [True, False])
def test_recovery_after_a_crash(db_url: str, idempotent: bool) -> None:
    """A daemon died: one post claimed but never started, one mid-send."""
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, list(channels.values()), 3)
    engine = database.make_engine(db_url)
    then = utcnow()
    with Session(engine) as session:
        idle, mid, healthy = claims.claim_due(session, "dead", then, LEASE, 10)
        attempts.start_attempt(session, mid, "dead", then, LEASE)
        claims.renew_leases(session, "dead", [healthy], then, dt.timedelta(hours=1))
        # Before the lease runs out nothing moves.
        assert claims.recover_expired_leases(session, then, ["webhook"]) == {
            "queued": 0,
            "unknown": 0,
        }
        later = then + LEASE + dt.timedelta(seconds=1)
        platforms = ["webhook"] if idempotent else []
        counts = claims.recover_expired_leases(session, later, platforms)
    assert _post(engine, idle).status == "queued"
    assert _post(engine, idle).last_error is None
    assert _post(engine, healthy).status == "sending"
    mid_post = _post(engine, mid)
    with Session(engine) as session:
        (attempt,) = session.execute(sa.select(Attempt).where(Attempt.post_id == mid)).scalars()
    if idempotent:
        assert counts == {"queued": 2, "unknown": 0}
        assert mid_post.status == "queued"
        assert "same idempotency key" in (mid_post.last_error or "")
        assert attempt.outcome == "lost"
    else:
        assert counts == {"queued": 1, "unknown": 1}
        assert mid_post.status == "unknown"
        assert "may have the post" in (mid_post.last_error or "")
        assert attempt.outcome == "unknown"
    assert mid_post.lease_owner is None
    engine.dispose()


def test_a_late_success_is_kept_even_after_the_lease_was_lost(db_url: str) -> None:
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, list(channels.values()), 1)
    engine = database.make_engine(db_url)
    now = utcnow()
    with Session(engine) as session:
        (post_id,) = claims.claim_due(session, "slow", now, dt.timedelta(seconds=1), 1)
        started = attempts.begin_attempt(session, post_id, "slow", now, dt.timedelta(seconds=1))
        assert started is not None
        claims.recover_expired_leases(session, now + dt.timedelta(seconds=5), ["webhook"])
        assert _post(engine, post_id).status == "queued"
        kept = attempts.finish(
            session,
            post_id,
            started.attempt_id,
            "slow",
            attempts.Outcome(PostStatus.sent, remote_id="r1"),
        )
    assert kept is False
    post = _post(engine, post_id)
    assert post.status == "sent" and post.remote_id == "r1"
    engine.dispose()


def test_missed_posts_are_marked_not_dropped(db_url: str) -> None:
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    strict = harness.add_channels(db_url, {"strict": "http://127.0.0.1:9/s"}, grace_seconds=60.0)
    now = utcnow()
    harness.add_posts(db_url, [channels["a"]], 1, due=now - dt.timedelta(hours=2))
    harness.add_posts(db_url, [channels["a"]], 1, due=now - dt.timedelta(minutes=10))
    harness.add_posts(db_url, [strict["strict"]], 1, due=now - dt.timedelta(minutes=10))
    # Two retries whose time passed while the daemon was down; the second
    # may already be on the platform, so it is sent again, not missed.
    harness.add_posts(db_url, [channels["a"]], 2, due=now - dt.timedelta(hours=3))
    engine = database.make_engine(db_url)
    with database.session_scope(engine) as session:
        session.execute(
            sa.update(Post)
            .where(Post.id.in_([4, 5]))
            .values(attempts=1, next_attempt_at=now - dt.timedelta(hours=2))
        )
        session.add(Attempt(post_id=5, owner="x", started_at=now, outcome="unsure"))
    with Session(engine) as session:
        missed = claims.mark_missed(session, now, 3600.0)
        statuses = dict(session.execute(sa.select(Post.id, Post.status)).all())
    assert sorted(i for i, _ in missed) == [1, 3, 4]
    assert statuses == {1: "missed", 2: "queued", 3: "missed", 4: "missed", 5: "queued"}
    for post_id, _ in missed:
        assert "not sent within" in (_post(engine, post_id).last_error or "")
    engine.dispose()


def test_retry_transient_waits_out_a_locked_database() -> None:
    calls = []

    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("UPDATE posts", {}, Exception("database is locked"))
        return "done"

    assert database.retry_transient(flaky, sleep=lambda s: None) == "done"
    assert len(calls) == 3

    def broken() -> None:
        raise OperationalError("SELECT", {}, Exception("no such table: posts"))

    with pytest.raises(OperationalError):
        database.retry_transient(broken, sleep=lambda s: None)


def test_recovery_asks_only_the_platforms_in_use(db_url: str) -> None:
    """Which platforms dedupe a resend is read from the queue's channels at
    every upkeep: one added later counts, and a platform whose adapter is not
    installed is never called safe."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange

    harness.add_channels(db_url, {"hook": "http://127.0.0.1:9/a"})
    harness.add_channels(db_url, {"tg": "http://127.0.0.1:9/b"}, platform="telegram")
    harness.add_channels(db_url, {"gone": "http://127.0.0.1:9/c"}, platform="uninstalled")
    engine = database.make_engine(db_url)
    exchange = Exchange(engine, load_settings(db=db_url), "me")
    with Session(engine) as session:
        assert exchange.idempotent_platforms(session) == ["webhook"]
    harness.add_channels(db_url, {"toot": "http://127.0.0.1:9/d"}, platform="mastodon")
    with Session(engine) as session:
        assert sorted(exchange.idempotent_platforms(session)) == ["mastodon", "webhook"]
    engine.dispose()


def test_upkeep_reports_every_missed_post_in_a_few_reads(db_url: str) -> None:
    """A daemon back after a long stop finds many posts missed: each one is
    reported with its own channel and text, read a chunk at a time (was one
    query per post)."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange

    ids = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"})
    harness.add_posts(db_url, [ids["a"], ids["b"]], 1_100, due=utcnow() - dt.timedelta(hours=3))
    engine = database.make_engine(db_url)
    reads: list[str] = []

    def count(conn, cursor, statement, params, context, many) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "channels.name" in statement:
            reads.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    events = Exchange(engine, load_settings(db=db_url), "me").upkeep(utcnow())
    sa.event.remove(engine, "before_cursor_execute", count)
    assert [e.post_id for e in events] == list(range(1, 1_101))
    assert {e.status for e in events} == {"missed"}
    for e in events[:3] + events[-3:]:
        assert e.text == f"post number {e.post_id - 1}"
        assert e.channel == ("a" if e.post_id % 2 else "b")
    assert 1 <= len(reads) <= 3  # 500 posts a read
    engine.dispose()


def test_a_missed_post_that_does_not_read_falls_back_alone(sqlite_url: str) -> None:
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange

    ids = harness.add_channels(sqlite_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(sqlite_url, [ids["a"]], 3, due=utcnow() - dt.timedelta(hours=3))
    engine = database.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE posts SET due_at = 'not a date' WHERE id = 2"))
    now = utcnow()
    with Session(engine) as session:
        events = Exchange(engine, load_settings(db=sqlite_url), "me")._upkeep_events(
            session, [1, 2, 3], now
        )
    assert [(e.post_id, e.channel) for e in events] == [(1, "a"), (2, "?"), (3, "a")]
    assert events[1].due_at == now and events[0].text == "post number 0"
    engine.dispose()


def _rows_read_from_posts(plan: dict) -> int:  # type: ignore[type-arg]
    """Rows the plan's scans of `posts` produced, summed over their loops."""
    own = plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)
    total = own if plan.get("Relation Name") == "posts" else 0
    return total + sum(_rows_read_from_posts(p) for p in plan.get("Plans", []))


@pytest.mark.parametrize("analyzed", [False, True])
def test_finding_due_channels_does_not_read_the_backlog_on_postgres(
    pg_url: str, analyzed: bool
) -> None:
    """Each pass asks which channels have a post due. With 2,000 due on one
    channel, PostgreSQL planned that as a scan of every due post (a pass's
    cost growing with the queue: 10,000 posts took twice the time); it must
    stay one short index scan a channel, with fresh statistics or stale."""
    ids = harness.add_channels(pg_url, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"})
    harness.add_posts(pg_url, [ids["a"]], 2_000, due=utcnow() - dt.timedelta(minutes=5))
    engine = database.make_engine(pg_url)
    if analyzed:
        with engine.connect() as conn:
            conn.execute(sa.text("ANALYZE posts"))
            conn.commit()
    compiled = claims._due_channel_rows_after_statement(False, "postgresql").compile(
        dialect=engine.dialect
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    params = {**compiled.params, "p_now": now, "p_after": 0, "p_limit": 20}
    with engine.connect() as conn:
        (plan,) = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, params
        ).scalar_one()
        found = claims.due_channel_rows_after(conn, utcnow(), 0, 20)
    assert [row[0] for row in found] == [ids["a"]]
    assert _rows_read_from_posts(plan["Plan"]) <= 2  # one post a channel probed
    engine.dispose()


def test_due_channels_found_either_way_are_the_same(db_url: str) -> None:
    """From the due posts or channel by channel, the same channels, in the
    same order: due ones only, not paused, not a retry still waiting, not
    expired. The daemon asks from the due posts when, at its last upkeep,
    fewer were due than there are channels (PostgreSQL)."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange

    now = utcnow()
    names = {f"c{i}": f"http://127.0.0.1:9/{i}" for i in range(8)}
    ids = harness.add_channels(db_url, names)
    paused = harness.add_channels(db_url, {"paused": "http://127.0.0.1:9/p"}, paused=True)
    harness.add_posts(db_url, list(ids.values()), 16, due=now + dt.timedelta(days=1))
    harness.add_posts(
        db_url, [ids["c1"], ids["c4"], ids["c6"]], 3, due=now - dt.timedelta(minutes=1)
    )
    harness.add_posts(db_url, [paused["paused"], ids["c2"], ids["c3"]], 3, due=now)
    engine = database.make_engine(db_url)
    with database.session_scope(engine) as session:
        waiting, expired = (
            session.execute(
                sa.select(Post.id)
                .where(Post.channel_id.in_([ids["c2"], ids["c3"]]))
                .where(Post.due_at <= now)
                .order_by(Post.channel_id)
            )
            .scalars()
            .all()
        )
        session.execute(
            sa.update(Post)
            .where(Post.id == waiting)
            .values(next_attempt_at=now + dt.timedelta(hours=1))
        )
        session.execute(
            sa.update(Post)
            .where(Post.id == expired)
            .values(expires_at=now - dt.timedelta(seconds=1))
        )
    due = [ids["c1"], ids["c4"], ids["c6"]]
    with engine.connect() as conn:
        for by_post in (False, True):
            rows = claims.due_channel_rows_after(conn, now, 0, 20, by_post=by_post)
            assert [row[0] for row in rows] == due
            rows = claims.due_channel_rows_after(
                conn, now, ids["c1"], 20, ids["c4"], by_post=by_post
            )
            assert [row[0] for row in rows] == [ids["c4"]]
    with Session(engine) as session:
        # 3 due, 8 channels not paused: fewer due than channels.
        assert claims.fewer_due_than_channels(session, now)
    harness.add_posts(db_url, [ids["c0"]], 10, due=now - dt.timedelta(minutes=1))
    with Session(engine) as session:
        assert not claims.fewer_due_than_channels(session, now)
    exchange = Exchange(engine, load_settings(db=db_url), "me")
    exchange.upkeep(now)
    # Only PostgreSQL switches; SQLite's EXISTS already looks channel by channel.
    assert exchange._by_post is False
    engine.dispose()


def test_many_idle_channels_are_not_probed_one_by_one_on_postgres(pg_url: str) -> None:
    """300 channels with only future posts and one with 3 due: after an
    upkeep the daemon finds the due channel from the due posts, without an
    index probe of each idle channel."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange

    now = utcnow()
    ids = harness.add_channels(pg_url, {f"c{i}": "http://127.0.0.1:9/x" for i in range(301)})
    harness.add_posts(pg_url, list(ids.values()), 602, due=now + dt.timedelta(days=1))
    harness.add_posts(pg_url, [ids["c150"]], 3, due=now - dt.timedelta(minutes=1))
    engine = database.make_engine(pg_url)
    exchange = Exchange(engine, load_settings(db=pg_url), "me")
    assert exchange._by_post is False
    exchange.upkeep(now)
    assert exchange._by_post is True
    compiled = claims._due_channel_rows_after_statement(False, "postgresql", True).compile(
        dialect=engine.dialect
    )
    params = {
        **compiled.params,
        "p_now": now.replace(tzinfo=None),
        "p_after": 0,
        "p_limit": 20,
    }
    with engine.connect() as conn:
        (plan,) = conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, FORMAT JSON) " + compiled.string, params
        ).scalar_one()
    # The 3 due posts, not one probe per channel (300 loops of the posts scan).
    assert _rows_read_from_posts(plan["Plan"]) <= 10
    assert _loops_over_posts(plan["Plan"]) <= 2
    engine.dispose()


def _loops_over_posts(plan: dict) -> int:  # type: ignore[type-arg]
    own = plan.get("Actual Loops", 1) if plan.get("Relation Name") == "posts" else 0
    return max([own, *(_loops_over_posts(p) for p in plan.get("Plans", []))])


def _died_mid_send(url: str, count: int) -> tuple[sa.Engine, dt.datetime, list[int]]:
    """`count` posts on a platform that does not dedupe, claimed by a daemon
    that died after its first post's attempt had begun."""
    ids = harness.add_channels(url, {"tg": "http://127.0.0.1:9/a"}, platform="telegram")
    harness.add_posts(url, [ids["tg"]], count)
    engine = database.make_engine(url)
    then = utcnow()
    with Session(engine) as session:
        claimed = list(claims.claim_due(session, "dead", then, LEASE, 10))
        attempts.start_attempt(session, claimed[0], "dead", then, LEASE)
    return engine, then, claimed


def test_a_post_a_dead_daemon_left_unknown_is_told(db_url: str) -> None:
    """A daemon died mid-send on a platform that does not dedupe: the upkeep
    that takes its posts back says which ones are now `unknown` (someone has
    to look on the platform), on the output and in a notice written in the
    same transaction, and says nothing of the post that simply went back."""
    from scheduler.config import load_settings
    from scheduler.delivery.exchange import Exchange
    from scheduler.storage.models import Notification

    engine, then, (mid, idle) = _died_mid_send(db_url, 2)
    settings = load_settings(db=db_url, notify_urls=["json://127.0.0.1:9/alerts"])
    events = Exchange(engine, settings, "me").upkeep(then + LEASE + dt.timedelta(seconds=1))
    assert [(e.post_id, e.status, e.channel) for e in events] == [(mid, "unknown", "tg")]
    assert events[0].error == claims.LOST_UNSAFE and events[0].text == "post number 0"
    with Session(engine) as session:
        told = session.execute(sa.select(Notification.event, Notification.post_id)).all()
        assert _post(engine, idle).status == "queued"
    assert [tuple(t) for t in told] == [("unknown", mid)]
    engine.dispose()


def test_recovery_writes_what_tells_of_unknown_posts_with_them(db_url: str) -> None:
    """What `tell` writes lands in the recovery's own transaction: if it
    fails, the posts stay as they were, to be taken back at the next try."""
    engine, then, (mid,) = _died_mid_send(db_url, 1)
    told: list[list[int]] = []

    def tell(session: Session, post_ids: list[int]) -> None:
        told.append(post_ids)
        raise RuntimeError("the notice could not be written")

    later = then + LEASE + dt.timedelta(seconds=1)
    with Session(engine) as session, pytest.raises(RuntimeError):
        claims.recover_expired_leases(session, later, [], tell=tell)
    assert told == [[mid]]
    assert _post(engine, mid).status == "sending"
    with Session(engine) as session:
        assert claims.recover_expired_leases(session, later, [], tell=lambda s, i: None) == {
            "queued": 0,
            "unknown": 1,
        }
    assert _post(engine, mid).status == "unknown"
    engine.dispose()


@pytest.mark.postgres
def test_a_large_enqueue_on_postgresql_leaves_the_table_analysed(pg_url: str) -> None:
    """Statistics from before a bulk enqueue made PostgreSQL walk every queued
    post of a channel at each upkeep; `enqueue_many` through an engine
    analyses the table once it has written as many rows as `ANALYZE_AT`."""
    from scheduler.planning.bulk import ANALYZE_AT, enqueue_many

    ids = harness.add_channels(pg_url, {"a": "http://127.0.0.1:9/a", "b": "http://127.0.0.1:9/b"})
    engine = database.make_engine(pg_url)
    due = utcnow() + dt.timedelta(days=1)

    def estimated() -> float:
        with engine.connect() as conn:
            return conn.execute(
                sa.text("SELECT reltuples FROM pg_class WHERE relname = 'posts'")
            ).scalar_one()

    enqueue_many(engine, ids["a"], [(f"small {i}", due) for i in range(10)])
    assert estimated() < 10  # below the threshold: left to autovacuum
    enqueue_many(engine, ids["b"], [(f"large {i}", due) for i in range(ANALYZE_AT)])
    assert estimated() >= ANALYZE_AT
    engine.dispose()


def test_a_channel_converted_from_the_due_look_reads_as_its_query(db_url: str) -> None:
    """The daemon converts a channel's row from the values the due look read
    (on SQLite); it must come out as reading the row again does, and a value
    that no longer reads must still raise."""
    channels = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, list(channels.values()), 1)
    engine = database.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE channels SET paused = :f, grace_seconds = 90.5, review = :t,"
                " recurring = :r, created_at = :c"
            ),
            {"f": False, "t": True, "r": '{"weekly": ["mon"]}', "c": "2026-11-02 08:30:00"},
        )
    with engine.connect() as conn:
        (stored,) = claims.due_channel_rows(conn, utcnow()).values()
        converters = claims.channel_converters(conn.dialect)
        queried = claims.channel_row(conn, stored[0], stored, None)
        if conn.dialect.name != "sqlite":
            assert converters is None
        else:
            converted = claims.channel_row(conn, stored[0], stored, converters)
            assert converted == queried
            assert converted["review"] is True and converted["recurring"] == {"weekly": ["mon"]}
            assert converted["created_at"] == dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
            broken = list(stored)
            broken[[k for k, _ in converters].index("options")] = "{not json"
            with pytest.raises(ValueError):
                claims.channel_row(conn, stored[0], broken, converters)
    engine.dispose()


@pytest.mark.postgres
def test_stale_statistics_are_refreshed_by_the_upkeep(pg_url: str) -> None:
    """Statistics taken while every post was queued make PostgreSQL claim
    through the due-time index and walk every sent post; once many rows have
    changed, the daemon's upkeep analyses the table itself."""
    channels = harness.add_channels(pg_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(pg_url, list(channels.values()), 1_200)
    engine = database.make_engine(pg_url)

    def stats() -> tuple[int, object]:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")
            return tuple(  # type: ignore[return-value]
                conn.exec_driver_sql(
                    "SELECT n_mod_since_analyze, last_analyze FROM pg_stat_user_tables"
                    " WHERE relname = 'posts'"
                ).one()
            )

    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE posts")
    analysed = stats()[1]
    assert not claims.refresh_statistics(engine)  # nothing changed since
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE posts SET status = 'sent' WHERE id <= 1100")
    # The server's statistics arrive a moment later: wait for them by count.
    for _ in range(200):
        if stats()[0] >= claims.ANALYZE_CHANGES:
            break
        threading.Event().wait(0.05)
    assert claims.refresh_statistics(engine)
    changed, last = stats()
    assert changed == 0 and last != analysed
    engine.dispose()
