"""Simulating the daemon on a virtual clock: the same dispatcher, in dry-run
mode, stepped from one due time to the next instead of waiting for them."""

from __future__ import annotations

import asyncio
import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.dispatch import Dispatcher, SendEvent
from scheduler.models import Channel, Post, PostStatus


def due_times(engine: Engine, start: dt.datetime, until: dt.datetime) -> list[dt.datetime]:
    """Distinct moments at which something falls due, in order."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Post.due_at)
            .join(Channel, Channel.id == Post.channel_id)
            .where(
                Post.status == PostStatus.queued.value,
                Post.due_at <= until,
                Channel.paused.is_(False),
            )
            .distinct()
            .order_by(Post.due_at)
        ).scalars()
        times = sorted({max(t, start) for t in rows})
    return times


def simulate(
    engine: Engine,
    settings: Settings,
    until: dt.datetime,
    *,
    start: dt.datetime | None = None,
    on_event=None,  # type: ignore[no-untyped-def]
) -> list[SendEvent]:
    start = start or dt.datetime.now(dt.UTC)
    if until < start:
        from scheduler.errors import PlanningError

        raise PlanningError("--until is in the past")
    dispatcher = Dispatcher(engine, settings, dry_run=True, on_event=on_event)

    async def walk() -> list[SendEvent]:
        events: list[SendEvent] = []
        for moment in due_times(engine, start, until):
            events.extend(await dispatcher.run_due(now=moment))
        return events

    return asyncio.run(walk())
