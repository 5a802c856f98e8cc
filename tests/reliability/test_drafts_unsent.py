"""Nothing sends a draft: every path by which a daemon takes posts (the claim,
the per-channel claim of the send loop, the wake-up time, the catching-up count,
the missed sweep) passes over drafts and rejected posts, and an edit racing a
claim loses cleanly, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from scheduler.delivery import attempts, claims
from scheduler.desk import editing
from scheduler.errors import PlanningError
from scheduler.storage import database
from scheduler.storage.models import Post, PostStatus, utcnow

from . import harness

LEASE = dt.timedelta(seconds=30)


def test_drafts_and_rejected_posts_are_never_claimed(db_url: str) -> None:
    ids = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, [ids["a"]], 6, due=utcnow() - dt.timedelta(minutes=5))
    engine = database.make_engine(db_url)
    try:
        with database.session_scope(engine) as session:
            all_ids = list(session.execute(sa.select(Post.id).order_by(Post.id)).scalars())
            for post_id, status in zip(
                all_ids, ["draft", "draft", "rejected", "draft"], strict=False
            ):
                session.execute(sa.update(Post).where(Post.id == post_id).values(status=status))
        queued = all_ids[4:]
        now = utcnow()
        with Session(engine) as session:
            assert claims.count_due(session, now) == len(queued)
            # The earliest queued post, not an earlier draft, sets the wake-up.
            wake = claims.next_due_at(session)
            first_queued = session.get(Post, queued[0])
            assert first_queued is not None and wake == first_queued.due_at
        with engine.connect() as conn:
            got = attempts.claim_and_begin(conn, "d1", now, LEASE, 100, ids["a"])
            conn.rollback()
        assert sorted(c.id for c in got) == queued  # type: ignore[union-attr]
        with Session(engine) as session:
            assert sorted(claims.claim_due(session, "d1", now, LEASE, 100)) == queued
        # Long past any grace period: queued posts may be missed, drafts stay drafts
        # (approving one later moves it to a free slot).
        with Session(engine) as session:
            claims.mark_missed(session, now + dt.timedelta(days=30), 60.0)
            statuses = dict(session.execute(sa.select(Post.id, Post.status)).all())
        assert [statuses[i] for i in all_ids[:4]] == ["draft", "draft", "rejected", "draft"]
        assert all(statuses[i] == PostStatus.sending.value for i in queued)
    finally:
        engine.dispose()


def test_an_edit_racing_a_claim_loses_cleanly(db_url: str, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A daemon that claims the post between the edit's read and its write
    wins: the edit is refused and the words and key being sent stay."""
    ids = harness.add_channels(db_url, {"a": "http://127.0.0.1:9/a"})
    harness.add_posts(db_url, [ids["a"]], 1, due=utcnow() - dt.timedelta(seconds=5))
    engine = database.make_engine(db_url)
    real_count = editing.count

    def count_while_a_daemon_claims(*args, **kwargs):  # type: ignore[no-untyped-def]
        with Session(engine) as other:
            assert len(claims.claim_due(other, "d1", utcnow(), LEASE, 10)) == 1
        return real_count(*args, **kwargs)

    monkeypatch.setattr(editing, "count", count_while_a_daemon_claims)
    try:
        with Session(engine) as session:
            post_id, key = session.execute(sa.select(Post.id, Post.idempotency_key)).one()
        with (
            pytest.raises(PlanningError, match="changed meanwhile"),
            database.session_scope(engine) as session,
        ):
            editing.edit_post(session, post_id, text="other words")
        with Session(engine) as session:
            post = session.get(Post, post_id)
            assert post is not None
            assert (post.status, post.text, post.idempotency_key) == (
                PostStatus.sending.value,
                "post number 0",
                key,
            )
    finally:
        engine.dispose()
