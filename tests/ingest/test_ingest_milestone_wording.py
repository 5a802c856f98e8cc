"""A milestone's wording: its sentence made to stand alone as a post, or none
(and then no post is proposed). One test per shape; the articles are ours."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.ingest import extract

PUBLISHED = dt.date(2026, 11, 20)


def _wordings(text: str, published: dt.date | None = PUBLISHED) -> dict[int, str | None]:
    return {m.date.year: m.wording for m in extract(text, published=published).milestones}


def test_a_leading_pronoun_becomes_the_articles_person() -> None:
    text = (
        "Priya Nandakumar won the Coastal Rally on Sunday.\n\n"
        "“It was a long day,” Nandakumar said.\n\n"
        "She began rallying in 2015 and won her first national event in 2018."
    )
    assert _wordings(text)[2015] == (
        "Priya Nandakumar began rallying in 2015 and won her first national event in 2018."
    )


def test_a_pronoun_after_another_woman_is_named_is_not_guessed() -> None:
    text = (
        "Vera Holm will retire in January.\n\n"
        "Her 2016 bid for a title ended in a loss to Ines Castro, but she beat Castro later. "
        "She added a second title in 2019."
    )
    assert _wordings(text)[2019] is None


def test_a_bare_surname_becomes_the_full_name() -> None:
    text = "Tomas Ek won on Sunday.\n\nEk, 24, joined Vortex Racing in 2020 from a junior squad."
    assert (
        _wordings(text)[2020] == "Tomas Ek, 24, joined Vortex Racing in 2020 from a junior squad."
    )


def test_the_museum_becomes_the_museum_the_article_names() -> None:
    text = (
        "The Dunmore Gallery of Prints will reopen in March.\n\n"
        "The gallery closed in January 2024 for repairs."
    )
    assert (
        _wordings(text)[2024] == "The Dunmore Gallery of Prints closed in January 2024 for repairs."
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "The idea was first proposed in 2014.",
        "The previous record was set by Ana Ruiz in 2015.",
        "At its peak in 1974 it employed 2,800 people.",
        "In 2019 she took her first podium here.",
        "The company will report results on April 22, 2027.",
    ],
)
def test_what_leans_on_the_sentence_before_has_no_wording(sentence: str) -> None:
    text = f"Northfield news.\n\nA long first paragraph about other things entirely.\n\n{sentence}"
    assert list(_wordings(text).values()) == [None]


def test_the_story_relative_opener_goes_and_article_relative_words_are_dated() -> None:
    text = (
        "Elin Sandvik crashed in the Dolomites in June 2023.\n\n"
        "Two months later, Sandvik was back on her bike.\n\n"
        "Last year, Sandvik won the national title."
    )
    found = {m.expression: m.wording for m in extract(text, published=PUBLISHED).milestones}
    assert found["Two months later"] == "Elin Sandvik was back on her bike."
    assert found["Last year"] == "In 2025, Elin Sandvik won the national title."


def test_datelines_today_and_said_on_a_weekday_go() -> None:
    text = (
        "OSLO, Norway, Nov. 20, 2026 /Wirely/ -- Nordvik Cycling today announced the signing "
        "of Kari Lund on a two-year contract.\n\n"
        "A fossil found on a beach in 2023 is a new species, scientists said on Wednesday."
    )
    found = _wordings(text)
    assert (
        found[2026] == "Nordvik Cycling announced the signing of Kari Lund on a two-year contract."
    )
    assert found[2023] == "A fossil found on a beach in 2023 is a new species, scientists said."


def test_a_date_in_a_who_clause_posts_the_clause() -> None:
    text = (
        "The Lantern Prize went to Marisol Ortega on Sunday.\n\n"
        "Ortega, whose first film was shown at the Harbour Film Festival in 2019, thanked the cast."
    )
    assert _wordings(text)[2019] == (
        "Marisol Ortega’s first film was shown at the Harbour Film Festival in 2019."
    )


@pytest.mark.parametrize(
    "paragraph",
    [
        "Founded in 2014, Halcyon Tools is a maker of saws based in Leeds.",
        "Glaciers below 3,000 metres could disappear by 2050.",
        "The vaccine will not be available before the winter of 2027.",
        "“I write about people,” she told this newspaper in 1998.",
        "Profit rose to £412m in the six months to September, from £338m a year ago.",
        "Mayor Ana Ruiz proposed cuts, angering a council that rejected similar cuts last year.",
    ],
)
def test_not_events_are_not_milestones(paragraph: str) -> None:
    text = f"Northfield news.\n\nA long first paragraph about other things entirely.\n\n{paragraph}"
    assert extract(text, published=PUBLISHED).milestones == []


def test_an_about_section_and_a_headline_are_not_the_story() -> None:
    text = (
        "Helio delays first flight to 2028\n\n"
        "Helio Orbital has delayed its first crewed flight to 2028, blaming its heat shield.\n\n"
        "About Helio Orbital\n\n"
        "Helio Orbital was founded in 2019 in Leeds."
    )
    found = extract(text, published=PUBLISHED).milestones
    assert [m.text[:12] for m in found] == ["Helio Orbita"]
    assert found[0].start > 10


def test_a_month_and_day_take_the_nearest_year() -> None:
    text = (
        "Filler line one.\n\nA longer paragraph here.\n\nThe first payments go out on January 15."
    )
    (m,) = extract(text, published=dt.date(2026, 11, 27)).milestones
    assert (m.date, m.tense) == (dt.date(2027, 1, 15), "planned")


def test_a_releases_defined_terms_go() -> None:
    text = (
        "Harwick Marine plc (“Harwick”) said on Monday that it had agreed to buy Solent Tugs "
        "Ltd (the “Company”) in 2025 for £40 million."
    )
    assert _wordings(text)[2025] == (
        "Harwick Marine plc said that it had agreed to buy Solent Tugs Ltd in 2025 for £40 million."
    )


@pytest.mark.parametrize(
    ("sentence", "wording"),
    [
        (
            "A fall at the Harbour Cup in May 2021 left her with a broken wrist.",
            "A fall at the Harbour Cup in May 2021 left Marit Solheim with a broken wrist.",
        ),
        (
            "A mechanic rebuilt her bike overnight in April 2022, and she won the next race.",
            "A mechanic rebuilt Marit Solheim’s bike overnight in April 2022,"
            " and she won the next race.",
        ),
        (
            "In 2023, the Northfield Open gave her a wildcard.",
            "In 2023, the Northfield Open gave Marit Solheim a wildcard.",
        ),
    ],
)
def test_a_pronoun_later_in_the_sentence_is_named_when_nobody_is_before_it(
    sentence: str, wording: str
) -> None:
    """A race or a place named before "her" is not whom it means: the post
    names the person (the article's subject), as it does a leading "She"."""
    text = (
        "Marit Solheim will ride the winter series.\n\n“I am ready,” Solheim said.\n\n" + sentence
    )
    (year,) = [y for y in _wordings(text) if y < 2026]
    assert _wordings(text)[year] == wording


def test_a_later_pronoun_after_two_women_is_not_guessed() -> None:
    text = (
        "Marit Solheim and Ada Brekke will ride the winter series.\n\n"
        "A fall at the Harbour Cup in May 2021 left her with a broken wrist."
    )
    assert _wordings(text)[2021] is None


def test_a_paragraph_after_a_coachs_quote_is_about_the_player() -> None:
    """The paragraph before ends on the coach, who is quoted saying "she":
    neither that nor his being named last makes the next paragraph's "The
    forward" or "she" him (nor him a woman)."""
    text = (
        "Kelso Town Sign Defender Ruth Abena\n\n"
        "Kelso Town have signed Ruth Abena from Dunmore Athletic. "
        "Abena, 23, scored four times for Dunmore, where she also captained the side.\n\n"
        "Manager Colin Marr was pleased. “She reads the game early,” Marr said.\n\n"
        "The defender made her league debut in 2020 with Dunmore. "
        "In May 2024, she was named the league's player of the season."
    )
    wordings = _wordings(text)
    assert wordings[2020] == "Ruth Abena made her league debut in 2020 with Dunmore."
    assert wordings[2024] == "In May 2024, Ruth Abena was named the league's player of the season."
