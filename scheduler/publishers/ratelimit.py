"""Reading how long a platform asks us to wait. Every platform spells it
differently: Mastodon sends an ISO 8601 reset time, Bluesky and X epoch seconds
under different header names, Discord and Telegram put seconds in the JSON body."""

from __future__ import annotations

import datetime as dt

import httpx

from scheduler.publishers.base import retry_after


def _now(now: dt.datetime | None) -> dt.datetime:
    return now or dt.datetime.now(dt.UTC)


def seconds(value: object) -> float | None:
    """A plain number of seconds (int, float or numeric string)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return max(0.0, float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def until_epoch(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds until a Unix time given in seconds (decimals allowed)."""
    moment = seconds(value)
    if moment is None:
        return None
    return max(0.0, moment - _now(now).timestamp())


def until_iso(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds until an ISO 8601 time such as `2026-01-01T12:05:00.000000Z`."""
    if not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return max(0.0, (moment - _now(now)).total_seconds())


def until_next_utc_day(now: dt.datetime | None = None) -> float:
    """Seconds until 00:00 UTC: when LinkedIn's daily quotas reset."""
    current = _now(now).astimezone(dt.UTC)
    tomorrow = (current + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return (tomorrow - current).total_seconds()


def first(*waits: float | None) -> float | None:
    for wait in waits:
        if wait is not None:
            return wait
    return None


def header_retry_after(response: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """The standard Retry-After header (seconds or an HTTP date)."""
    return retry_after(response, now)
