"""Feeds against a real HTTP server on 127.0.0.1: new entries ingested once
and planned, conditional requests answered 304, a failing feed backing off
with its error shown, a broken entry not stopping the others."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.compose import make_environment
from scheduler.delivery.lanes import make_client
from scheduler.errors import FeedError, SchedulerError
from scheduler.feeds import service
from scheduler.feeds.poller import Poller
from scheduler.storage import database
from scheduler.storage.models import Article, Feed, FeedEntry, Post, utcnow

from .conftest import ARTICLES, add_channel
from .server import rss


def poll(engine, settings, feed_id=None, force=True):  # type: ignore[no-untyped-def]
    async def run():  # type: ignore[no-untyped-def]
        async with make_client(5.0) as client:
            poller = Poller(engine, settings, client, lambda: make_environment([]))
            return await poller.poll(feed_id=feed_id, force=force)

    return asyncio.run(run())


def add(engine, url, *chans, every="15m"):  # type: ignore[no-untyped-def]
    with database.session_scope(engine) as session:
        return service.add_feed(session, url, list(chans), every=every, allow_private=True)["id"]


def feed_row(engine, feed_id):  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return session.get(Feed, feed_id)


def test_new_entries_are_ingested_once_and_planned(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    add_channel(engine, "team")
    for name, text in ARTICLES.items():
        served.put(f"/{name}", text)
    served.put("/feed", rss([("g1", served.url("/a1"), "one"), ("g2", served.url("/a2"), "two")]))
    feed_id = add(engine, served.url("/feed"), "club", "team")

    (first,) = poll(engine, settings)
    assert (first.status, first.error, first.new, first.articles) == (200, None, 2, 2)
    assert first.posts >= 4  # each article's quote, on both channels
    with Session(engine) as session:
        posts = session.exec(select(Post)).all()
        assert {p.status for p in posts} == {"queued"}
        assert len(posts) == first.posts

    # Unchanged: the validators go back and the server says 304; no page is fetched.
    (second,) = poll(engine, settings)
    assert (second.status, second.new, second.posts) == (304, 0, 0)
    status, headers = served.requests_to("/feed")[-1]
    assert status == 304 and headers["if-none-match"].startswith('"')
    assert served.hits["/a1"] == 1 and served.hits["/a2"] == 1

    # The feed changes: one new entry, and one whose page is the same story as
    # a1 under another URL (stored once, by the hash of its text), and a
    # broken one (its page is missing) that does not stop the others.
    served.put("/a1-copy", ARTICLES["a1"])
    served.put(
        "/feed",
        rss(
            [
                ("g4", served.url("/gone"), "broken"),
                ("g3", served.url("/a3"), "three"),
                ("g5", served.url("/a1-copy"), "copy"),
                ("g1", served.url("/a1"), "one"),
                ("g2", served.url("/a2"), "two"),
            ]
        ),
    )
    (third,) = poll(engine, settings)
    assert (third.status, third.new, third.articles) == (200, 3, 1)
    assert len(third.entry_errors) == 1 and "/gone" in third.entry_errors[0]
    assert "404" in third.entry_errors[0]
    assert served.hits["/a1"] == 1  # a1 was never fetched again
    with Session(engine) as session:
        assert len(session.exec(select(Article)).all()) == 3
        entries = session.exec(select(FeedEntry).order_by(FeedEntry.id)).all()
        assert len(entries) == 5
        assert [e.error is not None for e in entries].count(True) == 1
        # The copy found a1's article and planned nothing twice.
        copy = next(e for e in entries if e.entry_key == "g5")
        a1 = next(e for e in entries if e.entry_key == "g1")
        assert copy.article_id == a1.article_id
    row = feed_row(engine, feed_id)
    assert row.entries_seen == 5 and row.failures == 0
    assert "1 entries not ingested" in (row.last_error or "")
    listed = service.list_feeds(Session(engine))
    assert listed[0]["entries_failed"] == 1 and listed[0]["last_status"] == 200

    # The broken entry is tried again when the feed changes, and then works.
    served.put("/gone", ARTICLES["a2"].replace("roof", "walls"))
    served.put("/feed", served.pages["/feed"].body.replace("Club news", "Club news!"))
    (fourth,) = poll(engine, settings)
    assert (fourth.new, fourth.articles, fourth.entry_errors) == (0, 1, [])


def test_last_modified_is_sent_back(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    served.put("/a1", ARTICLES["a1"])
    served.put("/lm", rss([("g1", served.url("/a1"), "one")]), validators="modified")
    add(engine, served.url("/lm"), "club")
    assert poll(engine, settings)[0].status == 200
    (again,) = poll(engine, settings)
    assert again.status == 304
    _status, headers = served.requests_to("/lm")[-1]
    assert headers["if-modified-since"].endswith("GMT") and "if-none-match" not in headers


def test_a_failing_feed_backs_off_and_shows_its_error(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    served.put("/down", "oops", status=500)
    served.put(
        "/page", "<html><body><p>Not a feed at all.</p></body></html>", content_type="text/html"
    )
    down = add(engine, served.url("/down"), "club", every="1m")
    page = add(engine, served.url("/page"), "club", every="1m")

    waits = []
    for failures in (1, 2, 3):
        before = utcnow()
        polled = {p.feed_id: p for p in poll(engine, settings)}
        assert polled[down].error == "the server answered HTTP 500"
        assert polled[page].error.startswith("not an RSS or Atom feed")
        row = feed_row(engine, down)
        assert row.failures == failures and row.last_status == 500
        waits.append((row.next_poll_at - before).total_seconds())
    # Each failure in a row doubles the wait (60 s interval: 120, 240, 480).
    assert waits[0] >= 120 and waits[1] >= 2 * waits[0] - 1 and waits[2] >= 2 * waits[1] - 1
    assert feed_row(engine, page).failures == 3

    # Not due: the daemon's poll (no force) leaves it alone.
    assert poll(engine, settings, force=False) == []

    served.put("/a1", ARTICLES["a1"])
    served.put("/down", rss([("g1", served.url("/a1"), "one")]))
    (ok,) = poll(engine, settings, feed_id=down)
    assert ok.error is None and ok.new == 1
    row = feed_row(engine, down)
    assert row.failures == 0 and row.last_error is None
    assert row.next_poll_at - utcnow() <= dt.timedelta(seconds=61)


def test_a_refused_address_is_the_feeds_error(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    served.put("/feed", rss([]))
    with database.session_scope(engine) as session:
        feed_id = service.add_feed(session, served.url("/feed"), ["club"])["id"]
    (polled,) = poll(engine, settings)
    assert "non-public address" in polled.error
    assert not served.hits["/feed"]
    assert feed_row(engine, feed_id).failures == 1


def test_two_pollers_never_take_the_same_feed(served, engine, settings) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    for n in range(5):
        add(engine, served.url(f"/f{n}"), "club")
    client = None
    poller = Poller(engine, settings, client, lambda: make_environment([]))  # type: ignore[arg-type]
    now = utcnow()
    first = poller.claim(now, None, False, 100)
    second = poller.claim(now, None, False, 100)
    assert len(first) == 5 and second == []


@pytest.mark.parametrize(
    ("url", "chans", "every", "message"),
    [
        ("ftp://x.example/feed", ["club"], "15m", "unsupported URL scheme"),
        ("https://x.example/feed", [], "15m", "at least one --channel"),
        ("https://x.example/feed", ["nope"], "15m", "no channel named 'nope'"),
        ("https://x.example/feed", ["club"], "often", "bad interval"),
        ("https://x.example/feed", ["club"], "1s", "too short"),
    ],
)
def test_bad_feeds_are_refused(engine, url, chans, every, message) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    with pytest.raises(SchedulerError, match=message), database.session_scope(engine) as session:
        service.add_feed(session, url, chans, every=every)
    with Session(engine) as session:
        assert session.exec(select(sa.func.count()).select_from(Feed)).one() == 0


def test_remove_by_id_or_url(engine) -> None:  # type: ignore[no-untyped-def]
    add_channel(engine, "club")
    with database.session_scope(engine) as session:
        service.add_feed(session, "https://x.example/a", ["club"])
        service.add_feed(session, "https://x.example/b", ["club"])
        with pytest.raises(FeedError, match="already added"):
            service.add_feed(session, "https://x.example/a", ["club"])
    with database.session_scope(engine) as session:
        service.remove_feed(session, "1")
        service.remove_feed(session, "https://x.example/b")
    with Session(engine) as session, pytest.raises(FeedError, match="no feed"):
        service.find_feed(session, "1")
