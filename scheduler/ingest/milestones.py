"""Dated milestones: sentences that tie an event to a date, with precision and tense.

Explicit dates ("March 3, 2024", "June 2019", "in 2016") are read as written.
Dates relative to the article ("last year", "two months ago") count from the
reference date (publication date, else today). Dates relative to the story
("a couple of months later") count from the last explicit past date before them,
keeping that date's precision, since the story gives nothing finer.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import regex

from scheduler.ingest.text import Span
from scheduler.ingest.types import ExtractedMilestone, Precision

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)"
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3,
    "several": 3, "couple of": 2,
}  # fmt: skip
_COUNT = (
    r"(?P<count>\d+|a couple of|couple of|a few|several|an?|"
    r"one|two|three|four|five|six|seven|eight|nine|ten)"
)
_UNIT = r"(?P<unit>day|week|month|year|season)s?"

_PATTERNS: list[tuple[str, regex.Pattern]] = [
    ("dmy", regex.compile(rf"(?i)\b(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+{_YEAR}\b")),
    ("mdy", regex.compile(rf"(?i)\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+{_YEAR}\b")),
    ("iso", regex.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("my", regex.compile(rf"(?i)\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b")),
    ("md", regex.compile(rf"(?i)\b{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\b(?!,?\s+\d)")),
    ("y", regex.compile(rf"(?<![\d$£€#,.\-/])\b{_YEAR}\b(?![\d%,]\d|\s*%|-\d\d-)")),
    ("deictic", regex.compile(
        r"(?i)\b(?P<rel>last|next|past|coming)\s+(?P<unit>year|month|season)\b")),
    ("ago", regex.compile(rf"(?i)\b{_COUNT}\s+{_UNIT}\s+ago\b")),
    ("later", regex.compile(
        rf"(?i)\b(?:just\s+)?{_COUNT}\s+{_UNIT}\s+(?P<dir>later|after|afterwards|earlier|before)\b")),
    ("following", regex.compile(
        r"(?i)\bthe\s+(?P<dir>following|next|previous)\s+(?P<unit>year|month|season)\b")),
]  # fmt: skip

_FUTURE = regex.compile(
    r"(?i)\b(?:will|shall|'ll|’ll|going\s+to|plans?\s+to|planning|planned|set\s+to|"
    r"scheduled|aims?\s+to|aiming|hopes?\s+to|hoping|expects?\s+to|expected\s+to|intends?\s+to|"
    r"is\s+to|are\s+to|upcoming|due\s+to|bid\s+for|targets?|next)\b"
)
# "May" and "March" are also a verb and a noun; without a day or year next to
# them they are too ambiguous to date a sentence.
_AMBIGUOUS_MONTHS = {"may", "march", "jan", "mar", "jun", "oct", "sept", "dec"}


@dataclass(frozen=True)
class _Date:
    date: dt.date
    precision: Precision
    anaphoric: bool = False


def find_milestones(
    text: str,
    sents: Sequence[Span],
    reference: dt.date,
    in_quote: Callable[[int], bool],
    person_at: Callable[[int, int], str | None],
) -> list[ExtractedMilestone]:
    out: list[ExtractedMilestone] = []
    anchor: _Date | None = None
    for s_start, s_end in sents:
        sentence = text[s_start:s_end]
        if sentence.rstrip(' ”"').endswith("?"):
            continue
        found = _first_date(sentence, s_start, reference, anchor, in_quote)
        if found is None:
            continue
        future_words = bool(_FUTURE.search(_unquoted(sentence, s_start, in_quote)))
        tense = _tense(found, reference, future_words)
        if tense == "past" and not found.anaphoric and not future_words:
            anchor = found
        out.append(
            ExtractedMilestone(
                text=sentence,
                start=s_start,
                end=s_end,
                date=found.date,
                precision=found.precision,
                tense=tense,
                person=person_at(s_start, s_end),
            )
        )
    return out


def _unquoted(sentence: str, offset: int, in_quote: Callable[[int], bool]) -> str:
    return "".join(" " if in_quote(offset + i) else ch for i, ch in enumerate(sentence))


def _first_date(
    sentence: str,
    offset: int,
    reference: dt.date,
    anchor: _Date | None,
    in_quote: Callable[[int], bool],
) -> _Date | None:
    best: tuple[int, _Date] | None = None
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(sentence):
            if in_quote(offset + m.start()):
                continue
            date = _interpret(kind, m, reference, anchor)
            if date is None:
                continue
            # The most precise explicit date wins; among equals, the first.
            rank = {"day": 0, "month": 1, "year": 2}[date.precision] + (3 if date.anaphoric else 0)
            if best is None or rank < best[0]:
                best = (rank, date)
            break
    return best[1] if best else None


def _interpret(kind: str, m: regex.Match, reference: dt.date, anchor: _Date | None) -> _Date | None:
    g = m.groupdict()
    try:
        if kind in ("dmy", "mdy"):
            return _Date(dt.date(int(g["year"]), _month(g["month"]), int(g["day"])), "day")
        if kind == "iso":
            return _Date(dt.date(int(g["year"]), int(g["month"]), int(g["day"])), "day")
        if kind == "my":
            return _Date(dt.date(int(g["year"]), _month(g["month"]), 1), "month")
        if kind == "md":
            if g["month"].lower().rstrip(".") in _AMBIGUOUS_MONTHS:
                return None
            return _Date(dt.date(reference.year, _month(g["month"]), int(g["day"])), "day")
        if kind == "y":
            return _Date(dt.date(int(g["year"]), 1, 1), "year")
    except ValueError:
        return None
    unit = g.get("unit", "year").lower()
    if kind == "deictic":
        step = {"last": -1, "past": -1, "next": 1, "coming": 1}[g["rel"].lower()]
        return _shift(reference, unit, step, "month" if unit == "month" else "year")
    if kind == "ago":
        return _shift(reference, unit, -_count(g["count"]), _precision_of(unit))
    if anchor is None:
        return None
    if kind == "later":
        sign = 1 if g["dir"].lower() in ("later", "after", "afterwards") else -1
        shifted = _shift(anchor.date, unit, sign * _count(g["count"]), anchor.precision)
    else:  # "the following year"
        sign = -1 if g["dir"].lower() == "previous" else 1
        shifted = _shift(anchor.date, unit, sign, anchor.precision)
    if shifted is None:
        return None
    # Finer than the anchor would be invented precision.
    coarse = _coarsest(anchor.precision, _precision_of(unit))
    return _Date(_truncate(shifted.date, coarse), coarse, anaphoric=True)


def _tense(found: _Date, reference: dt.date, future_words: bool) -> str:
    start, end = _period(found)
    if start > reference:
        return "planned"
    if end < reference:
        return "past"
    return "planned" if future_words else "past"


def _period(found: _Date) -> tuple[dt.date, dt.date]:
    d = found.date
    if found.precision == "year":
        return dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)
    if found.precision == "month":
        last = calendar.monthrange(d.year, d.month)[1]
        return dt.date(d.year, d.month, 1), dt.date(d.year, d.month, last)
    return d, d


def _shift(base: dt.date, unit: str, n: int, precision: Precision) -> _Date | None:
    try:
        if unit in ("year", "season"):
            d = base.replace(year=base.year + n, day=min(base.day, 28))
        elif unit == "month":
            months = base.year * 12 + base.month - 1 + n
            d = dt.date(months // 12, months % 12 + 1, min(base.day, 28))
        elif unit == "week":
            d = base + dt.timedelta(weeks=n)
        else:
            d = base + dt.timedelta(days=n)
    except (ValueError, OverflowError):
        return None
    return _Date(_truncate(d, precision), precision)


def _truncate(d: dt.date, precision: Precision) -> dt.date:
    if precision == "year":
        return dt.date(d.year, 1, 1)
    if precision == "month":
        return dt.date(d.year, d.month, 1)
    return d


def _precision_of(unit: str) -> Precision:
    return {"day": "day", "week": "day", "month": "month"}.get(unit, "year")  # type: ignore[return-value]


def _coarsest(a: Precision, b: Precision) -> Precision:
    order = ["day", "month", "year"]
    return a if order.index(a) >= order.index(b) else b


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")]


__all__ = ["find_milestones"]
