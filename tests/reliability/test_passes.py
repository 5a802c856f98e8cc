"""A daemon pass writes several sends at once: the outcomes that came in, the
claims, and the claimed posts' attempts, in one transaction. These tests hold
the batched writes to the exact rules of the one-post ones, and check that one
row or outcome the database refuses cannot hold back the rest."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session

from scheduler.delivery import attempts, claims
from scheduler.delivery.attempts import Finished, Outcome
from scheduler.planning.expiry import expire_due
from scheduler.storage import database
from scheduler.storage.models import PostStatus, utcnow

from . import harness
from .sink import Sink
from .test_dispatch import posts, run, settings

LEASE = dt.timedelta(seconds=60)


def _queue(url: str, count: int) -> tuple[sa.Engine, int]:
    """An engine on `url` with one channel holding `count` posts due now."""
    (channel,) = harness.add_channels(url, {"a": "http://127.0.0.1:9/a"}).values()
    harness.add_posts(url, [channel], count)
    return database.make_engine(url), channel


def _rows(engine: sa.Engine, table: str) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).mappings()
        ]


def test_claim_and_begin_counts_the_attempt_and_fail_unsent_gives_it_back(db_url: str) -> None:
    engine, channel = _queue(db_url, 3)
    now = utcnow()
    with engine.connect() as conn:
        first, second = attempts.claim_and_begin(conn, "me", now, LEASE, 2, channel)
        assert isinstance(first, attempts.Claimed) and isinstance(second, attempts.Claimed)
        assert (first.attempts, second.attempts) == (1, 1)
        assert first.due_at.tzinfo is not None
        attempts.fail_unsent(conn, "me", [(second.id, "cannot prepare the post: no\x00")])
        ids = attempts.insert_attempts(conn, "me", [first.id], now)
        conn.commit()
    by_id = {p.id: p for p in posts(db_url)}
    assert by_id[first.id].status == "sending" and by_id[first.id].attempts == 1
    # Nothing left for the second post: failed, its attempt taken back, no attempt row.
    assert by_id[second.id].status == "failed" and by_id[second.id].attempts == 0
    assert by_id[second.id].last_error == "cannot prepare the post: no"
    assert by_id[second.id].lease_owner is None
    assert by_id[3].status == "queued"
    assert [(a["id"], a["post_id"]) for a in _rows(engine, "attempts")] == [
        (ids[first.id], first.id)
    ]
    engine.dispose()


def test_outcomes_of_every_kind_are_recorded_together_and_a_lost_lease_exactly(
    db_url: str,
) -> None:
    engine, channel = _queue(db_url, 4)
    now = utcnow()
    with engine.connect() as conn:
        claimed = attempts.claim_and_begin(conn, "me", now, LEASE, 4, channel)
        ids = [c.id for c in claimed if isinstance(c, attempts.Claimed)]
        attempt_of = attempts.insert_attempts(conn, "me", ids, now)
        conn.commit()
    sent, retry, failed, lost = ids
    # The last post's lease ran out (a stalled daemon) and it went back to the queue.
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE posts SET lease_expires_at = :t WHERE id = :i"),
            {"t": (now - dt.timedelta(seconds=1)).replace(tzinfo=None), "i": lost},
        )
    with Session(engine) as session:
        assert claims.recover_expired_leases(session, now, ["webhook"])["queued"] == 1
    later = now + dt.timedelta(minutes=5)
    outcomes = {
        sent: Outcome(PostStatus.sent, remote_id="r-sent"),
        retry: Outcome(PostStatus.queued, "HTTP 503", 503, next_attempt_at=later),
        failed: Outcome(PostStatus.failed, "HTTP 400", 400),
        lost: Outcome(PostStatus.sent, remote_id="r-lost"),
    }
    with engine.connect() as conn:
        kept = attempts.finish_many(
            conn, "me", [Finished(i, attempt_of[i], outcomes[i]) for i in ids]
        )
    assert kept == {sent, retry, failed}
    by_id = {p.id: p for p in posts(db_url)}
    assert by_id[sent].status == "sent" and by_id[sent].remote_id == "r-sent"
    assert by_id[retry].status == "queued" and by_id[retry].last_error == "HTTP 503"
    assert by_id[retry].next_attempt_at == later
    assert by_id[failed].status == "failed" and by_id[failed].remote_id is None
    # Sent after its lease was lost, and still queued: marked sent, not sent again.
    assert by_id[lost].status == "sent" and by_id[lost].remote_id == "r-lost"
    assert all(by_id[i].lease_owner is None for i in ids)
    outcome_of = {a["post_id"]: a["outcome"] for a in _rows(engine, "attempts")}
    assert outcome_of == {sent: "sent", retry: "retry", failed: "failed", lost: "sent"}
    engine.dispose()


def test_an_outcome_the_database_refuses_does_not_hold_back_the_others(
    sqlite_url: str, sink: Sink
) -> None:
    (channel,) = harness.add_channels(sqlite_url, {"a": f"{sink.base}/ok"}).values()
    harness.add_posts(sqlite_url, [channel], 4)
    engine = database.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TRIGGER refuse BEFORE UPDATE ON posts "
                "WHEN NEW.id = 2 AND NEW.status = 'sent' "
                "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )
        )
    engine.dispose()
    events = asyncio.run(run(sqlite_url, settings(sqlite_url)))
    assert sorted((e.post_id, e.status) for e in events) == [(1, "sent"), (3, "sent"), (4, "sent")]
    by_id = {p.id: p for p in posts(sqlite_url)}
    assert [by_id[i].status for i in (1, 3, 4)] == ["sent"] * 3
    # Still leased to the daemon: once the lease runs out it is recovered like a crash.
    assert by_id[2].status == "sending" and by_id[2].lease_owner is not None
    assert set(sink.snapshot().published.values()) == {1, 2, 3, 4}


def test_a_channel_row_that_no_longer_reads_fails_its_posts_alone(
    sqlite_url: str, sink: Sink
) -> None:
    ids = harness.add_channels(sqlite_url, {"good": f"{sink.base}/ok", "bad": f"{sink.base}/ok"})
    harness.add_posts(sqlite_url, list(ids.values()), 6)
    engine = database.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE channels SET options = 'not json {' WHERE id = :i"), {"i": ids["bad"]}
        )
    engine.dispose()
    asyncio.run(run(sqlite_url, settings(sqlite_url)))
    for post in posts(sqlite_url):
        if post.channel_id == ids["good"]:
            assert post.status == "sent"
        else:
            assert post.status == "failed" and post.attempts == 0
            assert f"cannot read post {post.id} or its channel" in (post.last_error or "")


def _plans(engine: sa.Engine, work: object) -> list[str]:
    """The SQLite query plan of every statement `work(conn)` runs (rolled back)."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    with engine.connect() as conn:
        event.listen(engine, "before_cursor_execute", capture)
        try:
            work(conn)  # type: ignore[operator]
        finally:
            event.remove(engine, "before_cursor_execute", capture)
            conn.rollback()
        return [
            " / ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in seen
        ]


