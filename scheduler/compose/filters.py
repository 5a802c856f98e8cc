"""Filters available inside post templates.

`quoted` and `fit` mark the pieces of a post that may be shortened to fit the
channel (`compose.fitting` gives them their room); `shorten(n)` sets a room by
hand. All three cut only between sentences or clauses (`compose.shortening`).
"""

from __future__ import annotations

import datetime as dt

import regex

from scheduler.compose import shortening

_WORD = regex.compile(r"[\p{L}\p{N}_]+")


def hashtag(value: str) -> str:
    """'Grain Valley' -> '#GrainValley'; empty when nothing taggable is left."""
    words = _WORD.findall(str(value))
    tag = "".join(w[:1].upper() + w[1:] for w in words)
    if not tag or tag.isdigit():
        return ""
    return "#" + tag


def shorten(value: str, limit: int = 200) -> str:
    """At most `limit` graphemes (or the channel's room, when less), cut
    between sentences or clauses, an ellipsis after a cut clause."""
    room = shortening.BUDGET.get()
    return shortening.shortened(str(value), int(limit) if room is None else min(room, int(limit)))


def fit(value: str) -> str:
    """The text whole, or shortened at a boundary to the room the channel leaves."""
    return shortening.shortened(str(value))


def quoted(value: str) -> str:
    """“The words” in quotation marks, whole or cut at a boundary to the room the
    channel leaves, with the ellipsis outside the marks: “First sentence.” …"""
    return shortening.quoted(str(value))


#: Spelled out here, not by strftime: the machine's locale must not change a
#: post's words or a quote card's bytes.
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def date_format(value: dt.date | dt.datetime, precision: str = "day") -> str:
    """A date at the precision it is known: 2016, June 2016 or 3 June 2016."""
    if precision == "year":
        return f"{value.year}"
    month = f"{MONTHS[value.month - 1]} {value.year}"
    if precision == "month":
        return month
    return f"{value.day} {month}"


def years_since(value: dt.date, today: dt.date | None = None) -> int:
    today = today or dt.date.today()
    return today.year - value.year - ((today.month, today.day) < (value.month, value.day))


FILTERS = {
    "hashtag": hashtag,
    "shorten": shorten,
    "fit": fit,
    "quoted": quoted,
    "date_format": date_format,
    "years_since": years_since,
}
