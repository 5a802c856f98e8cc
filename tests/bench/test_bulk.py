"""scheduler.planning.bulk.enqueue_many: what it writes must read back exactly like posts
made one at a time (types, times, keys), and bad rows must keep nothing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.delivery import claims
from scheduler.desk.posts import page_posts
from scheduler.errors import NotFoundError, PlanningError
from scheduler.planning.bulk import PostRow, enqueue_many
from scheduler.planning.plan import new_post
from scheduler.storage import database, migrations
from scheduler.storage.models import Channel, Post, PostStatus


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = database.make_engine(f"sqlite:///{tmp_path / 'bulk.db'}")
    migrations.upgrade(engine)
    return engine


@pytest.fixture
def channel(engine: sa.Engine) -> Channel:
    with database.session_scope(engine) as session:
        ch = Channel(name="hook", platform="webhook", options={"url": "http://127.0.0.1:9/"})
        session.add(ch)
        session.flush()
        return ch


def posts(engine: sa.Engine) -> list[Post]:
    with Session(engine) as session:
        return list(session.exec(select(Post).order_by(Post.id)))


def test_rows_read_back_like_single_posts(engine: sa.Engine, channel: Channel) -> None:
    paris = ZoneInfo("Europe/Paris")
    due = dt.datetime(2031, 3, 30, 3, 30, tzinfo=paris)  # just after the DST jump
    count = enqueue_many(
        engine,
        channel,
        [
            ("  first  ", dt.datetime(2031, 1, 1, 12, 0, tzinfo=dt.UTC)),
            {"text": "second", "due_at": due, "link": "https://example.org/a"},
            PostRow(
                "third",
                dt.datetime(2031, 1, 1, 12, 0, 0, 5, tzinfo=dt.UTC),
                status="draft",
                template="quote",
                source_kind="quote",
                source_id=7,
            ),
        ],
    )
    assert count == 3
    first, second, third = posts(engine)
    assert first.text == "first"
    assert first.status == PostStatus.queued.value
    assert first.due_at == dt.datetime(2031, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert first.attempts == 0 and first.lease_owner is None and first.sent_at is None
    assert second.due_at == due.astimezone(dt.UTC)
    assert second.link == "https://example.org/a"
    assert (third.status, third.template, third.source_kind, third.source_id) == (
        "draft",
        "quote",
        "quote",
        7,
    )
    keys = {p.idempotency_key for p in (first, second, third)}
    assert len(keys) == 3 and all(len(k) == 32 for k in keys)
    assert first.created_at.tzinfo is not None


def test_expiry_and_reason(engine: sa.Engine, channel: Channel) -> None:
    due = dt.datetime(2031, 1, 1, 9, tzinfo=dt.UTC)
    until = dt.datetime(2031, 1, 1, 12, tzinfo=ZoneInfo("Europe/Paris"))
    enqueue_many(
        engine,
        channel,
        [PostRow("a", due, expires_at=until, reason="countdown"), ("b", due)],
    )
    first, second = posts(engine)
    assert first.expires_at == until.astimezone(dt.UTC)
    assert first.reason == "countdown"
    assert second.expires_at is None and second.reason is None
    with pytest.raises(PlanningError, match="expires_at"):
        enqueue_many(engine, channel, [PostRow("c", due, expires_at=dt.datetime(2031, 1, 2))])


def test_stored_times_compare_like_orm_written_ones(engine: sa.Engine, channel: Channel) -> None:
    """Same text format as the ORM writes, so keyset paging and claims that
    compare times in SQL see bulk and single posts alike."""
    when = dt.datetime(2031, 5, 1, 9, 0, tzinfo=dt.UTC)  # whole second: no microseconds
    enqueue_many(engine, channel, [("bulk", when)])
    with database.session_scope(engine) as session:
        session.add(new_post(channel, "single", when))
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT text, due_at FROM posts ORDER BY id")).all()
    assert stored[0][1] == stored[1][1]
    with Session(engine) as session:
        page = page_posts(session, after=(when, 0))
    assert [p.text for p in page] == ["bulk", "single"]


def test_due_posts_are_claimed(engine: sa.Engine, channel: Channel) -> None:
    now = dt.datetime.now(dt.UTC)
    enqueue_many(
        engine, channel.id or 0, [(f"p{i}", now - dt.timedelta(seconds=i)) for i in range(5)]
    )
    enqueue_many(engine, channel, [("later", now + dt.timedelta(hours=1))])
    with Session(engine) as session:
        ids = claims.claim_due(session, "me", now, dt.timedelta(minutes=1), limit=10)
    assert len(ids) == 5


def test_caller_keys_are_kept_and_must_be_unique(engine: sa.Engine, channel: Channel) -> None:
    due = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    enqueue_many(engine, channel, [{"text": "a", "due_at": due, "idempotency_key": "import-1"}])
    assert posts(engine)[0].idempotency_key == "import-1"
    with pytest.raises(sa.exc.IntegrityError):
        enqueue_many(engine, channel, [{"text": "b", "due_at": due, "idempotency_key": "import-1"}])
    assert len(posts(engine)) == 1


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (("text", dt.datetime(2031, 1, 1)), "has no time zone"),
        (("   ", dt.datetime(2031, 1, 1, tzinfo=dt.UTC)), "needs some text"),
        (("text", "2031-01-01"), "must be a datetime"),
        (
            {"text": "t", "due_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC), "status": "sent"},
            "queued or draft",
        ),
        (
            {
                "text": "t",
                "due_at": dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
                "idempotency_key": "x" * 65,
            },
            "1 to 64",
        ),
        (("only text",), "expected (text, due_at)"),
        (42, "expected a PostRow"),
    ],
)
def test_a_bad_row_keeps_nothing(engine: sa.Engine, channel: Channel, row, message) -> None:  # type: ignore[no-untyped-def]
    good = ("good", dt.datetime(2031, 1, 1, tzinfo=dt.UTC))
    with pytest.raises(
        PlanningError, match="row 1: .*" + message.replace("(", r"\(").replace(")", r"\)")
    ):
        enqueue_many(engine, channel, [good, row], chunk=1)
    assert posts(engine) == []


def test_session_target_joins_the_callers_transaction(engine: sa.Engine, channel: Channel) -> None:
    due = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    with Session(engine) as session:
        assert enqueue_many(session, channel, [("a", due), ("b", due)]) == 2
        session.rollback()
    assert posts(engine) == []
    with Session(engine) as session:
        enqueue_many(session, channel, [("a", due)])
        session.commit()
    assert len(posts(engine)) == 1


def test_chunks_and_generators(engine: sa.Engine, channel: Channel) -> None:
    due = dt.datetime(2031, 1, 1, tzinfo=dt.UTC)
    count = enqueue_many(engine, channel, ((f"p{i}", due) for i in range(2500)), chunk=1000)
    assert count == 2500
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("SELECT count(DISTINCT idempotency_key) FROM posts")).scalar()
            == 2500
        )


def test_unknown_channel(engine: sa.Engine) -> None:
    with pytest.raises(NotFoundError):
        enqueue_many(engine, 999, [("a", dt.datetime(2031, 1, 1, tzinfo=dt.UTC))])


def test_core_path_for_other_dialects(engine: sa.Engine, channel: Channel, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The generic Core executemany path (PostgreSQL) writes the same rows."""
    from scheduler.planning import bulk

    real = bulk._writer

    def generic(conn, channel_id):  # type: ignore[no-untyped-def]
        monkeypatch.setattr(conn.dialect, "name", "other")
        try:
            return real(conn, channel_id)
        finally:
            monkeypatch.setattr(conn.dialect, "name", "sqlite")

    monkeypatch.setattr(bulk, "_writer", generic)
    due = dt.datetime(2031, 1, 1, 8, 0, tzinfo=dt.UTC)
    enqueue_many(engine, channel, [("core", due)])
    (post,) = posts(engine)
    assert (post.text, post.due_at, post.status) == ("core", due, "queued")
