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
