"""Feeds, the outbox and source watch on PostgreSQL: the migration, two
pollers claiming at once, a poll round, a failure told and delivered."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlmodel import Session, select

from scheduler.compose import make_environment
from scheduler.config import Settings
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.feeds.poller import Poller
from scheduler.storage import database
from scheduler.storage.models import Feed, Notification, Post, utcnow
from tests.feeds.conftest import ARTICLES, add_channel
from tests.feeds.server import Served, Site, rss
from tests.feeds.test_feeds import add, poll
from tests.feeds.test_notifications import drain, queue_post

pytestmark = pytest.mark.postgres


@pytest.fixture
def served() -> Iterator[Site]:
    server = Served()
    yield server.site
    server.close()


def test_feeds_and_notifications_on_postgres(pg_url, served) -> None:  # type: ignore[no-untyped-def]
    # The reliability suite's PostgreSQL cluster (started once per session).
    engine = database.make_engine(pg_url)
    settings = Settings(db=pg_url, request_timeout_seconds=5.0)
    add_channel(engine, "club")
    served.put("/a1", ARTICLES["a1"])
    served.put("/feed", rss([("g1", served.url("/a1"), "one")]))
    feed_id = add(engine, served.url("/feed"), "club")
    for n in range(20):
        add(engine, served.url(f"/other{n}"), "club")

    # Two pollers claiming at the same moment share the due feeds out.
    poller = Poller(engine, settings, None, lambda: make_environment([]))  # type: ignore[arg-type]
    now, got = utcnow(), []
    threads = [
        threading.Thread(target=lambda: got.append(poller.claim(now, None, False, 100)))
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [j.id for jobs in got for j in jobs]
    assert len(ids) == 21 == len(set(ids))

    (first,) = poll(engine, settings, feed_id=feed_id)
    assert (first.status, first.new, first.articles) == (200, 1, 1)
    (second,) = poll(engine, settings, feed_id=feed_id)
    assert second.status == 304
    with Session(engine) as session:
        assert session.get(Feed, feed_id).entries_seen == 1
        assert session.exec(select(Post)).first() is not None

    port = served.base.rsplit(":", 1)[1]
    settings.notify_urls = [f"json://127.0.0.1:{port}/alerts"]
    settings.max_attempts = 1
    served.post_status["/hook"] = 500
    add_channel(engine, "bad", "webhook", url=served.url("/hook"))
    failing = queue_post(engine, "bad", "refused", utcnow() - dt.timedelta(seconds=1))
    asyncio.run(Dispatcher(engine, settings).run_due())
    with Session(engine) as session:
        assert session.get(Post, failing).status == "failed"
        (row,) = session.exec(select(Notification)).all()
        assert row.post_id == failing and row.event == "failed"
    assert drain(engine, settings) == 1
    assert any(p == "/alerts" for p, _ in served.posts)
    engine.dispose()
