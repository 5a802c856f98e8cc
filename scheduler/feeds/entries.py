"""A feed's new entries: each entry's article ingested once and planned for
the channels the feed names.

Once means: an entry is remembered by the feed's id for it (its guid, else its
link), so it is handled once however often the feed lists it; its article is
looked up by URL before anything is fetched, and `ingest` itself finds an
article stored before by the hash of its text (the same story under two
URLs is one article). An entry that cannot be ingested or planned is
remembered with its error and tried again only when the feed changes; the
other entries go on.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from scheduler.config import Settings
from scheduler.errors import DatabaseError, SchedulerError
from scheduler.storage import database
from scheduler.storage.models import Article, FeedEntry

log = logging.getLogger("scheduler.feeds.entries")

#: What a feed's article is planned as (as `scheduler plan` by default).
KINDS = ("quote", "milestone")
#: Longest entry key kept (the column's size).
_KEY_CHARS = 500


@dataclass(frozen=True)
class Entry:
    """An entry as the feed lists it."""

    key: str
    link: str | None
    title: str | None = None


@dataclass
class Handled:
    """What handling a poll's entries did."""

    new: int = 0
    articles: int = 0
    posts: int = 0
    errors: list[str] = field(default_factory=list)


def entries_of(parsed: Any) -> list[Entry]:
    """The entries of a feedparser result, oldest first (feeds list newest
    first; planning oldest first keeps the story's order in the queue)."""
    out = []
    for item in reversed(parsed.entries):
        link = item.get("link") or None
        key = item.get("id") or link or item.get("title")
        if not key:
            continue  # nothing to know it by again: not an entry one can handle once
        out.append(Entry(str(key)[:_KEY_CHARS], str(link) if link else None, item.get("title")))
    return out


def handle(
    engine: Engine,
    settings: Settings,
    env: jinja2.Environment,
    *,
    feed_id: int,
    channels: Sequence[str],
    allow_private: bool,
    entries: Sequence[Entry],
) -> Handled:
    """Ingest and plan the entries not handled before (and those that failed
    before). One short transaction per step; an entry's failure is its own."""
    result = Handled()
    with database.session_scope(engine) as session:
        known = {
            key: error
            for key, error in session.exec(
                select(FeedEntry.entry_key, FeedEntry.error).where(FeedEntry.feed_id == feed_id)
            )
        }
    for entry in entries:
        if entry.key in known and known[entry.key] is None:
            continue
        retry = entry.key in known
        if not retry:
            result.new += 1
        try:
            article_id, created = _ingest(engine, entry, allow_private)
            if created:
                result.articles += 1
            result.posts += _plan(engine, settings, env, article_id, channels)
            error = None
        except DatabaseError:
            raise  # the next entry would fail the same way
        except SchedulerError as exc:
            article_id, error = None, str(exc)
            where = entry.link or entry.key
            result.errors.append(error if error.startswith(where) else f"{where}: {error}")
            log.warning("feed %s entry %s: %s", feed_id, entry.key, error)
        _remember(engine, feed_id, entry, article_id, error, retry)
    return result


def _ingest(engine: Engine, entry: Entry, allow_private: bool) -> tuple[int, bool]:
    """(article id, stored now) for the entry's link: by URL first, so a page
    ingested before (by any feed or by hand) is not fetched again."""
    from scheduler.ingest.service import ingest_sources

    if not entry.link:
        raise SchedulerError("the entry has no link to an article")
    with database.session_scope(engine) as session:
        found = session.exec(
            select(Article.id).where(
                sa.or_(Article.url == entry.link, Article.source == entry.link)
            )
        ).first()
    if found is not None:
        return found, False
    for row in ingest_sources(engine, [entry.link], allow_private=allow_private):
        if "error" in row:
            raise SchedulerError(row["error"])
        return int(row["article_id"]), bool(row["created"])
    raise SchedulerError("nothing was ingested")


def _plan(
    engine: Engine,
    settings: Settings,
    env: jinja2.Environment,
    article_id: int,
    channels: Sequence[str],
) -> int:
    """Posts planned for the article on each channel; a channel that cannot
    be planned for (removed, a template error) is reported, the others go on."""
    from scheduler.planning.service import plan_from_article

    planned, errors = 0, []
    for name in channels:
        try:
            with database.session_scope(engine) as session:
                result = plan_from_article(
                    session,
                    env,
                    str(article_id),
                    name,
                    kinds=KINDS,
                    templates={},
                    settings=settings,
                )
            planned += len(result.rows)
        except DatabaseError:
            raise
        except SchedulerError as exc:
            errors.append(f"channel {name}: {exc}")
    if errors:
        raise SchedulerError(f"article {article_id} ingested; " + "; ".join(errors))
    return planned


def _remember(
    engine: Engine,
    feed_id: int,
    entry: Entry,
    article_id: int | None,
    error: str | None,
    retry: bool,
) -> None:
    with database.session_scope(engine) as session:
        if retry:
            row = session.exec(
                select(FeedEntry).where(
                    FeedEntry.feed_id == feed_id, FeedEntry.entry_key == entry.key
                )
            ).one()
            row.article_id, row.error = article_id, error
        else:
            row = FeedEntry(
                feed_id=feed_id,
                entry_key=entry.key,
                url=entry.link,
                article_id=article_id,
                error=error,
            )
        session.add(row)
