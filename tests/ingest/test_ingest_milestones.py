"""Dated milestones: the date, its precision, past or planned, and the person."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.ingest import extract

ARTICLE = (
    "Marta Kasprzak joined the Herons in 2022. She broke her wrist in March 2023, and "
    "two months later she was playing again.\n\n"
    "The Herons will move to a new arena on September 5, 2026.\n\n"
    "\u201cI scored my first points here in 2019,\u201d Kasprzak said.\n\n"
    "What will Kasprzak do in 2027?\n\n"
    "The club sold 2,021 season tickets."
)


def _by_year(published: dt.date) -> dict[int, tuple]:
    result = extract(ARTICLE, published=published)
    for m in result.milestones:
        assert ARTICLE[m.start : m.end] == m.text
    return {m.date.year: (m.date, m.precision, m.tense, m.person) for m in result.milestones}


def test_dates_precision_and_person() -> None:
    found = _by_year(dt.date(2025, 1, 10))
    assert found[2022] == (dt.date(2022, 1, 1), "year", "past", "Marta Kasprzak")
    assert found[2023] == (dt.date(2023, 3, 1), "month", "past", "Marta Kasprzak")
    assert found[2026] == (dt.date(2026, 9, 5), "day", "planned", None)


def test_dates_inside_quotes_questions_and_counts_are_not_milestones() -> None:
    found = _by_year(dt.date(2025, 1, 10))
    assert 2019 not in found  # inside a quote: the quote is posted as a quote
    assert 2027 not in found  # a question, not an event
    assert 2021 not in found  # "2,021 season tickets" is a count
    assert len(found) == 3


@pytest.mark.parametrize(
    ("published", "tense"),
    [(dt.date(2026, 1, 1), "planned"), (dt.date(2026, 12, 1), "past")],
)
def test_tense_is_relative_to_the_reference_date(published: dt.date, tense: str) -> None:
    assert _by_year(published)[2026][2] == tense


def test_same_year_uses_the_wording() -> None:
    text = "Quintana won her first race in 2025. Quintana will race a full season in 2025."
    tenses = [m.tense for m in extract(text, published=dt.date(2025, 4, 1)).milestones]
    assert tenses == ["past", "planned"]


def test_story_relative_date_counts_from_the_last_past_date() -> None:
    text = (
        "In June 2023, Elin Sandvik crashed on a descent. She will target the Tour in 2026. "
        "Just a few months later, Sandvik was back on her bike."
    )
    result = extract(text, published=dt.date(2025, 3, 1))
    later = result.milestones[-1]
    assert later.text.startswith("Just a few months later")
    assert (later.date, later.precision, later.tense) == (dt.date(2023, 9, 1), "month", "past")
    assert later.person == "Elin Sandvik"


def test_article_relative_date_counts_from_publication() -> None:
    text = "Jakob Lindqvist sold his herd last year."
    (m,) = extract(text, published=dt.date(2025, 8, 15)).milestones
    assert (m.date, m.precision, m.tense) == (dt.date(2024, 1, 1), "year", "past")
