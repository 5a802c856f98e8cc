"""Direct quotes and their speakers, on short articles written for these tests."""

from __future__ import annotations

import datetime as dt

import pytest

from scheduler.ingest import extract
from scheduler.ingest.types import ExtractedQuote

# The seed article's shape, with invented people: a lede naming the subject, a
# dated win, indirect speech, two quotes split by a pronoun attribution, a
# relative sharing the surname, a planned season and one more quote.
SEED_SHAPED = """\
Rallying is not a gentle sport. Crews spend weeks away from home, sleep in vans and \
drive at full speed on gravel roads where a single mistake ends the season. It is even \
harder for a driver who has to find every sponsor herself. That, anyway, is how Ximena \
Urquiza, the first Bolivian woman to win a stage of the South American rally series, put it \
to a radio programme in La Paz.

In 2015, the Bolivian pioneer made history by winning a stage of the Andes Rally, which is \
now part of the continental championship. The host wanted to know how she had managed it \
in a sport run almost entirely by men.

Urquiza revealed that the biggest obstacle had always been money. \u201cMoving to Chile with \
one car and no contract took more patience than any stage I have driven,\u201d she explained. \
\u201cYou find out how much you want something when nobody pays you to do it.\u201d

Her mother, Rosa Urquiza, had been a mechanic in Cochabamba and once dreamed of racing \
herself, but there was never money for a car. She rebuilt engines at night to pay the \
entry fee for her daughter's first hill climb.

Urquiza is now preparing to chase the 2027 continental title. \u201cI have never wanted to \
do anything except drive,\u201d she exclaimed.

After a heavy crash in the Atacama desert she spent weeks in hospital, yet only a couple of \
months later the 29-year-old was back behind the wheel.
"""


def _verbatim(text: str, quotes: list[ExtractedQuote]) -> None:
    for q in quotes:
        assert text[q.start : q.end] == q.text


def _pairs(text: str) -> list[tuple[str, str | None]]:
    quotes = extract(text).quotes
    _verbatim(text, quotes)
    return [(q.text, q.speaker) for q in quotes]


def test_seed_shaped_article() -> None:
    result = extract(SEED_SHAPED, published=dt.date(2025, 5, 1))
    _verbatim(SEED_SHAPED, result.quotes)
    assert [q.speaker for q in result.quotes] == ["Ximena Urquiza"] * 3
    assert result.quotes[0].text.startswith("Moving to Chile")
    assert result.quotes[0].cue == "explained"
    assert result.quotes[2].cue == "exclaimed"
    # The indirect "revealed that the biggest obstacle..." is not a quote.
    assert not any("obstacle" in q.text for q in result.quotes)
    win, season = result.milestones
    assert win.text.startswith("In 2015, the Bolivian pioneer made history")
    assert (win.date, win.precision, win.tense) == (dt.date(2015, 1, 1), "year", "past")
    assert win.person == "Ximena Urquiza"
    assert SEED_SHAPED[win.start : win.end] == win.text
    assert (season.date.year, season.tense, season.person) == (2027, "planned", "Ximena Urquiza")
    # "a couple of months later" counts from the crash in its own sentence, which
    # has no date: 2015 (four paragraphs up) would be an invented date.
    assert not any(m.text.startswith("After a heavy crash") for m in result.milestones)


def test_after_quote_pronoun() -> None:
    text = "Tomasa Reyes won the final.\n\n\u201cI felt the wind turn,\u201d she explained."
    assert _pairs(text) == [("I felt the wind turn", "Tomasa Reyes")]


def test_speaker_then_colon() -> None:
    text = 'Mayor Daniel Whitcombe spoke first. Whitcombe said: "Buses will be free."'
    assert _pairs(text) == [("Buses will be free.", "Daniel Whitcombe")]


def test_verb_before_name_with_appositive() -> None:
    text = (
        "\u201cThese aircraft burn less fuel,\u201d said Farah Qureshi, the airline's chief "
        "executive."
    )
    quotes = extract(text).quotes
    assert [(q.speaker, q.cue) for q in quotes] == [("Farah Qureshi", "said")]


@pytest.mark.parametrize("verb", ["told reporters", "added", "recalled", "has said", "noted"])
def test_cue_tenses_and_forms(verb: str) -> None:
    text = (
        "Jakob Lindqvist farms near Kalmar. "
        f"\u201cThe grass stopped growing,\u201d Lindqvist {verb}."
    )
    assert _pairs(text) == [("The grass stopped growing", "Jakob Lindqvist")]


def test_quote_split_by_attribution() -> None:
    text = (
        "Deniz Ayd\u0131n was angry. \u201cWe were asleep at corners,\u201d Ayd\u0131n said, "
        "shaking his head, \u201cand we have to fix it.\u201d"
    )
    assert _pairs(text) == [
        ("We were asleep at corners", "Deniz Ayd\u0131n"),
        ("and we have to fix it.", "Deniz Ayd\u0131n"),
    ]


def test_quote_running_over_paragraphs() -> None:
    text = (
        "Elin Sandvik remembers the crash.\n\n"
        "\u201cI remember the rain and then nothing.\n\n"
        "\u201cThe doctors said I would walk again,\u201d she recalled."
    )
    assert _pairs(text) == [
        ("I remember the rain and then nothing.", "Elin Sandvik"),
        ("The doctors said I would walk again", "Elin Sandvik"),
    ]


