"""Reading the times people type: ISO 8601 (a time without a zone is in the
channel's zone), `now`, or an offset like `+30m`, `+2h`, `+1d`."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from zoneinfo import ZoneInfo

from scheduler.errors import PlanningError

_OFFSET = re.compile(r"^\+(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_when(value: str, timezone: str = "UTC", now: dt.datetime | None = None) -> dt.datetime:
    """Return an aware UTC datetime or raise PlanningError with the reason."""
    text = value.strip()
    now = now or dt.datetime.now(dt.UTC)
    if text.lower() == "now":
        return now
    m = _OFFSET.match(text.lower())
    if m:
        try:
            return _near(now + dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}), value)
        except (OverflowError, ValueError):
            raise PlanningError(f"bad date {value!r}: {_TOO_FAR}") from None
    try:
        parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError as exc:
        raise PlanningError(f"bad date {value!r}: {_why(text, exc)}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    try:
        return _near(parsed.astimezone(dt.UTC), value)
    except (OverflowError, ValueError):
        raise PlanningError(f"bad date {value!r}: {_TOO_FAR}") from None


def _near(when: dt.datetime, value: str) -> dt.datetime:
    # Later times are refused while they are still representable: planning
    # and expiry add days and years to them.
    if when.year > LAST_YEAR:
        raise PlanningError(f"bad date {value!r}: {_TOO_FAR}")
    return when


#: The last year a time may fall in.
LAST_YEAR = 9000
_TOO_FAR = "it lies past the year 9000; give a nearer time"
_ISO_HINT = "use ISO 8601 like 2026-12-01T09:00, 'now' or '+2h'"
_DATE_SHAPE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")


def _why(text: str, exc: ValueError) -> str:
    """A date in the right shape whose day or time does not exist says so
    (2026-02-30: February 2026 has 28 days), rather than asking for ISO 8601."""
    m = _DATE_SHAPE.match(text)
    if m:
        year, month, day = (int(g) for g in m.groups())
        if not 1 <= month <= 12:
            return f"there is no month {month}"
        if year >= 1:
            last = calendar.monthrange(year, month)[1]
            if not 1 <= day <= last:
                return f"{calendar.month_name[month]} {year} has {last} days"
        reason = str(exc)
        if "out of range" in reason or "must be in" in reason:
            return f"{reason}; {_ISO_HINT}"
    return _ISO_HINT


def local(when: dt.datetime, timezone: str) -> dt.datetime:
    return when.astimezone(ZoneInfo(timezone))


def show(when: dt.datetime | None, timezone: str) -> str:
    if when is None:
        return ""
    return local(when, timezone).strftime("%Y-%m-%d %H:%M %Z")
