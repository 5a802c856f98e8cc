"""The rules of recurring posts, as kept in `Channel.recurring` (JSON):

    {"evergreen": [{"category": "grit", "slots": "wed 12:00", "cooldown_days": 30,
                    "template": "evergreen"}],
     "calendar": {"on_this_day": true, "throwback": "thu 12:00", "countdown": [7, 1],
                  "at": "09:00", "leap_day": "feb28", "person": null}}

Reading, checking and writing them lives here, apart from the planners that act
on them (`planning.evergreen`, `planning.anniversaries`, `planning.recurring`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from scheduler.errors import ConfigError
from scheduler.planning.slots import parse_slots
from scheduler.storage.models import Channel

LEAP_DAY_POLICIES = ("feb28", "mar1", "skip")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass
class EvergreenRule:
    category: str
    slots: str
    cooldown_days: float = 30.0
    template: str = "evergreen"


@dataclass
class CalendarRule:
    on_this_day: bool = True
    #: Slots for throwback posts of year- or month-precise past milestones; None: off.
    throwback: str | None = None
    #: Days before a planned (day-precise) milestone to post a countdown.
    countdown: list[int] = field(default_factory=list)
    #: Local time used on a day the channel has no slot.
    at: str = "09:00"
    #: What a 29 February milestone does in a year without one.
    leap_day: str = "feb28"
    #: Only milestones about this person (None: all).
    person: str | None = None
    #: Calendar posts may take a minute another post of the channel holds.
    share_slots: bool = False


@dataclass
class Recurring:
    evergreen: list[EvergreenRule] = field(default_factory=list)
    calendar: CalendarRule | None = None

    def as_json(self) -> dict[str, Any] | None:
        if not self.evergreen and self.calendar is None:
            return None
        return {
            "evergreen": [asdict(r) for r in self.evergreen],
            "calendar": asdict(self.calendar) if self.calendar else None,
        }


def load(channel: Channel) -> Recurring:
    data = channel.recurring or {}
    try:
        rules = [EvergreenRule(**r) for r in data.get("evergreen") or []]
        cal = data.get("calendar")
        calendar = CalendarRule(**cal) if cal else None
    except TypeError as exc:
        raise ConfigError(f"channel {channel.name}: bad recurring settings: {exc}") from None
    return Recurring(rules, calendar)


def check_rule(rule: EvergreenRule, timezone: str) -> EvergreenRule:
    if not rule.category.strip():
        raise ConfigError("an evergreen rule needs a quote category")
    if rule.cooldown_days < 0:
        raise ConfigError("--cooldown cannot be negative")
    parse_slots(rule.slots, timezone)
    return rule


def check_calendar(rule: CalendarRule, timezone: str) -> CalendarRule:
    if rule.leap_day not in LEAP_DAY_POLICIES:
        raise ConfigError(
            f"--leap-day must be one of {', '.join(LEAP_DAY_POLICIES)}, not {rule.leap_day!r}"
        )
    if not _HHMM.match(rule.at):
        raise ConfigError(f"--at takes HH:MM (24-hour), not {rule.at!r}")
    if any(d < 0 for d in rule.countdown):
        raise ConfigError("countdown days cannot be negative")
    if rule.throwback:
        parse_slots(rule.throwback, timezone)
    rule.countdown = sorted(set(rule.countdown), reverse=True)
    return rule


def set_evergreen(channel: Channel, rule: EvergreenRule | None, *, category: str) -> Recurring:
    """Add or replace the channel's rule for `category` (None removes it)."""
    config = load(channel)
    config.evergreen = [r for r in config.evergreen if r.category != category]
    if rule is not None:
        config.evergreen.append(check_rule(rule, channel.timezone))
    channel.recurring = config.as_json()
    return config


def set_calendar(channel: Channel, rule: CalendarRule | None) -> Recurring:
    config = load(channel)
    config.calendar = check_calendar(rule, channel.timezone) if rule else None
    channel.recurring = config.as_json()
    return config


def parse_duration_days(value: str) -> float:
    """`30d`, `2w`, `12h` or a bare number of days."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([hdw]?)\s*", value.lower())
    if not m:
        raise ConfigError(f"bad duration {value!r}: use e.g. 30d, 2w or 12h")
    amount = float(m.group(1))
    return amount * {"h": 1 / 24, "d": 1.0, "w": 7.0, "": 1.0}[m.group(2)]


def describe(data: dict[str, Any] | None) -> str:
    """Recurring settings in a few words, for listings."""
    if not data:
        return ""
    words = [
        f"evergreen {r['category']} @ {r['slots']} ({r['cooldown_days']:g}d cooldown)"
        for r in data.get("evergreen") or []
    ]
    cal = data.get("calendar")
    if cal:
        bits = []
        if cal.get("on_this_day"):
            bits.append("on this day")
        if cal.get("throwback"):
            bits.append(f"throwback @ {cal['throwback']}")
        if cal.get("countdown"):
            bits.append("countdown " + ",".join(str(d) for d in cal["countdown"]) + " days")
        words.append("calendar: " + (", ".join(bits) or "nothing"))
    return "; ".join(words)
