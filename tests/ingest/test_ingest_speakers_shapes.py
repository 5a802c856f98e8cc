"""More attribution shapes from real news copy: "as X put it", naming verbs with
a short quote that ends the sentence, instructions ("told them to "..."") and
quotes joined by "and then", page furniture in marks. Every sentence is written
for these tests."""

from __future__ import annotations

import pytest

from scheduler.ingest import extract

L, R = "\u201c", "\u201d"


def _pairs(text: str) -> list[tuple[str, str | None]]:
    quotes = extract(text).quotes
    for q in quotes:
        assert text[q.start : q.end] == q.text
    return [(q.text, q.speaker) for q in quotes]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        (f"As the harbour master Ilse Brandt put it in a long interview, {L}the tide does not "
         f"wait for permits.{R}", "Ilse Brandt"),
        (f"Ilse Brandt runs the port. As Brandt put it, {L}the tide does not wait.{R}",
         "Ilse Brandt"),
        (f"Ilse Brandt runs the port. {L}The tide does not wait,{R} as Brandt put it.",
         "Ilse Brandt"),
        (f"Ilse Brandt put it this way: {L}The tide does not wait for anyone.{R}",
         "Ilse Brandt"),
    ],
)  # fmt: skip
def test_as_someone_put_it(text: str, speaker: str) -> None:
    assert [s for _, s in _pairs(text)] == [speaker]


@pytest.mark.parametrize(
    ("text", "words", "speaker"),
    [
        (f"Norway branded the new quota a {L}betrayal of every fishing town.{R}",
         "betrayal of every fishing town.", "Norway"),
        (f"Helga Moen called the plan {L}a disaster for the whole town{R} - and left.",
         "a disaster for the whole town", "Helga Moen"),
        (f"Teodor Vik likened the toll to {L}a tax on going to work.{R}",
         "a tax on going to work.", "Teodor Vik"),
    ],
)  # fmt: skip
def test_naming_verb_with_a_short_quote_closing_the_sentence(
    text: str, words: str, speaker: str
) -> None:
    assert _pairs(text) == [(words, speaker)]


@pytest.mark.parametrize(
    "text",
    [
        # Mid-sentence, a short quote after a naming verb is a label, not speech.
        f"Norway branded the new quota a {L}betrayal of every town{R} and left the talks.",
        # A group, not someone whose own words these are.
        f"Critics called the plan {L}a disaster for the town.{R}",
        # Too short to be anyone's sentence.
        f"Helga Moen called the plan {L}a disaster.{R}",
        # Not a naming verb: the narrator's paraphrase leads in.
        f"Helga Moen said the plan {L}would ruin the town.{R}",
    ],
)
def test_short_woven_fragments_stay_out(text: str) -> None:
    assert _pairs(text) == []


def test_instruction_in_the_speakers_words() -> None:
    text = (
        f"Chief Ana Lund told her officers to {L}go door to door and check on every elderly "
        f"resident tonight, whatever the rain does.{R}"
    )
    assert [s for _, s in _pairs(text)] == ["Ana Lund"]


def test_quotes_joined_by_and_then_share_the_verb() -> None:
    text = (
        f"Mayor Petra Holm urged residents at a packed meeting to {L}stay calm{R} and then "
        f"{L}call the hotline before you call anyone else, because the crews are already out "
        f"there working.{R}"
    )
    assert _pairs(text) == [
        (
            "call the hotline before you call anyone else, because the crews are already "
            "out there working.",
            "Petra Holm",
        )
    ]


def test_a_short_instruction_mid_sentence_stays_out() -> None:
    assert _pairs(f"Ana Lund told her officers to {L}go door to door{R} before dark.") == []


def test_follow_lines_in_marks_are_no_quote() -> None:
    text = (
        f"{L}We won the appeal,{R} Ada Brook said.\n\n"
        '"Follow Ada Brook on Twitter @adabrook."\n\n'
        f"{L}Follow the money, always,{R} Brook said."
    )
    assert [w for w, _ in _pairs(text)] == ["We won the appeal", "Follow the money, always"]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        (f"In May, two neighbourhood groups gave Mayor Ivo Sand another month, saying, {L}The "
         f"repair budget was far smaller than promised.{R}", "two neighbourhood groups"),
        (f"On Friday, Rana Aziz met Mayor Ivo Sand, saying, {L}We have waited long enough.{R}",
         "Rana Aziz"),
        (f"Rana Aziz met Mayor Ivo Sand, adding that {L}nobody in the building has had hot water "
         f"since the first week of March.{R}", "Rana Aziz"),
    ],
)  # fmt: skip
def test_the_clause_subject_speaks_not_a_name_in_its_object(text: str, speaker: str) -> None:
    assert [s for _, s in _pairs(text)] == [speaker]


