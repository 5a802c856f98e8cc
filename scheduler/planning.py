"""Turning stored quotes and milestones into queued posts over a channel's
posting slots.

Slots are written like `mon-fri 09:00,13:00; sat 10:30` in the channel's time
zone. Each becomes an APScheduler CronTrigger for callers that ask a trigger;
`iter_slots` steps through the days itself with zoneinfo, because a cron search
places a slot in a spring-forward gap by the other slots around it (Toronto
`02:00,02:30` gave one post at 03:00 and lost 02:30).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger
from sqlmodel import Session, select

from scheduler.compose import load, render
from scheduler.errors import NotFoundError, PlanningError
from scheduler.models import Article, Channel, Milestone, Post, PostStatus, Quote, utcnow

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


@dataclass(frozen=True)
class Source:
    kind: str  # quote | milestone | link
    id: int
    template: str
    context: dict[str, Any]


@dataclass
class PlanResult:
    created: list[Post] = field(default_factory=list)
    skipped: int = 0
    over_limit: list[int] = field(default_factory=list)
    #: Why something was not planned, in words (recurring planners).
    notes: list[str] = field(default_factory=list)


def article_context(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title or "",
        "url": article.url,
        "source": article.source,
        "published": article.published,
    }


def quote_context(q: Quote) -> dict[str, Any]:
    return {"text": q.text, "speaker": q.speaker, "cue": q.cue, "id": q.id}


def milestone_context(m: Milestone) -> dict[str, Any]:
    return {
        "text": m.text,
        "date": m.date,
        "precision": m.precision,
        "tense": m.tense,
        "person": m.person,
        "id": m.id,
    }


def sources_for(
    session: Session, article: Article, kinds: Sequence[str], templates: dict[str, str]
) -> list[Source]:
    sources: list[Source] = []
    base = {"article": article_context(article)}
    if "quote" in kinds:
        for q in session.exec(
            select(Quote).where(Quote.article_id == article.id).order_by(Quote.start)
        ):
            if not q.speaker:
                continue  # a quote nobody can be credited for is not posted
            ctx = dict(base, quote=quote_context(q))
            sources.append(Source("quote", q.id or 0, templates["quote"], ctx))
    if "milestone" in kinds:
        for m in session.exec(
            select(Milestone).where(Milestone.article_id == article.id).order_by(Milestone.start)
        ):
            ctx = dict(base, milestone=milestone_context(m))
            sources.append(Source("milestone", m.id or 0, templates["milestone"], ctx))
    if "link" in kinds:
        sources.append(Source("link", article.id or 0, templates["link"], dict(base)))
    return sources


def already_planned(session: Session, channel: Channel, source: Source) -> bool:
    return (
        session.exec(
            select(Post.id).where(
                Post.channel_id == channel.id,
                Post.source_kind == source.kind,
                Post.source_id == source.id,
                Post.template == source.template,
                Post.status != PostStatus.cancelled.value,
            )
        ).first()
        is not None
    )


def plan_article(
    session: Session,
    env: jinja2.Environment,
    article_id: int,
    channel: Channel,
    *,
    kinds: Sequence[str] = ("quote", "milestone"),
    templates: dict[str, str] | None = None,
    start: dt.datetime | None = None,
    limit: int | None = None,
    fits: Any = None,
) -> PlanResult:
    """Render each source through its template and queue it in the next free slot.
    Sources already planned for this channel are skipped, so planning twice is safe.
    Everything renders before anything is written: one broken template, no posts."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    names = {"quote": "quote", "milestone": "milestone", "link": "link"} | (templates or {})
    for kind in kinds:
        load(env, names[kind])
    result = PlanResult()
    todo: list[tuple[Source, str]] = []
    for source in sources_for(session, article, kinds, names):
        if already_planned(session, channel, source):
            result.skipped += 1
            continue
        context = dict(source.context, channel={"name": channel.name, "platform": channel.platform})
        todo.append((source, render(env, source.template, context)))
        if limit is not None and len(todo) >= limit:
            break
    start = start or utcnow()
    slots = free_slots(session, channel, start, len(todo))
    if len(slots) < len(todo):
        raise PlanningError(f"channel {channel.name} has fewer free slots than posts to plan")
    for (source, text), when in zip(todo, slots, strict=True):
        post = new_post(
            channel, text, when, template=source.template, kind=source.kind, source_id=source.id
        )
        post.article_id = article.id
        post.link = article.url
        session.add(post)
        result.created.append(post)
        if fits is not None and not fits(text):
            result.over_limit.append(len(result.created) - 1)
    session.flush()
    return result


def new_post(
    channel: Channel,
    text: str,
    due_at: dt.datetime,
    *,
    template: str | None = None,
    kind: str | None = None,
    source_id: int | None = None,
) -> Post:
    assert channel.id is not None
    return Post(
        channel_id=channel.id,
        status=PostStatus.queued.value,
        text=text,
        template=template,
        source_kind=kind,
        source_id=source_id,
        due_at=due_at,
        idempotency_key=uuid.uuid4().hex,
    )
