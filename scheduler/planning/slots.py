"""Posting slots: `mon-fri 09:00,13:00; sat 10:30` in a channel's time zone.

Each slot group also becomes an APScheduler CronTrigger for callers that ask a
trigger; `iter_slots` steps through the days itself with zoneinfo, because a
cron search places a slot in a spring-forward gap by the other slots around it
(Toronto `02:00,02:30` gave one post at 03:00 and lost 02:30). `free_slots`
finds the next slots that no pending post of the channel occupies.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
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


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class SlotTrigger(OrTrigger):
    """The slots as APScheduler cron triggers, for callers that ask the trigger
    directly, plus the parsed (weekdays, wall time) pairs `iter_slots` steps
    through day by day, so a slot in a DST gap is placed by our rule."""

    def __init__(
        self,
        triggers: list[CronTrigger],
        slots: Sequence[tuple[frozenset[int], dt.time]],
        tz: ZoneInfo,
    ) -> None:
        super().__init__(triggers)
        self.slots = tuple(slots)
        self.tz = tz


def _weekdays(days: str) -> frozenset[int]:
    found: set[int] = set()
    for part in days.split(","):
        first, _, last = part.partition("-")
        a, b = _WEEKDAYS.index(first), _WEEKDAYS.index(last or first)
        if a > b:
            raise PlanningError(f"bad days {days!r} in slots: a range runs mon to sun ({part!r})")
        found.update(range(a, b + 1))
    return frozenset(found)


def parse_slots(spec: str, timezone: str) -> SlotTrigger:
    """`mon-fri 09:00,13:00; sat 10:30` -> one trigger firing at every slot."""
    tz = ZoneInfo(timezone)
    triggers = []
    slots: list[tuple[frozenset[int], dt.time]] = []
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
        weekdays = _weekdays(days)
        for t in times.split(","):
            m = _TIME.match(t)
            if not m:
                raise PlanningError(f"bad time {t!r} in slots: use HH:MM, 24-hour")
            hour, minute = int(m.group(1)), int(m.group(2))
            triggers.append(CronTrigger(day_of_week=days, hour=hour, minute=minute, timezone=tz))
            slots.append((weekdays, dt.time(hour, minute)))
    if not triggers:
        raise PlanningError(f"no slots given: expected something like {SLOT_EXAMPLE!r}")
    return SlotTrigger(triggers, slots, tz)


def iter_slots(trigger: Any, start: dt.datetime) -> Iterator[dt.datetime]:
    """Slot times at or after `start`, in UTC, in order, each once.

    Every slot goes out once on each of its days. When clocks fall back, a slot
    in the repeated hour goes out at its first occurrence. When they spring
    forward, a slot in the skipped wall times goes out at the first valid
    instant after the gap (03:00 for a 02:30 slot in Toronto), or, when another
    slot of that day already has that instant, at the next free minute, so two
    slots never merge into one and none is lost."""
    if isinstance(trigger, SlotTrigger):
        yield from _iter_days(trigger, start)
        return
    yield from _iter_fires(trigger, start)


_MINUTE = dt.timedelta(minutes=1)


def _iter_days(trigger: SlotTrigger, start: dt.datetime) -> Iterator[dt.datetime]:
    tz = trigger.tz
    start_utc = start.astimezone(dt.UTC)
    # A day earlier: a gap slot of the day before lands no later than its gap's end.
    day = start_utc.astimezone(tz).date() - dt.timedelta(days=1)
    last: dt.datetime | None = None
    while True:
        walls = sorted({t for weekdays, t in trigger.slots if day.weekday() in weekdays})
        exact: list[dt.datetime] = []
        in_gap: list[dt.datetime] = []
        for t in walls:
            local = dt.datetime.combine(day, t, tzinfo=tz)  # fold=0: first occurrence
            utc = local.astimezone(dt.UTC)
            if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
                exact.append(utc)
            else:
                in_gap.append(_gap_end(local))
        used = set(exact)
        for when in in_gap:  # already in wall order
            while when in used:
                when += _MINUTE
            used.add(when)
        for when in sorted(used):
            if when >= start_utc and (last is None or when > last):
                last = when
                yield when
        day += dt.timedelta(days=1)


def _gap_end(local: dt.datetime) -> dt.datetime:
    """The first instant after the DST gap that wall time `local` falls in, in UTC.

    `local` at fold=0 reads with the offset from before the change, which lands
    after the gap; at fold=1 with the offset after it, which lands before; the
    change lies between. zoneinfo has no public list of transitions, so the
    instant is found by halving that interval to the second."""
    tz = local.tzinfo
    after = int(local.astimezone(dt.UTC).timestamp())
    before = int(local.replace(fold=1).astimezone(dt.UTC).timestamp())
    offset_after = dt.datetime.fromtimestamp(after, tz).utcoffset()
    while after - before > 1:
        mid = (before + after) // 2
        if dt.datetime.fromtimestamp(mid, tz).utcoffset() == offset_after:
            after = mid
        else:
            before = mid
    return dt.datetime.fromtimestamp(after, dt.UTC)


def _iter_fires(trigger: Any, start: dt.datetime) -> Iterator[dt.datetime]:
    """Any other APScheduler trigger, stepped through in UTC.

    Steps in UTC: adding a second to a local fire time drops its DST `fold`,
    which sent the search back into the repeated hour and returned the same
    time forever."""
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
