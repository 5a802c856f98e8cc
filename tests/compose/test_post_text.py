"""Post text an editor would publish: cuts only between sentences or clauses,
the ellipsis outside a quote's marks, no leading linking words, no date said
twice, hashtags only from real names, the channel's credit and link options."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.accounts.channels import validate_options
from scheduler.compose import make_environment, render
from scheduler.compose.fitting import render_to_fit
from scheduler.compose.hashtags import subject_hashtags
from scheduler.compose.shortening import cut, quoted, shortened
from scheduler.compose.wording import names_date, standalone, without_leading_date
from scheduler.errors import ConfigError
from scheduler.publishers import ChannelInfo, publisher_class
from scheduler.publishers.split import split_thread

LONG = (
    "Nobody hands you a seat, so for three years I swept the shop floor at dawn to pay "
    "for tyres and fuel. You learn quickly what you will give up. My mother drove the "
    "truck to every race, and she never once asked me to stop, not even the winter we "
    "sold the tractor. I owe her every single lap I have ever driven."
)


def test_cut_keeps_whole_sentences_then_whole_clauses() -> None:
    whole = cut(LONG, 1000)
    assert whole.text == LONG and not whole.shortened
    two = cut(LONG, 150)
    assert two.shortened and two.text.endswith("give up.")
    clause = cut(LONG, 60)
    assert clause.text == "Nobody hands you a seat"
    # Not even the first clause fits: it is kept whole, never cut inside.
    assert cut("Unbreakable words without any pause in them at all.", 10).text.endswith("all.")


def test_quoted_puts_the_ellipsis_outside_the_marks() -> None:
    text = quoted(LONG, 150)
    assert text.startswith("“Nobody") and text.endswith("give up.” …")
    assert "…”" not in quoted(LONG, 40)
    assert quoted("Short.", 100) == "“Short.”"
    assert shortened(LONG, 60) == "Nobody hands you a seat…"


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Indeed, the crew rebuilt the car overnight.", "The crew rebuilt the car overnight."),
        ("In fact, she won twice that year.", "She won twice that year."),
        ("However, few drivers race on asphalt.", "Few drivers race on asphalt."),
        ("Meanwhile, the team moved to Ontario.", "The team moved to Ontario."),
        ("And she came back two months later.", "She came back two months later."),
        ("But the sponsor walked away in May.", "The sponsor walked away in May."),
        # Not linking words here: left alone.
        ("So far she has won twice.", "So far she has won twice."),
        ("Still waters run deep in Estevan.", "Still waters run deep in Estevan."),
        ("Andretti won the race.", "Andretti won the race."),
    ],
)
def test_standalone_drops_leading_linking_words(sentence: str, expected: str) -> None:
    assert standalone(sentence) == expected


def test_leading_date_phrases_are_found() -> None:
    assert without_leading_date("In 2016, the driver made history.") == "The driver made history."
    assert (
        without_leading_date("On December 3, 2021, she signed.")
        == "On December 3, 2021, she signed."
    )
    assert (
        without_leading_date("On 3 December 2021, she signed with the team.")
        == "She signed with the team."
    )
    assert without_leading_date("She won in 2016 at Estevan.") == "She won in 2016 at Estevan."
    assert names_date("She won in 2016.", dt.date(2016, 1, 1))
    assert not names_date("She won 20160 times.", dt.date(2016, 1, 1))


def _milestone(text: str, date: dt.date, precision: str, tense: str) -> dict:
    from scheduler.planning.plan import milestone_context
    from scheduler.storage.models import Milestone

    m = Milestone(
        id=1, article_id=1, text=text, start=0, end=len(text), date=date, precision=precision,
        tense=tense, person="Tessa Moreau",
    )  # fmt: skip
    return {
        "milestone": milestone_context(m),
        "article": {"title": "T", "url": None, "source": "s", "id": 1, "hashtags": []},
        "channel": {"name": "c", "platform": "x", "credit": None, "hashtags": False, "link": False},
        "years": 5,
        "day": date,
        "days_left": 3,
    }


def test_no_template_says_the_date_twice() -> None:
    env = make_environment()
    year = _milestone(
        "In 2016, the driver made history at Estevan.", dt.date(2016, 1, 1), "year", "past"
    )
    assert render(env, "milestone", year) == "In 2016, the driver made history at Estevan."
    assert render(env, "throwback", year).startswith("Throwback to 2016: The driver made history")
    day = _milestone(
        "Indeed, on 3 December 2021, she signed with Halvorsen Racing.",
        dt.date(2021, 12, 3), "day", "past",
    )  # fmt: skip
    text = render(env, "on_this_day", day)
    assert text.startswith("On this day in 2021 (5 years ago): She signed with Halvorsen Racing.")
    planned = _milestone(
        "However, she races at Daytona in February 2027.", dt.date(2027, 2, 1), "month", "planned"
    )
    assert render(env, "milestone", planned) == "Coming up: She races at Daytona in February 2027."
    assert render(env, "countdown", planned).startswith("3 days to go: She races at Daytona")
    undated = _milestone("In 2027, she moves up a series.", dt.date(2027, 1, 1), "year", "planned")
    assert render(env, "milestone", undated) == "Coming up (2027): She moves up a series."


def _x(**options: object):
    cls = publisher_class("x")
    return cls(ChannelInfo("x", "x", options, secret=None))


QUOTE = {
    "quote": {"text": LONG, "speaker": "Tessa Moreau", "cue": "said", "id": 1, "parts": 1},
    "article": {"title": "T", "url": "https://example.org/a", "source": "s", "id": 1,
                "hashtags": ["#TessaMoreau"]},
    "channel": {"name": "x", "platform": "x", "credit": "via Speed Weekly", "hashtags": True,
                "link": True},
}  # fmt: skip


def test_a_post_is_shortened_to_the_channels_own_limit_keeping_the_attribution() -> None:
    env = make_environment()
    x = _x()
    fitted = render_to_fit(env, "quote", QUOTE, x.fits)
    assert fitted.fits and fitted.shortened and x.fits(fitted.text)
    lines = fitted.text.splitlines()
    assert lines[0].endswith("” …") and lines[1] == "— Tessa Moreau"
    assert lines[2:] == ["via Speed Weekly", "#TessaMoreau", "https://example.org/a"]
    # A roomier limit keeps more: the room comes from the channel, not the template.
    roomy = render_to_fit(env, "quote", QUOTE, _x(max_length=1000).fits)
    assert not roomy.shortened and LONG in roomy.text
    # A channel that makes threads keeps the whole quote; the thread breaks between sentences.
    whole = render_to_fit(env, "quote", QUOTE, x.fits, thread=True)
    assert LONG in whole.text
    parts = split_thread(whole.text, x)
    assert len(parts) > 1
    for part in parts[:-1]:
        assert part.rsplit(" ", 1)[0].endswith((".", "”")), part


def test_hashtags_come_from_real_names_only() -> None:
    text = (
        "Eventually the rain stopped. Tessa Moreau won the feature in the Northern Lights "
        "Late Model Series. Her team, Halvorsen Racing, celebrated. Berlin's Petersallee "
        "was quiet. The Northern Lights Late Model Series returns in May, said Moreau, and "
        "Halvorsen Racing will be there. NASCAR, NASCAR and NASCAR again."
    )
    tags = subject_hashtags(text, ["Tessa Moreau", "the team's engineer", None])
    assert tags == ["#TessaMoreau", "#NorthernLightsLateModelSeries", "#HalvorsenRacing"]
    assert subject_hashtags("Eventually she won. Eventually.", []) == []
    assert all("Berlin" not in t and "Eventually" not in t for t in subject_hashtags(text, []))


def test_post_options_are_the_channels_and_never_reach_the_adapter() -> None:
    options = validate_options(
        "x", {"credit": "via Speed Weekly", "hashtags": "true", "link": "true"}
    )
    assert options["credit"] == "via Speed Weekly" and options["hashtags"] is True
    with pytest.raises(ConfigError, match="hashtags"):
        validate_options("x", {"hashtags": "sometimes"})
    from scheduler.accounts.channels import channel_info
    from scheduler.storage.models import Channel

    info = channel_info(Channel(name="x", platform="x", options=options), reveal=False)
    assert "credit" not in info.options and "link" not in info.options