def test_sqlite_claims_and_expiry_checks_seek_instead_of_walking_the_queue(
    sqlite_url: str,
) -> None:
    engine, channel = _queue(sqlite_url, 50)
    now = utcnow()
    (claim,) = _plans(engine, lambda c: attempts.claim_and_begin(c, "me", now, LEASE, 4, channel))
    (plain,) = _plans(engine, lambda c: claims.claim_due(c, "me", now, LEASE, 4))

    def expire(conn: sa.Connection) -> None:
        with Session(bind=conn) as session:
            expire_due(session, now)

    (expiry,) = _plans(engine, expire)
    engine.dispose()
    for plan in (claim, plain):
        # The UPDATE finds the picked posts by id, not by testing every queued post.
        assert plan.startswith("SEARCH posts USING INTEGER PRIMARY KEY"), plan
    assert "ix_posts_expiry" in expiry, expiry


def test_attempt_rows_for_a_large_pass_are_written_in_chunks(db_url: str) -> None:
    channels = harness.add_channels(db_url, {f"c{i}": "http://127.0.0.1:9/" for i in range(3)})
    harness.add_posts(db_url, list(channels.values()), 250)
    engine = database.make_engine(db_url)
    now = utcnow()
    with engine.connect() as conn:
        claimed = [
            c.id
            for channel in channels.values()
            for c in attempts.claim_and_begin(conn, "me", now, LEASE, 100, channel)
            if isinstance(c, attempts.Claimed)
        ]
        ids = attempts.insert_attempts(conn, "me", claimed, now)
        conn.commit()
    assert len(claimed) == 250 and sorted(ids) == sorted(claimed)
    rows = _rows(engine, "attempts")
    assert {r["post_id"]: r["id"] for r in rows} == ids
    engine.dispose()


def test_a_pass_over_posts_that_quote_no_source_runs_no_watch_lookup(db_url: str) -> None:
    """The source-watch lookup (articles and quotes) runs only for claimed
    quote posts of an article; a pass of plain posts has one statement fewer,
    and one of them turned into a quote post of an article brings it back."""
    from scheduler.delivery.exchange import Exchange

    engine, _channel = _queue(db_url, 6)
    exchange = Exchange(engine, settings(db_url), "me")
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    first = exchange.run([], utcnow(), lambda _c: 3)
    assert len(first.started) == 3 and all(f.watch is None for f in first.started)
    assert not [s for s in seen if "quotes" in s], seen
    from scheduler.storage.models import Article

    with Session(engine) as session:
        story = Article(content_hash="h" * 64, source="url", url="http://127.0.0.1:9/s", text="x")
        session.add(story)
        session.commit()
        article = story.id
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE posts SET source_kind = 'quote', article_id = :a WHERE status = 'queued'"
            ),
            {"a": article},
        )
    seen.clear()
    exchange.run([], utcnow(), lambda _c: 3)
    exchange.release()
    assert [s for s in seen if "quotes" in s], seen
    engine.dispose()
