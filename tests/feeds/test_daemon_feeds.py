"""The daemon polls feeds and delivers notifications on tasks of their own:
a feed that takes its time to answer does not hold a send."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

from sqlmodel import Session, select

from scheduler.delivery.daemon import Daemon
from scheduler.feeds import service
from scheduler.storage import database
from scheduler.storage.models import Feed, Post, utcnow

from .conftest import ARTICLES, add_channel
from .server import rss
from .test_notifications import queue_post


def test_daemon_polls_feeds_and_tells_without_holding_sends(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    port = served.base.rsplit(":", 1)[1]
    settings.notify_urls = [f"json://127.0.0.1:{port}/alerts"]
    settings.sweep_seconds = 0.2
    settings.max_attempts = 1
    settings.lease_seconds = 10
    served.post_status["/hook-bad"] = 500
    add_channel(engine, "club")
    add_channel(engine, "bad", "webhook", url=served.url("/hook-bad"))
    served.put("/a1", ARTICLES["a1"])
    served.put("/feed", rss([("g1", served.url("/a1"), "one")]))
    # A feed that does not answer until the failing post's send has ended: if
    # feed polling held up sends, the send would never end and the loop below
    # would run out of turns. Progress, not a race against the clock.
    release = threading.Event()
    served.put("/slow", rss([]), hold=release)
    settings.request_timeout_seconds = 60.0  # the held feed must not time out
    with database.session_scope(engine) as session:
        service.add_feed(session, served.url("/slow"), ["club"], allow_private=True)
        service.add_feed(session, served.url("/feed"), ["club"], allow_private=True)
    failing = queue_post(engine, "bad", "refused", utcnow() - dt.timedelta(seconds=1))

    seen: dict[str, object] = {}

    async def main() -> None:
        daemon = Daemon(engine, settings, listen=False)
        task = asyncio.create_task(daemon.run_forever())
        for _ in range(400):
            await asyncio.sleep(0.025)
            alerts = [d for p, d in served.posts if p == "/alerts"]
            with Session(engine) as session:
                planned = session.exec(select(Post).where(Post.channel_id == 1)).all()
                done = session.get(Post, failing).status == "failed"
            if done and "sent_before_slow_feed" not in seen:
                # The send ended while the slow feed had not answered yet.
                seen["sent_before_slow_feed"] = not any(p == "/slow" for p, _s, _h in served.log)
                release.set()
            if alerts and planned and daemon.feed_polls >= 2:
                break
        release.set()
        daemon.stop()
        await asyncio.wait_for(task, timeout=10)
        seen["polls"] = daemon.feed_polls

    asyncio.run(main())
    assert seen["sent_before_slow_feed"] is True
    assert seen["polls"] >= 2
    with Session(engine) as session:
        assert session.get(Post, failing).status == "failed"
        feeds = {f.url: f for f in session.exec(select(Feed))}
        assert feeds[served.url("/feed")].entries_seen == 1
        assert feeds[served.url("/slow")].last_status == 200
        assert session.exec(select(Post).where(Post.channel_id == 1)).first() is not None
    alerts = [d for p, d in served.posts if p == "/alerts"]
    assert any(f"post {failing} on bad failed" in a["title"] for a in alerts)
