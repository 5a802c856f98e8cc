"""One post per slot per channel, and no post that repeats one just before it.

Calendar posts (on this day, throwbacks, countdowns) are placed by the date
they belong to, not by the queue, so without these checks an anniversary lands
in the same minute as an article's post, or a throwback repeats a milestone
post the channel sent the day before. `taken_minutes` is what a planner must
not use (unless the channel's calendar says `share_slots`); `recent_repeat`
finds a live post of the same milestone near a time.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.storage.models import Channel, Post, PostStatus

#: A calendar post of a milestone this close to another post of it repeats it.
REPEAT_WINDOW = dt.timedelta(days=30)

_LIVE = (
    PostStatus.draft.value,
    PostStatus.queued.value,
    PostStatus.sending.value,
    PostStatus.sent.value,
    PostStatus.unknown.value,
)


def minute(when: dt.datetime) -> dt.datetime:
    return when.astimezone(dt.UTC).replace(second=0, microsecond=0)


def taken_minutes(session: Session, channel: Channel, start: dt.datetime) -> set[dt.datetime]:
    """Minutes from `start` on at which the channel already has a pending post."""
    return {
        minute(t)
        for t in session.exec(
            select(Post.due_at).where(
                Post.channel_id == channel.id,
                Post.status.in_([PostStatus.queued.value, PostStatus.draft.value]),
                Post.due_at >= minute(start),
            )
        )
    }


def recent_repeat(
    session: Session, channel: Channel, milestone_id: int, when: dt.datetime
) -> Post | None:
    """A live post of the channel from the same milestone within the repeat
    window of `when` (whatever its template): posting again would repeat it."""
    return session.exec(
        select(Post)
        .where(
            Post.channel_id == channel.id,
            Post.source_kind == "milestone",
            Post.source_id == milestone_id,
            Post.status.in_(_LIVE),
            sa.between(Post.due_at, when - REPEAT_WINDOW, when + REPEAT_WINDOW),
        )
        .order_by(Post.due_at)
        .limit(1)
    ).first()
