"""Reading the times people type: ISO 8601 (a time without a zone is in the
channel's zone), `now`, or an offset like `+30m`, `+2h`, `+1d`."""

from __future__ import annotations

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
        return now + dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        parsed = dt.datetime.fromisoformat(text.replace(" ", "T", 1) if " " in text else text)
    except ValueError:
        raise PlanningError(
            f"bad date {value!r}: use ISO 8601 like 2026-12-01T09:00, 'now' or '+2h'"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
    return parsed.astimezone(dt.UTC)


def local(when: dt.datetime, timezone: str) -> dt.datetime:
    return when.astimezone(ZoneInfo(timezone))


def show(when: dt.datetime | None, timezone: str) -> str:
    if when is None:
        return ""
    return local(when, timezone).strftime("%Y-%m-%d %H:%M %Z")