def test_unattributed_quote_inherits_from_the_passage() -> None:
    text = (
        'Hanna Kowalczyk runs the plant. "We lose money on every tonne," she admitted. '
        '"We will stop losing it soon."\n\n'
        '"The second line changes everything for us."\n\n'
        "Analysts were less sure. Some called the plan risky."
    )
    pairs = _pairs(text)
    assert [speaker for _, speaker in pairs] == ["Hanna Kowalczyk"] * 3


def test_pronouns_follow_gender() -> None:
    text = (
        "Grace Whitfield accused Peter Lindgren of protecting landlords. She pointed to "
        "his record.\n\n"
        "Lindgren answered that rent control had failed. He cited two states.\n\n"
        "\u201cYou do not build homes by punishing builders,\u201d he said.\n\n"
        "Whitfield shot back at once. \u201cNobody is punishing builders,\u201d she said."
    )
    assert [s for _, s in _pairs(text)] == ["Peter Lindgren", "Grace Whitfield"]


def test_surname_means_the_subject_not_the_relative() -> None:
    text = (
        "Gerald Calloway founded Calloway Dairies with two cows. Calloway agreed on Monday "
        "to sell the company.\n\n"
        "His son, Neil Calloway, runs the largest plant.\n\n"
        "\u201cIt is hard to let go,\u201d Calloway said."
    )
    assert _pairs(text) == [("It is hard to let go", "Gerald Calloway")]


def test_indirect_speech_and_scare_quotes_are_not_quotes() -> None:
    text = (
        "Farid Haddad revealed that the biggest worry was his opening preparation. "
        "Critics called the result a \u201cmiracle\u201d on the board. Haddad said the "
        "event was \u201ctoo long for anyone.\u201d"
    )
    assert _pairs(text) == []


def test_transcript_labels() -> None:
    text = (
        "Council chair Bola Oyelaran questioned chief engineer Viktor Falk.\n\n"
        '"CHAIR OYELARAN: Why are we still talking about this?\n\n'
        '"ENGINEER FALK: Because the steel was in worse shape than any survey showed."'
    )
    assert _pairs(text) == [
        ("Why are we still talking about this?", "Bola Oyelaran"),
        ("Because the steel was in worse shape than any survey showed.", "Viktor Falk"),
    ]


def test_according_to() -> None:
    text = 'According to organiser Moira Dunleavy, "the ferry is our road to the hospital."'
    assert _pairs(text) == [("the ferry is our road to the hospital.", "Moira Dunleavy")]


def test_no_quotes_no_people() -> None:
    assert extract("Rain is expected on Tuesday across the north.").quotes == []


def test_role_and_title_phrases_resolve_to_the_person() -> None:
    text = (
        "Mayor Ines Kowal opened the new library on Friday.\n\n"
        "\u201cBooks are the cheapest way to travel,\u201d the mayor said.\n\n"
        "\u201cWe will add a second floor,\u201d Deputy Finance Minister Omar Haddad "
        "told reporters."
    )
    assert [s for _, s in _pairs(text)] == ["Ines Kowal", "Omar Haddad"]


def test_pronoun_skips_places_behind_a_preposition() -> None:
    text = (
        "Tomas Berg spoke on Monday. On a trip to Fjord Harbour, he met fishermen.\n\n"
        "\u201cThe quotas are too low,\u201d he said."
    )
    assert _pairs(text) == [("The quotas are too low", "Tomas Berg")]


@pytest.mark.parametrize(
    "text", ["", " ", "\u201c", "\u201d", '"', "\n\n\u201c\n\n", "He said: \u201c", "\u2014 \u2015"]
)
def test_degenerate_text_does_not_crash(text: str) -> None:
    result = extract(text)
    _verbatim(text, result.quotes)


def test_pronoun_chain_keeps_the_sentence_subject() -> None:
    text = (
        "Attorney general Loretta Vance spoke to students on Friday. Vance said she had "
        "wanted to be a judge since school.\n\n"
        "She has faced questions since Amy Holt, the governor, visited her office.\n\n"
        "She said the meeting was brief.\n\n"
        "\u201cWe talked about our grandchildren,\u201d she said."
    )
    assert _pairs(text) == [("We talked about our grandchildren", "Loretta Vance")]


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        # A work's title after "read", "called": Title Case, so not speech.
        ("Ines Moro was twenty when she first read \u201cThe Salt Road to Harbin.\u201d", []),
        ("The film, \u201cA Winter in Lisbon,\u201d opens on Friday, Moro said.", []),
        # Sung or chanted, a title is words people uttered.
        ("The crowd kept singing \u201cWe Are the Harbour\u201d until midnight.",
         ["We Are the Harbour"]),
        # Sentence case is speech, however short.
        ("\u201cWe go again,\u201d Moro said.", ["We go again"]),
    ],
)  # fmt: skip
def test_a_title_in_quotation_marks_is_not_a_quote(text: str, kept: list[str]) -> None:
    assert [q.text for q in extract(text).quotes] == kept
