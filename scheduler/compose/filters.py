"""Filters available inside post templates."""

from __future__ import annotations

import datetime as dt

import regex

from scheduler.compose.length import truncate_graphemes

_WORD = regex.compile(r"[\p{L}\p{N}_]+")


def hashtag(value: str) -> str:
    """'Grain Valley' -> '#GrainValley'; empty when nothing taggable is left."""
    words = _WORD.findall(str(value))
    tag = "".join(w[:1].upper() + w[1:] for w in words)
    if not tag or tag.isdigit():
        return ""
    return "#" + tag


def shorten(value: str, limit: int = 200) -> str:
    return truncate_graphemes(str(value), int(limit))


def date_format(value: dt.date | dt.datetime, precision: str = "day") -> str:
    """A date at the precision it is known: 2016, June 2016 or 3 June 2016."""
    if precision == "year":
        return f"{value.year}"
    if precision == "month":
        return value.strftime("%B %Y")
    return f"{value.day} {value.strftime('%B %Y')}"


def years_since(value: dt.date, today: dt.date | None = None) -> int:
    today = today or dt.date.today()
    return today.year - value.year - ((today.month, today.day) < (value.month, value.day))


FILTERS = {
    "hashtag": hashtag,
    "shorten": shorten,
    "date_format": date_format,
    "years_since": years_since,
}
