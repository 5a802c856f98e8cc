"""What `scheduler plan` does, as plain data: plan an article's quotes and
milestones over a channel's slots, or the channels' recurring posts, and give
back the new posts with why and until when they are planned.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from sqlmodel import Session, select

from scheduler.accounts import channels
from scheduler.config import Settings
from scheduler.desk.posts import planned_dict
from scheduler.errors import PlanningError
from scheduler.planning.expiry import annotate_planned, source_expiry
from scheduler.planning.plan import plan_article
from scheduler.planning.recurring import plan_recurring
from scheduler.publishers.split import threads_allowed
from scheduler.storage.models import Article, Channel
from scheduler.when import parse_when


@dataclass
class Planned:
    rows: list[dict[str, Any]] = field(default_factory=list)
    #: Ids of the new posts over their platform's limit.
    over_limit: list[int] = field(default_factory=list)
    skipped: int = 0
    notes: list[str] = field(default_factory=list)
    #: Of `skipped`: sources whose post a person cancelled or rejected.
    removed: int = 0


def _article_id(session: Session, article: str) -> int:
    if article == "latest":
        found = session.exec(select(Article.id).order_by(Article.id.desc())).first()
        if found is None:
            raise PlanningError("no articles yet; run `scheduler ingest` first")
        return found
    try:
        return int(article)
    except ValueError:
        raise PlanningError(f"article must be an id or 'latest', not {article!r}") from None


def plan_from_article(
    session: Session,
    env: jinja2.Environment,
    article: str,
    channel: str,
    *,
    kinds: Sequence[str],
    templates: dict[str, str],
    start: str | None = None,
    limit: int | None = None,
    lifetime: dt.timedelta | None = None,
    again: bool = False,
    review: bool | None = None,
    settings: Settings | None = None,
) -> Planned:
    """Queue posts from an article (an id or 'latest') on a channel; `start` is
    read in the channel's zone (default: now). `again` plans sources whose post
    a person cancelled or rejected; `review` is the database-wide setting. With
    `settings`, the lifecycle webhook hears of each new post (in this
    transaction's outbox)."""
    chan = channels.get_channel(session, channel)
    article_id = _article_id(session, article)
    when = parse_when(start, chan.timezone) if start else None
    publisher = channels.publisher_for(chan, reveal=False)
    result = plan_article(
        session,
        env,
        article_id,
        chan,
        kinds=kinds,
        templates=templates,
        start=when,
        limit=limit,
        fits=publisher.fits,
        thread=threads_allowed(publisher),
        expires=lambda source: source_expiry(session, source.kind, source.id, chan),
        again=again,
        review=review,
    )
    annotate_planned(
        session, result.created, chan, when or dt.datetime.now(dt.UTC), expires_after=lifetime
    )
    session.flush()
    rows = [planned_dict(p, chan) for p in result.created]
    if settings is not None and settings.lifecycle_webhook and result.created:
        from scheduler.delivery import notify

        notify.enqueue(
            session,
            settings,
            [notify.Notice("created", p.id, chan.name, chan.id) for p in result.created],
        )
    return Planned(
        rows,
        [rows[i]["id"] for i in result.over_limit],
        result.skipped,
        list(result.notes),
        removed=result.removed,
    )


def plan_recurring_posts(
    session: Session,
    env: jinja2.Environment,
    start: dt.datetime,
    end: dt.datetime,
    *,
    channel: str | None = None,
    lifetime: dt.timedelta | None = None,
) -> Planned:
    """Queue the evergreen and calendar posts due from `start` to `end`, on one
    channel or all; `lifetime` caps how long after its time each may still go."""
    chosen = [channels.get_channel(session, channel)] if channel else None
    result = plan_recurring(
        session,
        env,
        start,
        end,
        channels=chosen,
        fits=lambda c: channels.publisher_for(c, reveal=False).fits,
    )
    if lifetime is not None:
        for post in result.created:
            end_of_life = post.due_at + lifetime
            post.expires_at = min(post.expires_at or end_of_life, end_of_life)
            session.add(post)
        session.flush()
    by_id = {c.id: c for c in session.exec(select(Channel))}
    rows = [planned_dict(p, by_id[p.channel_id]) for p in result.created]
    return Planned(
        rows, [rows[i]["id"] for i in result.over_limit], result.skipped, list(result.notes)
    )
