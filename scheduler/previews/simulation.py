"""Simulating the daemon on a virtual clock: the same dispatcher, in dry-run
mode, stepped from one due time to the next instead of waiting for them.

Recurring posts (evergreen picks, on-this-day, countdowns, throwbacks) that are
not planned yet are planned by the real planner, `recurring.plan_recurring`,
inside a database transaction that is rolled back at the end. The dispatcher
runs on that same connection, so it sees them exactly as it would see committed
rows, and nothing the simulation does is ever written.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.events import SendEvent
from scheduler.errors import PlanningError
from scheduler.planning.expiry import grace_seconds, is_expired
from scheduler.storage.models import Channel, Post, PostStatus
from scheduler.when import local, show

#: How a post's template reads on the timeline.
WHAT = {
    "evergreen": "evergreen",
    "on_this_day": "on this day",
    "countdown": "countdown",
    "throwback": "throwback",
}


@dataclass
class Step:
    """One post on the simulated timeline."""

    event: SendEvent
    post_id: int
    channel: str
    when_local: str
    day_local: str
    what: str
    #: What would happen: the dispatcher's status, or `expired` / `missed`.
    outcome: str
    #: Planned by the simulation itself (a recurring post not in the queue yet).
    planned: bool = False
    reason: str | None = None
    expires_at: dt.datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        data = self.event.as_dict()
        data.update(
            when_local=self.when_local,
            day_local=self.day_local,
            what=self.what,
            outcome=self.outcome,
            planned=self.planned,
            reason=self.reason,
            expires_at=self.expires_at.isoformat() if self.expires_at else None,
        )
        return data


def ready_at(post: Post) -> dt.datetime:
    """When the daemon would take a queued post: its due time, or its retry's
    time when that is later (`claims.due_clause` asks for both)."""
    retry = post.next_attempt_at
    return post.due_at if retry is None or retry <= post.due_at else retry


def due_times(
    engine: Engine | Connection, start: dt.datetime, until: dt.datetime
) -> list[dt.datetime]:
    """Distinct moments at which something falls due (or its retry does), in order."""
    with Session(engine) as session:
        rows = session.execute(
            sa.select(Post.due_at, Post.next_attempt_at)
            .join(Channel, Channel.id == Post.channel_id)
            .where(
                Post.status == PostStatus.queued.value,
                Post.due_at <= until,
                Channel.paused.is_(False),
            )
            .distinct()
        ).all()
        times = sorted(
            {max(due if retry is None else max(due, retry), start) for due, retry in rows}
        )
    return [t for t in times if t <= until]


class _WalkQueue:
    """The queue as a walk over the virtual clock sees it: read once, then each
    moment's look served from memory. Nothing in the queue changes while the
    walk runs (the dry run sends and writes nothing; recurring posts are planned
    before it), so the one read answers each look as a read at that moment
    would: a walk costs two statements however many posts and moments it has,
    not one statement per moment. Stands in for the dispatcher's `Exchange`
    in the two calls its dry run makes."""

    def __init__(self, exchange: Any, start: dt.datetime, until: dt.datetime) -> None:
        rows = exchange.due_posts(until)
        keyed = sorted(
            ((max(ready_at(post), start), post.due_at, post.id or 0), post, channel)
            for post, channel in rows
        )
        self._ready = [key[0] for key, _, _ in keyed]
        self.rows: list[tuple[Post, Channel]] = [(post, channel) for _, post, channel in keyed]
        #: Distinct moments of the walk, in order.
        self.moments = sorted(set(self._ready))
        self._landed = exchange.may_have_landed([p.id for p, _ in self.rows if p.attempts and p.id])

    def due_posts(
        self, now: dt.datetime, after: dt.datetime | None = None
    ) -> list[tuple[Post, Channel]]:
        """What the daemon would take at `now` that it had not by `after`, in the
        order it would take them (due time, then id)."""
        lo = 0 if after is None else bisect.bisect_right(self._ready, after)
        return self.rows[lo : bisect.bisect_right(self._ready, now)]

    def may_have_landed(self, post_ids: list[int]) -> set[int]:
        return self._landed.intersection(post_ids)


def simulate(
    engine: Engine,
    settings: Settings,
    until: dt.datetime,
    *,
    start: dt.datetime | None = None,
    env: jinja2.Environment | None = None,
    on_event: Callable[[SendEvent], None] | None = None,
    track: Callable[[list[dt.datetime]], Iterable[dt.datetime]] = iter,
) -> list[Step]:
    """The posts the daemon would send from `start` (default now) to `until`.
    With `env`, recurring posts are planned first (and rolled back afterwards).
    `track` wraps the due moments as they are walked (a progress bar)."""
    start = start or dt.datetime.now(dt.UTC)
    if until < start:
        raise PlanningError("--until is in the past")
    with engine.connect() as conn:
        outer = conn.begin()
        try:
            planned: set[int] = set()
            if env is not None:
                from scheduler.planning.recurring import plan_recurring

                with Session(conn) as session:
                    result = plan_recurring(session, env, start, until)
                    session.flush()
                    planned = {p.id for p in result.created if p.id is not None}
            dispatcher = Dispatcher(conn, settings, dry_run=True, on_event=on_event, walk=True)  # type: ignore[arg-type]
            queue = _WalkQueue(dispatcher.exchange, start, until)
            dispatcher.exchange = queue  # type: ignore[assignment]
            moments = queue.moments

            async def walk() -> list[SendEvent]:
                events: list[SendEvent] = []
                for moment in track(moments):
                    events.extend(await dispatcher.run_due(now=moment))
                return events

            events = asyncio.run(walk())
            return _steps(queue, settings, events, planned)
        finally:
            outer.rollback()


def _steps(
    queue: _WalkQueue, settings: Settings, events: list[SendEvent], planned: set[int]
) -> list[Step]:
    # Every event is of a post the walk read: no second read of the queue.
    posts = {post.id: (post, channel) for post, channel in queue.rows}
    steps = []
    for event in events:
        post, channel = posts[event.post_id]
        outcome = event.status
        if is_expired(post, event.at):
            outcome = "expired"
        elif not queue.may_have_landed([event.post_id]) and event.lateness > grace_seconds(
            channel, settings
        ):
            outcome = "missed"
        steps.append(
            Step(
                event=event,
                post_id=event.post_id,
                channel=channel.name,
                when_local=show(event.at, channel.timezone),
                day_local=local(event.at, channel.timezone).date().isoformat(),
                what=WHAT.get(post.template or "", post.source_kind or "post"),
                outcome=outcome,
                planned=event.post_id in planned,
                reason=post.reason,
                expires_at=post.expires_at,
            )
        )
    return steps
