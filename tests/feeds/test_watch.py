"""Source watch through the real dispatcher: a quote post whose sentence is
gone or changed on its page is held (and a person told), an unchanged page
lets it go, a page that cannot be fetched never holds it, one request per
article per hour, conditional after the first, off per channel."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import threading

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.compose import make_environment
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.desk.posts import retry_posts, show_post
from scheduler.ingest.service import ingest_sources
from scheduler.planning.service import plan_from_article
from scheduler.storage import database
from scheduler.storage.models import Article, Notification, Post, utcnow

from .conftest import ARTICLES, add_channel

CHANGED = ARTICLES["a1"].replace("never been this ready in March", "rarely been this ready")


def setup_posts(engine, served, tmp_path, *, watch: str = "true") -> list[int]:  # type: ignore[no-untyped-def]
    served.put("/story", ARTICLES["a1"])
    add_channel(engine, "club", path=str(tmp_path / "out.jsonl"), watch=watch)
    (row,) = list(ingest_sources(engine, [served.url("/story")], allow_private=True))
    with database.session_scope(engine) as session:
        planned = plan_from_article(
            session,
            make_environment([]),
            str(row["article_id"]),
            "club",
            kinds=["quote"],
            templates={},
        )
        # Two posts of the same quote's article, due now.
        ids = [r["id"] for r in planned.rows]
        first = session.get(Post, ids[0])
        assert first is not None
        twin = Post(
            channel_id=first.channel_id,
            text=first.text + " (again)",
            template=first.template,
            source_kind=first.source_kind,
            source_id=first.source_id,
            article_id=first.article_id,
            due_at=first.due_at,
            idempotency_key="twin-key",
        )
        session.add(twin)
        session.flush()
        ids.append(twin.id)
        session.execute(sa.update(Post).values(due_at=utcnow() - dt.timedelta(minutes=1)))
    return ids


def run(engine, settings) -> dict[int, str]:  # type: ignore[no-untyped-def]
    asyncio.run(Dispatcher(engine, settings).run_due())
    with Session(engine) as session:
        return {p.id: p.status for p in session.exec(select(Post))}


def story_requests(served):  # type: ignore[no-untyped-def]
    return served.requests_to("/story")


def test_unchanged_page_lets_the_posts_go_with_one_request(
    served, engine, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings.watch_allow_private = True
    ids = setup_posts(engine, served, tmp_path)
    assert len(story_requests(served)) == 1  # the ingest
    assert set(run(engine, settings).values()) == {"sent"}
    # Both posts of the article shared one re-check.
    assert len(story_requests(served)) == 2
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["post_id"] for x in lines) == sorted(ids)


def test_changed_quote_holds_the_post_and_tells_a_person(
    served, engine, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    settings.watch_allow_private = True
    settings.notify_urls = ["json://127.0.0.1:9/unused"]
    ids = setup_posts(engine, served, tmp_path)
    served.put("/story", CHANGED)
    statuses = run(engine, settings)
    assert set(statuses.values()) == {"held"}
    with Session(engine) as session:
        shown = show_post(session, ids[0])
        assert (
            "now reads" in shown["last_error"] and "rarely been this ready" in shown["last_error"]
        )
        assert "never been this ready in March" in shown["last_error"]
        told = session.exec(select(Notification).where(Notification.event == "held")).all()
        assert {n.post_id for n in told} == set(ids)
        assert "scheduler queue show" in told[0].message
        article = session.exec(select(Article)).one()
        assert article.watch_text is not None and article.watch_etag
    assert not (tmp_path / "out.jsonl").exists()

    # Held posts are never claimed again by themselves.
    assert set(run(engine, settings).values()) == {"held"}
    assert len(story_requests(served)) == 2  # within the hour: no new request

    # A person releases one: it goes as it is, without another look at the page.
    with database.session_scope(engine) as session:
        retry_posts(session, [ids[0]])
    statuses = run(engine, settings)
    assert statuses[ids[0]] == "sent" and statuses[ids[1]] == "held"
    assert len(story_requests(served)) == 2


def test_an_hour_later_the_check_is_conditional(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.watch_allow_private = True
    ids = setup_posts(engine, served, tmp_path)
    with database.session_scope(engine) as session:
        session.execute(
            sa.update(Post).where(Post.id == ids[1]).values(due_at=utcnow() + dt.timedelta(days=1))
        )
    assert run(engine, settings)[ids[0]] == "sent"
    with database.session_scope(engine) as session:
        session.execute(
            sa.update(Article).values(watch_checked_at=utcnow() - dt.timedelta(hours=2))
        )
        session.execute(sa.update(Post).where(Post.id == ids[1]).values(due_at=utcnow()))
    assert run(engine, settings)[ids[1]] == "sent"
    status, headers = story_requests(served)[-1]
    assert status == 304 and headers.get("if-none-match")
    assert len(story_requests(served)) == 3  # ingest, first check, conditional check


def test_a_failed_fetch_does_not_hold(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.watch_allow_private = True
    setup_posts(engine, served, tmp_path)
    served.put("/story", "down", status=500)
    assert set(run(engine, settings).values()) == {"sent"}
    assert story_requests(served)[-1][0] == 500


def test_a_refused_address_does_not_hold(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    setup_posts(engine, served, tmp_path)  # watch_allow_private off: 127.0.0.1 is refused
    served.put("/story", CHANGED)
    assert set(run(engine, settings).values()) == {"sent"}
    assert len(story_requests(served)) == 1


def test_watch_off_for_the_channel(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.watch_allow_private = True
    setup_posts(engine, served, tmp_path, watch="false")
    served.put("/story", CHANGED)
    assert set(run(engine, settings).values()) == {"sent"}
    assert len(story_requests(served)) == 1


def test_a_check_never_waits_behind_sends_that_hang(served, engine, settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Sends hanging on a platform that does not answer hold every connection
    of one of the daemon's pools (16 sends: 4 on the first lane, 3 on each
    other). A watched post of another channel still has its page checked, on a
    client apart, and goes out; on the first lane's client the check waited
    for a connection until the timeout and the post left unchecked."""
    from scheduler.delivery.lanes import make_lanes
    from scheduler.desk.posts import add_post
    from scheduler.storage.models import Channel

    settings.watch_allow_private = True
    settings.request_timeout_seconds = 30.0
    release = threading.Event()
    served.post_hold["/stuck"] = release
    for i in range(4):
        add_channel(engine, f"stuck{i}", "webhook", url=served.url("/stuck"))
    with database.session_scope(engine) as session:
        for i in range(4):
            chan = session.exec(select(Channel).where(Channel.name == f"stuck{i}")).one()
            for n in range(4):
                add_post(session, chan, f"stuck post {i}.{n}", utcnow() - dt.timedelta(seconds=5))

    async def scenario() -> tuple[int, dict[int, str]]:
        async with make_lanes(settings.request_timeout_seconds) as lanes:
            dispatcher = Dispatcher(engine, settings, lanes=lanes)
            # Bounded by progress: the loop ends once the sends are there (a
            # busy machine only makes it take more turns), the bound is a hang.
            for _ in range(5_000):
                await dispatcher.pump()
                if served.arrived["/stuck"] == 16:
                    break
                await asyncio.sleep(0.01)
            on_the_wire = served.arrived["/stuck"]
            ids = setup_posts(engine, served, tmp_path)
            for _ in range(5_000):
                await dispatcher.pump()
                await asyncio.sleep(0.01)
                with Session(engine) as session:
                    statuses = {p.id: p.status for p in session.exec(select(Post))}
                if all(statuses[i] == "sent" for i in ids):
                    break
            release.set()
            await dispatcher.drain(timeout=30)
        return on_the_wire, {i: statuses[i] for i in ids}

    try:
        on_the_wire, watched = asyncio.run(scenario())
    finally:
        release.set()
    assert on_the_wire == 16
    assert set(watched.values()) == {"sent"}
    assert len(story_requests(served)) == 2  # the ingest, then the check
