"""Posting slots are exact in the channel's time zone across DST changes, and
a cadence does not drift over years of slots."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session

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


def test_spring_forward_gap_slot_fires_once_shifted() -> None:
    start = dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
    slots = local_slots("mon-sun 02:30", "America/Toronto", start, 3)
    assert [(s.date().day, s.hour, s.minute) for s in slots] == [(7, 2, 30), (8, 3, 30), (9, 2, 30)]


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
