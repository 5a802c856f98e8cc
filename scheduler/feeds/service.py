"""What the `feeds` commands do, as plain data: add a feed for some channels,
list feeds with their last poll and error, remove one, poll now."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from typing import Any

import jinja2
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from scheduler.accounts.channels import get_channel
from scheduler.config import Settings
from scheduler.errors import FeedError
from scheduler.storage.models import Feed, FeedEntry, in_id_range

#: Shortest interval between polls of one feed.
MIN_EVERY = 10.0
_EVERY = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*")


def parse_every(value: str) -> float:
    """`30s`, `15m`, `2h`, `1d` or bare minutes, as seconds."""
    m = _EVERY.fullmatch(value.lower())
    if not m:
        raise FeedError(f"bad interval {value!r}: use e.g. 15m, 1h or 30s")
    seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "": 60}[m.group(2)]
    if seconds < MIN_EVERY:
        raise FeedError(f"interval {value!r} is too short: at least {MIN_EVERY:g}s")
    return seconds


def _check_feed_url(url: str) -> str:
    from scheduler.errors import IngestError
    from scheduler.ingest.fetch import check_url

    try:
        check_url(url)
    except IngestError as exc:
        raise FeedError(str(exc)) from None
    return url.strip()


def add_feed(
    session: Session,
    url: str,
    channels: Sequence[str],
    *,
    every: str = "15m",
    allow_private: bool = False,
) -> dict[str, Any]:
    url = _check_feed_url(url)
    if not channels:
        raise FeedError("name at least one --channel to plan the feed's articles for")
    names = list(dict.fromkeys(get_channel(session, name).name for name in channels))
    seconds = parse_every(every)
    if session.exec(select(Feed).where(Feed.url == url)).first() is not None:
        raise FeedError(f"feed {url} is already added")
    feed = Feed(url=url, channels=names, every_seconds=seconds, allow_private=allow_private)
    session.add(feed)
    session.flush()
    return feed_dict(feed, 0)


def find_feed(session: Session, ref: str) -> Feed:
    """A feed by its id or its URL."""
    feed = None
    if ref.isdigit() and in_id_range(int(ref)):
        feed = session.get(Feed, int(ref))
    if feed is None:
        feed = session.exec(select(Feed).where(Feed.url == ref.strip())).first()
    if feed is None:
        raise FeedError(f"no feed {ref!r} (see `scheduler feeds list`)")
    return feed


def remove_feed(session: Session, ref: str) -> dict[str, Any]:
    """Remove a feed and what it remembers of its entries (their articles and
    posts stay)."""
    feed = find_feed(session, ref)
    for entry in session.exec(select(FeedEntry).where(FeedEntry.feed_id == feed.id)):
        session.delete(entry)
    session.delete(feed)
    return {"id": feed.id, "url": feed.url, "removed": True}


def feed_dict(feed: Feed, failed_entries: int) -> dict[str, Any]:
    return {
        "id": feed.id,
        "url": feed.url,
        "channels": list(feed.channels or []),
        "every_seconds": feed.every_seconds,
        "allow_private": feed.allow_private,
        "last_polled_at": feed.last_polled_at.isoformat() if feed.last_polled_at else None,
        "last_status": feed.last_status,
        "last_error": feed.last_error,
        "failures": feed.failures,
        "next_poll_at": feed.next_poll_at.isoformat() if feed.next_poll_at else None,
        "entries_seen": feed.entries_seen,
        "entries_failed": failed_entries,
    }


def list_feeds(session: Session) -> list[dict[str, Any]]:
    failed = dict(
        session.exec(
            select(FeedEntry.feed_id, func.count())
            .where(FeedEntry.error.is_not(None))  # type: ignore[union-attr]
            .group_by(FeedEntry.feed_id)
        ).all()
    )
    return [feed_dict(f, failed.get(f.id, 0)) for f in session.exec(select(Feed).order_by(Feed.id))]


def poll_now(
    engine: Engine,
    settings: Settings,
    env: Callable[[], jinja2.Environment],
    ref: str | None = None,
) -> list[dict[str, Any]]:
    """Poll one feed (by id or URL) or every feed, now, whether due or not."""
    from scheduler.delivery.lanes import make_client
    from scheduler.feeds.poller import Poller

    feed_id = None
    if ref is not None:
        with Session(engine) as session:
            feed_id = find_feed(session, ref).id
    else:
        with Session(engine) as session:
            if session.exec(select(Feed.id)).first() is None:
                raise FeedError(
                    "no feeds yet; add one with `scheduler feeds add URL --channel NAME`"
                )

    async def run() -> list[dict[str, Any]]:
        async with make_client(settings.request_timeout_seconds) as client:
            polled = await Poller(engine, settings, client, env).poll(feed_id=feed_id, force=True)
        return [p.as_dict() for p in polled]

    return asyncio.run(run())
