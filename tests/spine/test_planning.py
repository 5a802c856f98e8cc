"""Posting slots computed by APScheduler's triggers, in the channel's zone."""

from __future__ import annotations

import datetime as dt
from itertools import islice
from zoneinfo import ZoneInfo

import pytest

from scheduler.errors import PlanningError
from scheduler.planning.slots import iter_slots, parse_slots
from scheduler.when import parse_when

TORONTO = ZoneInfo("America/Toronto")


def _local(times, tz=TORONTO):
    return [t.astimezone(tz).strftime("%a %H:%M") for t in times]


def test_weekday_slots_skip_the_weekend():
    trigger = parse_slots("mon-fri 09:00,13:00", "America/Toronto")
    start = dt.datetime(2026, 11, 27, 12, 0, tzinfo=TORONTO)  # a Friday
    got = list(islice(iter_slots(trigger, start), 4))
    assert _local(got) == ["Fri 13:00", "Mon 09:00", "Mon 13:00", "Tue 09:00"]
    assert all(t.tzinfo == dt.UTC for t in got)


def test_slots_keep_local_time_across_dst():
    trigger = parse_slots("mon-sun 09:00", "America/Toronto")
    start = dt.datetime(2026, 3, 6, 10, 0, tzinfo=TORONTO)
    got = list(islice(iter_slots(trigger, start), 4))  # DST starts 8 March 2026
    assert _local(got) == ["Sat 09:00", "Sun 09:00", "Mon 09:00", "Tue 09:00"]
    assert [t.hour for t in got] == [14, 13, 13, 13]


def test_several_groups():
    trigger = parse_slots("mon-fri 12:00; sat,sun 10:30", "UTC")
    start = dt.datetime(2026, 11, 27, 13, 0, tzinfo=dt.UTC)  # Friday after noon
    got = list(islice(iter_slots(trigger, start), 3))
    assert _local(got, dt.UTC) == ["Sat 10:30", "Sun 10:30", "Mon 12:00"]


@pytest.mark.parametrize(
    "spec", ["", "mon-fri", "mon-fri 9am", "funday 09:00", "mon 24:00", "a b c"]
)
def test_bad_slots(spec):
    with pytest.raises(PlanningError):
        parse_slots(spec, "UTC")


def test_parse_when():
    now = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    assert parse_when("now", now=now) == now
    assert parse_when("+90m", now=now) == now + dt.timedelta(minutes=90)
    assert parse_when("2026-12-01 09:00", "America/Toronto") == dt.datetime(
        2026, 12, 1, 14, 0, tzinfo=dt.UTC
    )
    assert parse_when("2026-12-01T09:00+01:00") == dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    with pytest.raises(PlanningError, match="bad date"):
        parse_when("31/12/2026")
