"""Posting slots are exact in the channel's time zone across DST changes, and
a cadence does not drift over years of slots."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

from scheduler.errors import PlanningError
from scheduler.planning.slots import free_slots, iter_slots, parse_slots
from scheduler.storage import database
from scheduler.storage.models import Channel

TORONTO = ZoneInfo("America/Toronto")


def local_slots(spec: str, tz: str, start: dt.datetime, n: int) -> list[dt.datetime]:
    trigger = parse_slots(spec, tz)
    return [s.astimezone(ZoneInfo(tz)) for s in itertools.islice(iter_slots(trigger, start), n)]


@pytest.mark.parametrize(
    ("start", "change"),
    [
        (dt.datetime(2026, 3, 5, tzinfo=dt.UTC), dt.date(2026, 3, 8)),
        (dt.datetime(2026, 10, 29, tzinfo=dt.UTC), dt.date(2026, 11, 1)),
    ],
)
def test_nine_in_toronto_stays_nine_across_dst(start: dt.datetime, change: dt.date) -> None:
    slots = local_slots("mon-sun 09:00", "America/Toronto", start, 7)
    assert [(s.hour, s.minute) for s in slots] == [(9, 0)] * 7
    assert [s.date() for s in slots] == [start.date() + dt.timedelta(days=i) for i in range(7)]
    offsets = {s.date() >= change: s.utcoffset() for s in slots}
    assert offsets[False] != offsets[True]  # the UTC time moved, the local one did not


def test_a_cadence_does_not_drift_over_two_years() -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    slots = local_slots("mon-fri 09:00,13:00; sat 10:30", "America/Toronto", start, 1300)
    for s in slots:
        if s.weekday() < 5:
            assert (s.hour, s.minute) in {(9, 0), (13, 0)}, s
        else:
            assert s.weekday() == 5 and (s.hour, s.minute) == (10, 30), s
        assert s.second == 0 and s.microsecond == 0
    # Every slot of every week, none twice, none skipped.
    assert len(set(slots)) == len(slots)
    assert slots == sorted(slots)
    weeks = (slots[-1].date() - slots[0].date()).days // 7
    assert abs(len(slots) - 11 * weeks) <= 11


def test_fall_back_slot_in_the_repeated_hour_fires_once() -> None:
    start = dt.datetime(2026, 10, 31, tzinfo=dt.UTC)
    slots = local_slots("mon-sun 01:00,01:30,02:00", "America/Toronto", start, 9)
    walls = [s.replace(tzinfo=None) for s in slots]
    assert len(set(walls)) == len(walls)
    nov1 = [s for s in slots if s.date() == dt.date(2026, 11, 1)]
    assert [(s.hour, s.minute) for s in nov1] == [(1, 0), (1, 30), (2, 0)]
    # The first 01:00 and 01:30 (still summer time), then 02:00 standard time.
    assert [s.utcoffset() for s in nov1] == [dt.timedelta(hours=-4)] * 2 + [dt.timedelta(hours=-5)]


def test_spring_forward_gap_slot_fires_once_at_the_end_of_the_gap() -> None:
    start = dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
    slots = local_slots("mon-sun 02:30", "America/Toronto", start, 3)
    assert [(s.date().day, s.hour, s.minute) for s in slots] == [(7, 2, 30), (8, 3, 0), (9, 2, 30)]


def test_two_slots_in_one_gap_both_go_out() -> None:
    """The issue's case: `sun 02:00,02:30` gave 03:00 only on the change day."""
    start = dt.datetime(2026, 3, 8, tzinfo=dt.UTC)
    slots = local_slots("sun 02:00,02:30", "America/Toronto", start, 4)
    assert [s.strftime("%d %H:%M") for s in slots] == [
        "08 03:00",
        "08 03:01",
        "15 02:00",
        "15 02:30",
    ]


def test_bad_day_range_is_one_line_error() -> None:
    with pytest.raises(PlanningError, match="range runs mon to sun"):
        parse_slots("fri-mon 09:00", "UTC")


# -- Spring-forward gaps against zoneinfo, over several zones and years ------------

GAP_ZONES = [
    "America/Toronto",
    "Europe/London",
    "Pacific/Chatham",  # 02:45 -> 03:45
    "Africa/Casablanca",  # moves around Ramadan
    "Australia/Lord_Howe",  # a 30-minute gap
    "America/Santiago",  # at midnight: 00:00 -> 01:00
    "America/Havana",  # at midnight too
]
YEARS = range(2024, 2029)


def spring_forward_changes(zone: str, year: int) -> list[dt.datetime]:
    """The UTC instants in `year` where `zone`'s offset grows, to the minute,
    found by stepping through the year rather than from any library's table."""
    tz = ZoneInfo(zone)
    t = dt.datetime(year, 1, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + 1, 1, 1, tzinfo=dt.UTC)
    changes = []
    while t < end:
        nxt = t + dt.timedelta(hours=1)
        if nxt.astimezone(tz).utcoffset() > t.astimezone(tz).utcoffset():
            m = t
            while m.astimezone(tz).utcoffset() == t.astimezone(tz).utcoffset():
                m += dt.timedelta(minutes=1)
            changes.append(m)
        t = nxt
    return changes


