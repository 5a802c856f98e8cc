"""Posting slots: `mon-fri 09:00,13:00; sat 10:30` in a channel's time zone.

Each day spec becomes an APScheduler CronTrigger, so DST and calendar edges are
APScheduler's (tested) arithmetic, not ours; `free_slots` finds the next slots
that no pending post of the channel occupies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session, select

from scheduler.errors import PlanningError
from scheduler.storage.models import Channel, Post, PostStatus

_DAYS = r"(?:mon|tue|wed|thu|fri|sat|sun)"
_DAY_SPEC = re.compile(rf"^{_DAYS}(?:-{_DAYS})?(?:,{_DAYS}(?:-{_DAYS})?)*$")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
SLOT_EXAMPLE = "mon-fri 09:00,13:00; sat 10:30"


def parse_slots(spec: str, timezone: str) -> OrTrigger:
    """`mon-fri 09:00,13:00; sat 10:30` -> one trigger firing at every slot."""
    tz = ZoneInfo(timezone)
    triggers = []
    for group in filter(None, (g.strip() for g in spec.lower().split(";"))):
        parts = group.split()
        if len(parts) == 1:
            days, times = "mon-sun", parts[0]
        elif len(parts) == 2:
            days, times = parts
        else:
            raise PlanningError(f"bad slots {spec!r}: expected something like {SLOT_EXAMPLE!r}")
        if days in ("daily", "every", "*"):
            days = "mon-sun"
        if not _DAY_SPEC.match(days):
            raise PlanningError(f"bad days {days!r} in slots: use mon..sun, ranges and commas")
        for t in times.split(","):
            m = _TIME.match(t)
            if not m:
                raise PlanningError(f"bad time {t!r} in slots: use HH:MM, 24-hour")
            triggers.append(
                CronTrigger(
                    day_of_week=days, hour=int(m.group(1)), minute=int(m.group(2)), timezone=tz
                )
            )
    if not triggers:
        raise PlanningError(f"no slots given: expected something like {SLOT_EXAMPLE!r}")
    return OrTrigger(triggers)


def iter_slots(trigger: Any, start: dt.datetime) -> Iterator[dt.datetime]:
    """Slot times at or after `start`, in UTC, in order, each once.

    Steps in UTC: adding a second to a local fire time drops its DST `fold`,
    which sent the search back into the repeated hour and returned the same
    time forever. When clocks fall back, a slot in the repeated hour fires once
    (its first occurrence); a slot in the hour skipped in spring fires at the
    same instant shifted forward (APScheduler's rule)."""
    now = start
    seen: dict[dt.datetime, dt.datetime] = {}
    while True:
        fire = _next_fire(trigger, now)
        if fire is None:
            return
        fire_utc = fire.astimezone(dt.UTC)
        wall = fire.replace(tzinfo=None, fold=0)
        if wall not in seen:
            yield fire_utc
        seen[wall] = fire_utc
        # Only the last day's wall times can repeat.
        for key in [k for k, v in seen.items() if fire_utc - v > dt.timedelta(days=1)]:
            del seen[key]
        now = fire_utc + dt.timedelta(seconds=1)


def _next_fire(trigger: Any, now: dt.datetime) -> dt.datetime | None:
    """The next fire time at or after `now`, compared in UTC. APScheduler's
    OrTrigger takes the min of local datetimes sharing one tzinfo, which Python
    compares by wall clock, ignoring DST `fold`: inside a fall-back hour it
    picked the second 01:00 over the first 01:30."""
    parts = getattr(trigger, "triggers", None)
    if parts is not None:
        fires = [f for f in (_next_fire(t, now) for t in parts) if f is not None]
        return min(fires, key=lambda f: f.astimezone(dt.UTC), default=None)
    # No `previous`: from `now` alone the cron search is exact.
    fire = trigger.get_next_fire_time(None, now)
    if fire is None:
        return None
    first = fire.replace(fold=0)
    if now.astimezone(dt.UTC) <= first.astimezone(dt.UTC) < fire.astimezone(dt.UTC):
        return first
    return fire


def free_slots(
    session: Session, channel: Channel, start: dt.datetime, count: int
) -> list[dt.datetime]:
    """The next `count` slots of the channel that no pending post occupies."""
    if count <= 0:
        return []
    trigger = parse_slots(channel.slots, channel.timezone)
    taken = {
        t.astimezone(dt.UTC)
        for t in session.exec(
            select(Post.due_at).where(
                Post.channel_id == channel.id,
                Post.status.in_([PostStatus.queued.value, PostStatus.draft.value]),
                Post.due_at >= start,
            )
        )
    }
    found: list[dt.datetime] = []
    horizon = start + dt.timedelta(days=366 * 5)
    for when in iter_slots(trigger, start):
        if when > horizon:  # bounded, whatever the slots and the queue hold
            break
        if when not in taken:
            found.append(when)
            if len(found) == count:
                break
    return found
