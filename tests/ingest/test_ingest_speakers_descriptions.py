"""Speakers described before they are named: a possessor's role, a description
with a title before the name, an employer before a role, an outlet on its own
line, a possessive before "reply:", and an organisation first named in full
and then by its head noun. Every sentence is written for these tests."""

from __future__ import annotations

import pytest

from scheduler.ingest import extract

L, R = "\u201c", "\u201d"


def _speakers(text: str) -> list[str | None]:
    quotes = extract(text).quotes
    for q in quotes:
        assert text[q.start : q.end] == q.text
    return [q.speaker for q in quotes]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        # The possessor is not the speaker; the person after the role is.
        (f"Tove Aalto finished third. {L}We learned a lot,{R} said Aalto\u2019s race "
         f"engineer, Bruno Keller.", "Bruno Keller"),
        # ... and with no name after the role, the role itself.
        (f"Tove Aalto finished third. {L}We learned a lot,{R} said Aalto\u2019s race engineer.",
         "Aalto\u2019s race engineer"),
        # A description, then a title, then the name: not the last "Dr." before.
        (f"Dr. Ilse Brandt led the survey. {L}The ice is going faster than we thought,{R} "
         f"said co-author Dr. Pavel Novak.", "Pavel Novak"),
        (f"{L}It is a rare find,{R} said the gallery\u2019s keeper of prints, Dr. Ruth Amsel.",
         "Ruth Amsel"),
        # The relative clause's verb is not the attribution's.
        (f"{L}Delays are normal,{R} Mr. Osei, a retired pilot who advises the firm, said. "
         f"Kofi Osei flew for thirty years.", "Kofi Osei"),
        # A role at a firm, then the person in commas.
        (f"Aalto\u2019s team principal at Norvik, Greta Lind, chimed in: {L}We will appeal.{R}",
         "Greta Lind"),
        # An employer before the role is no person for a later "he".
        (f"Dalby manager Owen Hart was angry with the referee. He said: {L}We were robbed in "
         f"broad daylight.{R}", "Owen Hart"),
        # A title word kept out of the name.
        (f"Guitarist Lena Sorg laughed. {L}He always cries at weddings,{R} she said.",
         "Lena Sorg"),
        # A leading phrase, then the pronoun, then a colon.
        (f"Ravi Dutt signed on Monday. Asked about his plans, he did not hesitate: {L}I want "
         f"to win the league.{R}", "Ravi Dutt"),
    ],
)  # fmt: skip
def test_described_speakers(text: str, speaker: str) -> None:
    assert _speakers(text) == [speaker]


def test_outlets_on_their_own_line_and_a_possessive_reply() -> None:
    text = (
        "How the papers saw it.\n\n"
        f"The Northam Courier: {L}A fair result, and a fair warning.{R}\n\n"
        f"Kelby Evening Post: {L}Nobody should read this as a mandate.{R}\n\n"
        f"The judges\u2019 reply: {L}The rules were applied as written.{R}"
    )
    assert _speakers(text) == ["The Northam Courier", "Kelby Evening Post", "the judges"]


def test_an_organisation_named_in_full_before_its_head_noun() -> None:
    text = (
        "The figures were published by the Northern Water Agency on Tuesday. They were "
        "disputed by the Canal Users Forum.\n\n"
        f"{L}The rivers are cleaner than at any time since records began,{R} the agency said.\n\n"
        f"{L}Boats are paying for a problem they did not make,{R} said a spokesman for the forum."
    )
    assert _speakers(text) == [
        "the Northern Water Agency",
        "a spokesman for the Canal Users Forum",
    ]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        # A bare title ("MP") before the name in commas: the name speaks.
        (f"The local MP, Ruth Penrose, said: {L}We will fight this.{R}", "Ruth Penrose"),
        # A quote with no attribution after a sentence reporting what someone
        # said, in the same paragraph: that person's words.
        (
            f"The mill shut in May.\n\nThe local MP, Ruth Penrose, said she would meet the owners "
            f"on Friday. {L}I will ask them one thing: what would keep the looms running?{R}",
            "Ruth Penrose",
        ),
        (
            f"Union organiser Colm Byrne said the staff had been told by text. {L}Nobody picked "
            f"up a phone. Thirty years, and a text.{R}",
            "Colm Byrne",
        ),
    ],
)
def test_a_title_or_a_reported_sentence_names_the_speaker(text: str, speaker: str) -> None:
    assert _speakers(text)[-1] == speaker


@pytest.mark.parametrize(
    "text",
    [
        # The sentence before reports nobody's words, or only inside a clause
        # of its own: the quote keeps no speaker rather than take a wrong one.
        f"The mill shut in May after the owners said so. {L}It is a sad day.{R}",
        f"After Ruth Penrose said the mill would close, the town went quiet. {L}It is a sad "
        f"day.{R}",
    ],
)
def test_a_quote_after_other_sentences_keeps_no_speaker(text: str) -> None:
    assert _speakers(text)[-1] is None