GAPS = [
    (zone, change)
    for zone in GAP_ZONES
    for y in YEARS
    for change in spring_forward_changes(zone, y)
]


def test_the_gap_table_covers_every_zone() -> None:
    assert {zone for zone, _ in GAPS} == set(GAP_ZONES)
    assert len(GAPS) >= len(GAP_ZONES) * len(YEARS) - 5  # Casablanca's dates vary


@pytest.mark.parametrize(("zone", "change"), GAPS, ids=[f"{z}-{c:%Y%m%d}" for z, c in GAPS])
def test_every_slot_goes_out_once_a_day_across_a_gap(zone: str, change: dt.datetime) -> None:
    tz = ZoneInfo(zone)
    before, after = (change - dt.timedelta(minutes=1)).astimezone(tz), change.astimezone(tz)
    gap_start = (before + dt.timedelta(minutes=1)).replace(tzinfo=None)  # first skipped minute
    gap_end = after.replace(tzinfo=None)  # first valid wall time after it
    width = gap_end - gap_start
    walls = {
        gap_start,  # first minute of the gap
        gap_start + width / 2,  # inside it
        gap_end,  # the first valid time: exact, so gap slots must not merge with it
        gap_end + dt.timedelta(minutes=1),  # and the next minute too
        gap_start - dt.timedelta(minutes=30),
        gap_start.replace(hour=12, minute=0),
    }
    times = sorted({w.time() for w in walls})
    spec = "mon-sun " + ",".join(t.strftime("%H:%M") for t in times)
    days = [gap_end.date() + dt.timedelta(days=i) for i in (-1, 0, 1)]
    window_start = dt.datetime.combine(days[0], dt.time(0), tzinfo=tz)
    window_end = dt.datetime.combine(days[-1] + dt.timedelta(days=1), dt.time(0), tzinfo=tz)

    got = []
    for when in iter_slots(parse_slots(spec, zone), window_start):
        if when >= window_end:
            break
        got.append(when)
    assert got == sorted(got) and len(set(got)) == len(got), "in order, none twice"
    assert all(w.tzinfo == dt.UTC for w in got)

    for day in days:
        on_day = [w for w in got if w.astimezone(tz).date() == day]
        assert len(on_day) == len(times), (day, [w.astimezone(tz) for w in on_day])
        exact, in_gap = [], []
        for t in times:
            local = dt.datetime.combine(day, t, tzinfo=tz)
            utc = local.astimezone(dt.UTC)
            if utc.astimezone(tz).replace(tzinfo=None) == local.replace(tzinfo=None):
                exact.append(utc)
            else:
                in_gap.append(t)
        # Every slot that exists that day goes out at exactly its wall time...
        assert set(exact) <= set(on_day)
        # ...and the ones in the gap at the first valid instants after it, in
        # order, each on a minute no other slot of the day has.
        expected, m = [], change
        for _ in in_gap:
            while m in exact:
                m += dt.timedelta(minutes=1)
            expected.append(m)
            m += dt.timedelta(minutes=1)
        assert sorted(set(on_day) - set(exact)) == expected
        assert bool(in_gap) == (day == gap_end.date())


def test_free_slots_never_repeat_a_time(sqlite_url: str) -> None:
    engine = database.make_engine(sqlite_url)
    with Session(engine) as session:
        channel = Channel(
            name="t",
            platform="webhook",
            options={"url": "http://127.0.0.1:9/"},
            timezone="America/Toronto",
            slots="mon-sun 01:00,01:30",
        )
        session.add(channel)
        session.flush()
        found = free_slots(session, channel, dt.datetime(2026, 10, 30, tzinfo=dt.UTC), 10)
    engine.dispose()
    assert len(set(found)) == 10
    assert found == sorted(found)


def test_explain_and_calendar_times_follow_the_gap_rule() -> None:
    """`explain` and calendar posts use the planner's slot walk, not the cron
    search: on Toronto's spring-forward day `02:00,02:30` are 03:00 and 03:01,
    both slots, and a 02:30 calendar time lands at 03:00 that same day."""
    from scheduler.planning.anniversaries import time_on
    from scheduler.previews.explain import on_slot

    channel = Channel(
        name="c", platform="webhook", timezone="America/Toronto", slots="sun 02:00,02:30"
    )
    day = dt.date(2026, 3, 8)
    three = dt.datetime(2026, 3, 8, 3, 0, tzinfo=TORONTO).astimezone(dt.UTC)
    assert on_slot(channel, three)
    assert on_slot(channel, three + dt.timedelta(minutes=1))
    assert not on_slot(channel, three + dt.timedelta(minutes=2))

    weekday = Channel(name="w", platform="webhook", timezone="America/Toronto", slots="tue 09:00")
    when, how = time_on(weekday, day, "02:30")
    assert when == three and "calendar time 02:30" in how
    when, _ = time_on(weekday, dt.date(2026, 3, 9), "02:30")
    assert when == dt.datetime(2026, 3, 9, 2, 30, tzinfo=TORONTO).astimezone(dt.UTC)
