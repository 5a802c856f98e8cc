"""Recurring posts a channel plans for itself: evergreen recycling of a quote
category on a cadence, and calendar posts from dated milestones (on this day,
throwbacks, countdowns). The rules are in `planning.rules`.

`plan_recurring` turns them into ordinary queued Post rows for a window of time.
`scheduler plan --recurring` commits them; `scheduler simulate` runs the very same
function inside a transaction it rolls back, so the timeline it shows is what
planning would produce.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.planning.anniversaries import plan_calendar
from scheduler.planning.evergreen import plan_evergreen
from scheduler.planning.plan import PlanResult
from scheduler.planning.rules import load
from scheduler.storage.models import Channel


def plan_recurring(
    session: Session,
    env: jinja2.Environment,
    start: dt.datetime,
    until: dt.datetime,
    *,
    channels: list[Channel] | None = None,
    fits: Any = None,
) -> PlanResult:
    """Queue every recurring post of the given channels (default: all active
    channels with recurring settings) that falls in [start, until]. Safe to run
    again over the same window: what is already planned is skipped."""

    _take_turns(session)
    if channels is None:
        channels = list(
            session.exec(select(Channel).where(Channel.paused.is_(False)).order_by(Channel.name))
        )
    total = PlanResult()
    checks = {}
    for channel in channels:
        config = load(channel)
        parts = [plan_evergreen(session, env, channel, r, start, until) for r in config.evergreen]
        if config.calendar is not None:
            parts.append(plan_calendar(session, env, channel, config.calendar, start, until))
        for part in parts:
            total.created.extend(part.created)
            total.skipped += part.skipped
            total.notes.extend(part.notes)
        if fits is not None:
            checks[channel.id] = fits(channel)
    total.created.sort(key=lambda p: (p.due_at, p.channel_id, p.id or 0))
    total.over_limit = [
        i
        for i, post in enumerate(total.created)
        if post.channel_id in checks and not checks[post.channel_id](post.text)
    ]
    return total


#: Key of the PostgreSQL advisory lock recurring planners take turns on.
PLANNING_LOCK = 0x5C4ED01E


def _take_turns(session: Session) -> None:
    """Two planners at once (daemons sharing one PostgreSQL, or a daemon and
    `plan --recurring`) would each see a slot free and fill it twice. On
    PostgreSQL they queue on a lock held until the transaction ends, so the
    second sees what the first committed. SQLite has a single writer: the
    second planner's write fails instead, and the daemon tries again later."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PLANNING_LOCK})
