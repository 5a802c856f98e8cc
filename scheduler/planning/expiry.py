"""Expiry: old news is never sent late.

A post may carry `expires_at`; from that moment on it must not go out at all.
Planning sets it: calendar posts expire at the end of their local day, a post
announcing a planned milestone expires when the milestone's day (or month, or
year, as precisely as it is known) is over, and `plan --expires-after 2d` gives
every planned post a lifetime.

`expire_due` is the sweep a dispatcher runs before claiming: it moves expired
queued posts to `missed` with the reason, in one conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.planning.held import is_held
from scheduler.storage.models import Channel, Milestone, Post, PostStatus
from scheduler.when import show

EXPIRED = "expired"


def grace_seconds(channel: Channel, settings: Settings) -> float:
    """How late a post of this channel may still go out (the dispatcher's rule)."""
    return channel.grace_seconds if channel.grace_seconds is not None else settings.grace_seconds


def is_expired(post: Post, at: dt.datetime) -> bool:
    return post.expires_at is not None and at >= post.expires_at


def missed_reason(
    post: Post,
    channel: Channel,
    settings: Settings,
    at: dt.datetime,
    may_have_landed: bool = False,
) -> str | None:
    """Why the daemon would mark this due post missed at `at` instead of
    sending it (the rules of `expire_due` and `claims.mark_missed`, for one
    post), or None when it would go out. The dry run and `simulate` ask this,
    so they can never show as sent what the daemon would not send.
    `may_have_landed`: the post has an attempt with an unclear outcome
    (`claims.may_have_landed`), which the daemon resends rather than misses."""
    if is_expired(post, at):
        return EXPIRED
    grace = max(grace_seconds(channel, settings), 0.0)
    late_from = post.next_attempt_at or post.due_at
    if not may_have_landed and (at - late_from).total_seconds() > grace:
        return f"not sent within {grace:.0f}s of its time (daemon was down?)"
    return None


def expiry_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Queued posts that must not be sent at `now` any more."""
    return sa.and_(
        Post.status == PostStatus.queued.value,
        Post.expires_at.is_not(None),
        Post.expires_at <= now,
    )


def expire_due(session: Session, now: dt.datetime) -> list[int]:
    """Mark queued posts whose expiry has passed as missed; returns their ids."""
    ids = [row[0] for row in session.execute(sa.select(Post.id).where(expiry_clause(now)))]
    if ids:
        session.execute(
            sa.update(Post)
            .where(Post.id.in_(ids), expiry_clause(now))
            .values(
                status=PostStatus.missed.value,
                last_error="expired: not sent before its expiry time",
                updated_at=now,
            )
        )
    return ids


def period_end(date: dt.date, precision: str, timezone: str) -> dt.datetime:
    """The first moment after the day, month or year a date stands for."""
    from scheduler.planning.anniversaries import day_bounds

    if precision == "year":
        last = dt.date(date.year, 12, 31)
    elif precision == "month":
        following = dt.date(date.year + date.month // 12, date.month % 12 + 1, 1)
        last = following - dt.timedelta(days=1)
    else:
        last = date
    return day_bounds(last, timezone)[1]


def source_expiry(
    session: Session, kind: str | None, source_id: int | None, channel: Channel
) -> dt.datetime | None:
    """When a post from this source stops being true: a planned milestone's
    post ("Coming up") when the milestone's period is over; None: never."""
    if kind != "milestone" or source_id is None:
        return None
    m = session.get(Milestone, source_id)
    if m is None or m.tense != "planned":
        return None
    return period_end(m.date, m.precision, channel.timezone)


def annotate_planned(
    session: Session,
    posts: list[Post],
    channel: Channel,
    start: dt.datetime,
    *,
    expires_after: dt.timedelta | None = None,
) -> None:
    """Give posts from `plan_article` their reason and expiry (before commit)."""
    for post in posts:
        why = (
            f"{post.source_kind or 'post'} from article {post.article_id}: next free slot "
            f"of '{channel.slots}' ({channel.timezone}) from {show(start, channel.timezone)}"
        )
        # A held draft's reason says first why it is held (`planning.held`).
        post.reason = f"{post.reason.rstrip('.')}; {why}" if is_held(post.reason) else why
        candidates = []
        if expires_after is not None:
            candidates.append(post.due_at + expires_after)
        ends = source_expiry(session, post.source_kind, post.source_id, channel)
        if ends is not None:
            candidates.append(ends)
        if candidates:
            post.expires_at = min(candidates)
        session.add(post)
