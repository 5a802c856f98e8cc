"""Notifications: written to the outbox with the outcome they tell of,
delivered by apprise (json://) and to the lifecycle webhook on a local
server, retried when the receiver fails, never in the way of a send."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.lanes import make_client
from scheduler.delivery.notify import Notifier
from scheduler.desk.posts import add_post
from scheduler.storage import database
from scheduler.storage.models import Channel, Notification, Post, utcnow

from .conftest import add_channel


def queue_post(engine, channel: str, text: str, due: dt.datetime) -> int:  # type: ignore[no-untyped-def]
    with database.session_scope(engine) as session:
        chan = session.exec(select(Channel).where(Channel.name == channel)).one()
        post = add_post(session, chan, text, due)
        assert post.id is not None
        return post.id


def drain(engine, settings, retry_seconds: float = 30.0) -> int:  # type: ignore[no-untyped-def]
    async def go() -> int:
        async with make_client(5.0) as client:
            return await Notifier(engine, settings, client, retry_seconds=retry_seconds).drain()

    return asyncio.run(go())


def outbox(engine) -> list[Notification]:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return list(session.exec(select(Notification).order_by(Notification.id)))


def test_failures_pause_and_lifecycle_are_told(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = served.base.rsplit(":", 1)[1]
    settings.notify_urls = [f"json://127.0.0.1:{port}/alerts"]
    settings.lifecycle_webhook = served.url("/life")
    served.post_status["/hook-bad"] = 401
    settings.channel_concurrency = 1  # one send at a time: the second waits for the first's answer
    add_channel(engine, "bad", "webhook", url=served.url("/hook-bad"))
    add_channel(engine, "good", "webhook", url=served.url("/hook-good"))
    now = utcnow()
    failed = queue_post(engine, "bad", "refused", now - dt.timedelta(seconds=5))
    also_bad = queue_post(engine, "bad", "never tried", now - dt.timedelta(seconds=4))
    sent = queue_post(engine, "good", "fine", now - dt.timedelta(seconds=5))
    missed = queue_post(engine, "good", "too late", now - dt.timedelta(days=2))

    # The alerts receiver is down at first: publishing does not care.
    served.post_status["/alerts"] = 503
    asyncio.run(Dispatcher(engine, settings).run_due())
    with Session(engine) as session:
        status = {p.id: p.status for p in session.exec(select(Post))}
        bad = session.exec(select(Channel).where(Channel.name == "bad")).one()
    assert status[failed] == "failed" and status[sent] == "sent" and status[missed] == "missed"
    # The channel was paused at its first refused credential: its next post waits.
    assert bad.paused and status[also_bad] == "queued"

    rows = outbox(engine)
    events = sorted((n.event, n.target, n.post_id) for n in rows)
    assert events == sorted(
        [
            ("failed", "apprise:0", failed),
            ("failed", "webhook", failed),
            ("paused", "apprise:0", None),
            ("sent", "webhook", sent),
            ("missed", "apprise:0", missed),
        ]
    )
    assert all(n.delivered_at is None for n in rows)

    # First delivery: the webhook gets its two, apprise's receiver fails (retried later).
    assert drain(engine, settings, retry_seconds=0.05) == 2
    life = [d for p, d in served.posts if p == "/life"]
    assert sorted(d["event"] for d in life) == ["failed", "sent"]
    assert {d["show"] for d in life} == {
        f"scheduler queue show {failed}",
        f"scheduler queue show {sent}",
    }
    pending = [n for n in outbox(engine) if n.delivered_at is None]
    assert len(pending) == 3 and all(n.attempts == 1 and n.last_error for n in pending)

    # The receiver is back: the retries get through (bounded by tries, not time).
    served.post_status["/alerts"] = 200
    delivered = 0
    for _ in range(40):
        delivered += drain(engine, settings, retry_seconds=0.05)
        if delivered >= 3:
            break
        time.sleep(0.05)
    assert delivered == 3
    alerts = [d for p, d in served.posts if p == "/alerts"]
    assert len(alerts) == 3
    bodies = " ".join(f"{a['title']} {a['message']}" for a in alerts)
    assert f"post {failed} on bad failed" in bodies
    assert f"scheduler queue show {failed}" in bodies
    assert f"scheduler queue show {missed}" in bodies
    assert "channels resume bad" in bodies
    assert all(n.delivered_at is not None for n in outbox(engine))
    # Delivered once: nothing is sent again.
    assert drain(engine, settings) == 0
    assert len([p for p, _ in served.posts if p in ("/alerts", "/life")]) == 5


def test_nothing_is_written_when_nobody_listens(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    served.post_status["/hook-bad"] = 500
    add_channel(engine, "bad", "webhook", url=served.url("/hook-bad"))
    settings.max_attempts = 1
    queue_post(engine, "bad", "refused", utcnow() - dt.timedelta(seconds=1))
    asyncio.run(Dispatcher(engine, settings).run_due())
    assert outbox(engine) == []


def test_a_notification_given_up_after_its_tries(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    settings.lifecycle_webhook = served.url("/life")
    settings.notify_max_attempts = 2
    served.post_status["/life"] = 500
    with database.session_scope(engine) as session:
        session.execute(
            sa.insert(Notification),
            [{"event": "sent", "post_id": 1, "message": json.dumps({}), "target": "webhook"}],
        )
    for _ in range(20):
        drain(engine, settings, retry_seconds=0.01)
        (row,) = outbox(engine)
        if row.attempts >= 2:
            break
        time.sleep(0.02)
    assert row.attempts == 2 and "HTTP 500" in (row.last_error or "")
    assert drain(engine, settings, retry_seconds=0.01) == 0
    assert outbox(engine)[0].attempts == 2


def test_an_approval_tells_the_lifecycle_webhook(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    from scheduler.desk.review import approve_posts

    settings.lifecycle_webhook = served.url("/life")
    add_channel(engine, "desk", "webhook", url=served.url("/hook"))
    post_id = queue_post(engine, "desk", "a draft", utcnow() + dt.timedelta(days=1))
    with database.session_scope(engine) as session:
        session.execute(sa.update(Post).where(Post.id == post_id).values(status="draft"))
    with database.session_scope(engine) as session:
        approve_posts(session, [post_id], settings=settings)
    assert [(n.event, n.post_id) for n in outbox(engine)] == [("approved", post_id)]
    assert drain(engine, settings) == 1
    life = [d for p, d in served.posts if p == "/life"]
    assert [(d["event"], d["show"]) for d in life] == [
        ("approved", f"scheduler queue show {post_id}")
    ]
