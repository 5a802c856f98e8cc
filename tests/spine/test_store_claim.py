"""Claiming on a real SQLite file: every due post goes to exactly one claimer,
leases expire back to the queue, and the state machine refuses bad moves."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlmodel import Session, select

from scheduler.delivery import attempts, claims
from scheduler.desk import posts
from scheduler.planning.plan import new_post
from scheduler.storage import database, migrations
from scheduler.storage.models import Attempt, Channel, Post, PostStatus, can_move


@pytest.fixture
def engine(db_url):
    engine = database.make_engine(db_url)
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


def _channel(session: Session, name: str = "box", platform: str = "outbox") -> Channel:
    channel = Channel(name=name, platform=platform, options={})
    session.add(channel)
    session.commit()
    return channel


def _queue(engine, count: int, due: dt.datetime, platform: str = "outbox") -> list[int]:
    with database.session_scope(engine) as session:
        channel = _channel(session, platform=platform)
        posts = [new_post(channel, f"post {i}", due) for i in range(count)]
        session.add_all(posts)
        session.flush()
        return [p.id for p in posts]


def test_concurrent_claimers_never_share_a_post(engine):
    now = dt.datetime.now(dt.UTC)
    ids = _queue(engine, 300, now - dt.timedelta(minutes=1))
    claimed: dict[str, list[int]] = {}

    def claimer(owner: str) -> None:
        got: list[int] = []
        while True:
            with Session(engine) as session:
                batch = claims.claim_due(session, owner, now, dt.timedelta(minutes=5), limit=7)
            if not batch:
                break
            got.extend(batch)
        claimed[owner] = got

    threads = [threading.Thread(target=claimer, args=(f"d{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for got in claimed.values() for i in got]
    assert sorted(every) == sorted(ids)
    assert len(every) == len(set(every))
    with Session(engine) as session:
        owners = {p.id: p.lease_owner for p in session.exec(select(Post))}
    for owner, got in claimed.items():
        assert all(owners[i] == owner for i in got)


def test_future_posts_are_not_claimed(engine):
    now = dt.datetime.now(dt.UTC)
    _queue(engine, 3, now + dt.timedelta(hours=1))
    with Session(engine) as session:
        assert claims.claim_due(session, "d", now, dt.timedelta(minutes=1)) == []
        assert claims.next_due_at(session) == now + dt.timedelta(hours=1)


def test_expired_lease_returns_to_queue_or_becomes_unknown(engine):
    now = dt.datetime.now(dt.UTC)
    with database.session_scope(engine) as session:
        safe = _channel(session, "safe", "outbox")  # dedupes: resend is safe
        risky = _channel(session, "risky", "outbox")
        risky.platform = "no-such-idempotent-platform"
        session.add(risky)
        posts = [new_post(safe, "a", now), new_post(risky, "b", now), new_post(risky, "c", now)]
        session.add_all(posts)
    with Session(engine) as session:
        ids = claims.claim_due(session, "dead", now, dt.timedelta(seconds=1))
        assert len(ids) == 3
        # The daemon started sending a and b, then died; c was claimed but never started.
        attempts.start_attempt(session, posts[0].id, "dead")
        attempts.start_attempt(session, posts[1].id, "dead")
    later = now + dt.timedelta(seconds=5)
    with Session(engine) as session:
        counts = claims.recover_expired_leases(session, later, ["outbox"])
        status = {p.id: p.status for p in session.exec(select(Post))}
        rows = session.exec(select(Attempt)).all()
    assert counts == {"queued": 2, "unknown": 1}
    assert status == {posts[0].id: "queued", posts[1].id: "unknown", posts[2].id: "queued"}
    assert all(a.outcome is not None for a in rows)


def test_finish_refuses_when_the_lease_was_lost(engine):
    now = dt.datetime.now(dt.UTC)
    (post_id,) = _queue(engine, 1, now)
    with Session(engine) as session:
        claims.claim_due(session, "first", now, dt.timedelta(seconds=1))
        attempt = attempts.start_attempt(session, post_id, "first")
        claims.recover_expired_leases(session, now + dt.timedelta(seconds=2), ["outbox"])
        claims.claim_due(session, "second", now + dt.timedelta(seconds=2), dt.timedelta(minutes=1))
        kept = attempts.finish(
            session, post_id, attempt, "first", attempts.Outcome(PostStatus.sent)
        )
        assert kept is False
        assert session.get(Post, post_id).lease_owner == "second"


def test_state_machine():
    assert can_move("queued", "sending")
    assert can_move("sending", "sent")
    assert can_move("unknown", "sent")
    assert not can_move("sent", "queued")
    assert not can_move("cancelled", "sent")
    assert not can_move("draft", "sent")


def test_paging_is_stable_in_send_order(engine):
    now = dt.datetime.now(dt.UTC)
    with database.session_scope(engine) as session:
        channel = _channel(session)
        for i in range(25):
            session.add(new_post(channel, f"p{i}", now + dt.timedelta(minutes=i % 5)))
    seen = []
    after = None
    with Session(engine) as session:
        while True:
            page = posts.page_posts(session, limit=10, after=after)
            seen.extend((p.due_at, p.id) for p in page)
            if len(page) < 10:
                break
            after = (page[-1].due_at, page[-1].id)
    assert len(seen) == 25
    assert seen == sorted(seen)
