"""Calendar posts from dated milestones: "on this day", throwbacks and countdowns.

- On this day: a past milestone known to the day is posted on each anniversary of
  its calendar date, in the channel's time zone. A 29 February milestone follows
  the channel's leap-day policy in other years: `feb28` (default: the last day of
  February, so the post stays in the right month), `mar1`, or `skip`.
- Throwback: a past milestone known only to the year or the month cannot have an
  anniversary, so it gets one throwback post in the next free throwback slot
  (e.g. "thu 12:00"), worded with the precision it is known at.
- Countdown: a planned milestone known to the day gets a post N days before it for
  each N in the channel's countdown list (0 means on the day).

Every calendar post expires at the end of the local day it was meant for: a
countdown or an anniversary sent a day late is wrong, so it must not go at all.

Times come from APScheduler triggers: the channel's first slot that local day
that no other post of the channel holds, or the calendar's fallback time on a
day without a free slot (`share_slots` lets a calendar post share a minute). An
on-this-day post or a throwback is not made for a milestone the channel posted
about within `collisions.REPEAT_WINDOW`: it would say the same thing again.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from sqlmodel import Session, select

from scheduler.compose import render
from scheduler.errors import PlanningError
from scheduler.planning.collisions import minute, recent_repeat, taken_minutes
from scheduler.planning.plan import (
    PlanResult,
    article_context,
    article_tags,
    channel_context,
    milestone_context,
    needs_review,
    new_post,
    postable,
)
from scheduler.planning.rules import CalendarRule
from scheduler.planning.slots import iter_slots, parse_slots
from scheduler.storage.models import Article, Channel, Milestone, Post


def anniversary(date: dt.date, year: int, leap_day: str = "feb28") -> dt.date | None:
    """The date in `year` that stands for `date`'s anniversary (None: skipped)."""
    if (date.month, date.day) != (2, 29) or calendar.isleap(year):
        return date.replace(year=year)
    if leap_day == "feb28":
        return dt.date(year, 2, 28)
    if leap_day == "mar1":
        return dt.date(year, 3, 1)
    return None


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a local calendar day, in UTC."""
    tz = ZoneInfo(timezone)
    begin = dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return begin, end.astimezone(dt.UTC)


def time_on(
    channel: Channel, day: dt.date, at: str, taken: set[dt.datetime] | None = None
) -> tuple[dt.datetime, str] | None:
    """When to post on a local day: the channel's first slot that day no other
    post holds (`taken`: minutes in UTC), else `at`. Returns the UTC time and
    how it was chosen, or None when every one of them is taken."""
    taken = taken or set()
    begin, end = day_bounds(day, channel.timezone)
    passed = 0
    for when in iter_slots(parse_slots(channel.slots, channel.timezone), begin):
        if when >= end:
            break
        if minute(when) not in taken:
            if passed:
                return when, f"first free slot of '{channel.slots}' that day ({passed} taken)"
            return when, f"first slot of '{channel.slots}' that day"
        passed += 1
    fire = _calendar_time(channel, day, at, begin, end)
    if minute(fire) in taken:
        return None
    if passed:
        return fire, f"every slot that day taken; calendar time {at}"
    return fire, f"no slot that day; calendar time {at}"


def _calendar_time(
    channel: Channel, day: dt.date, at: str, begin: dt.datetime, end: dt.datetime
) -> dt.datetime:
    # The calendar time as a one-slot list, so a time in a DST gap follows the
    # slots' rule (the first valid instant after the gap).
    fire = next(iter_slots(parse_slots(at, channel.timezone), begin), None)
    if fire is None or fire >= end:
        raise PlanningError(f"calendar time {at!r} has no instant on {day}")
    return fire


def _planned_days(
    session: Session, channel: Channel, milestone_id: int, template: str
) -> set[dt.date]:
    """Local days this channel already has a `template` post for the milestone."""
    tz = ZoneInfo(channel.timezone)
    return {
        due.astimezone(tz).date()
        for due in session.exec(
            select(Post.due_at).where(
                Post.channel_id == channel.id,
                Post.source_kind == "milestone",
                Post.source_id == milestone_id,
                Post.template == template,
                # Whatever became of it: a post a person cancelled or rejected
                # is not planned again (the daemon plans every hour).
            )
        )
    }


def plan_calendar(
    session: Session,
    env: jinja2.Environment,
    channel: Channel,
    rule: CalendarRule,
    start: dt.datetime,
    until: dt.datetime,
) -> PlanResult:
    result = PlanResult()
    tz = ZoneInfo(channel.timezone)
    stmt = select(Milestone).order_by(Milestone.date, Milestone.id)
    if rule.person:
        stmt = stmt.where(Milestone.person == rule.person)
    milestones = [m for m in session.exec(stmt) if postable(m)]
    articles: dict[int, Article] = {}
    tags: dict[int, list[str]] = {}
    base_channel = channel_context(channel)
    # One post per minute on the channel, unless it asks to share slots.
    taken = set() if rule.share_slots else taken_minutes(session, channel, start)
    draft = needs_review(channel)

    def add(m: Milestone, template: str, when: dt.datetime, reason: str, **extra: Any) -> None:
        if m.article_id not in articles:
            article = session.get(Article, m.article_id)
            assert article is not None
            articles[m.article_id] = article
            tags[m.article_id] = article_tags(session, article)
        article = articles[m.article_id]
        context = {
            "milestone": milestone_context(m),
            "article": article_context(article, tags[m.article_id]),
            "channel": base_channel,
            **extra,
        }
        text = render(env, template, context)
        post = new_post(
            channel, text, when, template=template, kind="milestone", source_id=m.id, draft=draft
        )
        post.article_id = article.id
        post.link = article.url
        post.expires_at = day_bounds(when.astimezone(tz).date(), channel.timezone)[1]
        post.reason = reason
        session.add(post)
        result.created.append(post)
        if not rule.share_slots:
            taken.add(minute(when))

    def time_for(day: dt.date, done: set[dt.date]) -> tuple[dt.datetime, str] | None:
        """When to post on `day`, or None when outside the window, already
        planned, or every minute the channel could use that day is taken."""
        nominal = time_on(channel, day, rule.at)
        assert nominal is not None  # nothing is taken
        if not start <= nominal[0] <= until:
            return None
        if day in done:
            result.skipped += 1
            return None
        slot = time_on(channel, day, rule.at, taken)
        if slot is None or not start <= slot[0] <= until:
            result.notes.append(
                f"{channel.name} {day.isoformat()}: every slot and the calendar time "
                f"{rule.at} already hold a post; nothing added (--share-slots allows it)"
            )
            return None
        return slot

    def repeats(m: Milestone, when: dt.datetime) -> bool:
        """A post of `m` on this channel near `when` already says it."""
        near = recent_repeat(session, channel, m.id or 0, when)
        if near is None:
            return False
        result.notes.append(
            f"milestone {m.id}: post {near.id} ({near.template}, "
            f"{near.due_at.date().isoformat()}) already says it; no calendar repeat"
        )
        return True

    first_year = start.astimezone(tz).year
    last_year = until.astimezone(tz).year
    for m in milestones:
        assert m.id is not None
        if m.tense == "past" and m.precision == "day" and rule.on_this_day:
            done = _planned_days(session, channel, m.id, "on_this_day")
            for year in range(max(first_year, m.date.year + 1), last_year + 1):
                day = anniversary(m.date, year, rule.leap_day)
                if day is None:
                    result.notes.append(
                        f"milestone {m.id} (29 February) has no anniversary in {year}: "
                        "leap-day policy skip"
                    )
                    continue
                slot = time_for(day, done)
                if slot is None:
                    continue
                when, how = slot
                years = year - m.date.year
                reason = (
                    f"on this day: milestone {m.id} happened on {m.date.isoformat()}, "
                    f"{years} year{'s' if years != 1 else ''} before {day.isoformat()} "
                    f"({channel.timezone}); {how}"
                )
                if day.month != m.date.month or day.day != m.date.day:
                    reason += f"; 29 February in a common year, leap-day policy {rule.leap_day}"
                if repeats(m, when):
                    continue
                add(m, "on_this_day", when, reason, years=years, day=day)
        elif m.tense == "planned" and rule.countdown:
            if m.precision != "day":
                result.notes.append(
                    f"milestone {m.id} is known only to the {m.precision}; no countdown"
                )
                continue
            done = _planned_days(session, channel, m.id, "countdown")
            for days_left in rule.countdown:
                day = m.date - dt.timedelta(days=days_left)
                slot = time_for(day, done)
                if slot is None:
                    continue
                when, how = slot
                reason = (
                    f"countdown: {days_left} day{'s' if days_left != 1 else ''} before "
                    f"milestone {m.id} on {m.date.isoformat()} ({channel.timezone}); {how}"
                )
                add(m, "countdown", when, reason, days_left=days_left, day=day)
    if rule.throwback:
        _plan_throwbacks(
            session, channel, rule, milestones, start, until, add, result, taken, repeats
        )
    session.flush()
    return result


def _plan_throwbacks(
    session: Session,
    channel: Channel,
    rule: CalendarRule,
    milestones: list[Milestone],
    start: dt.datetime,
    until: dt.datetime,
    add: Any,
    result: PlanResult,
    taken: set[dt.datetime],
    repeats: Any,
) -> None:
    """One throwback per year- or month-precise past milestone, oldest first, each
    in the next throwback slot that no pending post of the channel occupies;
    none for a milestone the channel posted about within the repeat window."""
    assert rule.throwback
    todo = []
    for m in milestones:
        if m.tense != "past" or m.precision == "day":
            continue
        if _planned_days(session, channel, m.id or 0, "throwback"):
            result.skipped += 1
            continue
        todo.append(m)
    if not todo:
        return
    slots = iter_slots(parse_slots(rule.throwback, channel.timezone), start)
    for when in slots:
        if when > until or not todo:
            break
        if minute(when) in taken:
            continue
        m = todo[0]
        if repeats(m, when):
            todo.pop(0)
            continue
        todo.pop(0)
        add(
            m,
            "throwback",
            when,
            f"throwback: milestone {m.id} is known only to the {m.precision} "
            f"({m.date.year}), so it has no anniversary; next free throwback slot "
            f"of '{rule.throwback}'",
        )
    for m in todo:
        result.notes.append(f"milestone {m.id}: no free throwback slot before the window ends")
