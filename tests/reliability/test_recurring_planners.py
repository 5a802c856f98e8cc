"""Recurring planners running at once on one PostgreSQL take turns, so a slot is
never filled twice."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from scheduler.compose import make_environment
from scheduler.planning.recurring import plan_recurring
from scheduler.storage import database
from scheduler.storage.models import Article, Channel, Post, Quote

pytestmark = pytest.mark.postgres


def test_second_planner_waits_for_the_first_and_adds_nothing(pg_url):
    engine = database.make_engine(pg_url)
    with database.session_scope(engine) as session:
        article = Article(content_hash="h" * 64, source="a.txt", text='"Keep going," Ada said.')
        session.add(article)
        session.flush()
        session.add(
            Quote(
                article_id=article.id,
                text="Keep going,",
                speaker="Ada Brun",
                start=1,
                end=12,
                category="grit",
            )
        )
        session.add(
            Channel(
                name="box",
                platform="outbox",
                options={},
                recurring={
                    "evergreen": [
                        {
                            "category": "grit",
                            "slots": "mon-sun 06:00,18:00",
                            "cooldown_days": 0.0,
                            "template": "evergreen",
                        }
                    ],
                    "calendar": None,
                },
            )
        )
    env = make_environment()
    start = dt.datetime.now(dt.UTC)
    until = start + dt.timedelta(days=2)

    first = Session(engine, expire_on_commit=False)
    created_first = plan_recurring(first, env, start, until).created
    first.flush()  # written, not committed: the lock is still held
    assert created_first

    second_created: list[int] = []

    def second() -> None:
        with database.session_scope(engine) as session:
            second_created.append(len(plan_recurring(session, env, start, until).created))

    worker = threading.Thread(target=second)
    worker.start()
    worker.join(timeout=1.0)
    assert worker.is_alive(), "the second planner did not wait for the first"
    first.commit()
    first.close()
    worker.join(timeout=30)
    assert second_created == [0]
    with engine.connect() as conn:
        dues = conn.execute(sa.select(Post.due_at)).scalars().all()
    assert len(dues) == len(created_first) == len(set(dues))
    engine.dispose()