def test_a_possessive_before_the_quote_stands_for_the_speaker() -> None:
    text = (
        f"In May, two neighbourhood groups gave Mayor Ivo Sand another month, saying its "
        f"{L}repair budget was far smaller than promised.{R}"
    )
    assert _pairs(text) == [
        ("repair budget was far smaller than promised.", "two neighbourhood groups")
    ]


@pytest.mark.parametrize(
    "text",
    [
        f"Rana Aziz said her {L}budget was cut.{R}",
        f"Rana Aziz said her {L}budget was cut to the bone{R} in May.",
    ],
)
def test_a_short_possessive_fragment_stays_out(text: str) -> None:
    assert _pairs(text) == []


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        (f"{L}We have made a mistake,{R} according to the agency.", "the agency"),
        (f"{L}We have made a mistake,{R} according to Olav Dunn, the surveyor.", "Olav Dunn"),
    ],
)
def test_according_to_after_the_quote(text: str, speaker: str) -> None:
    assert [s for _, s in _pairs(text)] == [speaker]


@pytest.mark.parametrize(
    "text",
    [
        f"{L}The maps were wrong,{R} a spokeswoman for the Coastal Agency said.",
        f"{L}The maps were wrong,{R} said a spokeswoman for the Coastal Agency.",
    ],
)
def test_a_role_for_an_organisation_is_the_person_not_the_organisation(text: str) -> None:
    assert [s for _, s in _pairs(text)] == ["a spokeswoman for the Coastal Agency"]


def test_a_bare_surname_right_after_its_bearer_spoke_is_that_speaker() -> None:
    text = (
        "Olav Dunn and his son, Erik Dunn, run the survey firm. "
        f"{L}We drew every line by hand,{R} Erik Dunn said. {L}It took years,{R} Dunn added."
    )
    assert [s for _, s in _pairs(text)] == ["Erik Dunn", "Erik Dunn"]


def test_a_role_of_an_organisation_after_the_verb_is_the_person() -> None:
    text = f"{L}We pray for rain,{R} said the president of the Royal Society for the Birds."
    assert [s for _, s in _pairs(text)] == ["the president of the Royal Society"]


@pytest.mark.parametrize(
    "text",
    [
        f"Ana Ruiz, for her part, was blunt: {L}We pray for rain.{R}",
        f"The message from Ana Ruiz was simple: {L}We pray for rain.{R}",
    ],
)
def test_colon_lines_with_an_aside_or_a_sender(text: str) -> None:
    assert [s for _, s in _pairs(text)] == ["Ana Ruiz"]


def test_a_pronoun_takes_the_woman_just_named_speaking_over_one_named_before() -> None:
    """'she said' right after a sentence in which a woman was named speaking is
    that woman, not a woman named in the paragraph before."""
    text = (
        "Tomas Berg finished second. His mother, Clara, watched from the pit wall.\n\n"
        "His strategist at Polar Motorsport, Ingrid Karvonen, said the tyres held. "
        "\u201cWe could have run ten more laps on them,\u201d she said.\n"
    )
    (quote,) = extract(text).quotes
    assert quote.speaker == "Ingrid Karvonen"


@pytest.mark.parametrize(
    ("headline", "name"),
    [
        ("Ines Okafor Wins Again", "Ines Okafor"),
        ("Pia Lindqvist Eyes the Title", "Pia Lindqvist"),
        ("Rowan Achterberg Keeps Climbing After the Final", "Rowan Achterberg"),
    ],
)
def test_a_title_case_headline_does_not_lend_its_verb_to_the_name(headline: str, name: str) -> None:
    """The body calls her by her surname only: the headline's capitalised
    verb is not part of her name, in the quote's speaker nor in a milestone."""
    surname = name.split()[-1]
    text = (
        f"{headline}\n\n"
        f"{L}I train for the hard days,{R} {surname} said after the race. "
        f"{surname} will defend the title in March 2027.\n"
    )
    result = extract(text)
    assert [q.speaker for q in result.quotes] == [name]
    assert [m.wording for m in result.milestones] == [
        f"{name} will defend the title in March 2027."
    ]
