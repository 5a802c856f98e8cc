"""Quote shapes beyond "...," Doe said: quotes woven into narration, more speech
verbs, descriptions and organisations as speakers. Every sentence is written
for these tests."""

from __future__ import annotations

import pytest

from scheduler.ingest import extract


def _pairs(text: str) -> list[tuple[str, str | None]]:
    quotes = extract(text).quotes
    for q in quotes:
        assert text[q.start : q.end] == q.text
    return [(q.text, q.speaker) for q in quotes]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        (
            "Marta Quiroga called the harbour plan \u201ca gift to the shipping firms that "
            "will cost every family in town.\u201d",
            "Marta Quiroga",
        ),
        (
            "Councillor Idris Bello told the radio station that \u201cnobody on this council "
            "has seen the full contract, and I doubt anyone ever will.\u201d",
            "Idris Bello",
        ),
        (
            "In a long speech, Tamsin Achterberg attacked \u201cthe lazy idea that a bigger "
            "road always means a faster trip for anyone.\u201d",
            "Tamsin Achterberg",
        ),
        (
            "Oskar Lindahl spoke for an hour. He said he would \u201cput the whole budget "
            "online so that every voter can read it line by line.\u201d",
            "Oskar Lindahl",
        ),
    ],
)
def test_long_quote_woven_into_narration(text: str, speaker: str) -> None:
    [(words, who)] = _pairs(text)
    assert who == speaker
    assert text.index(words) == text.index("\u201c") + 1


@pytest.mark.parametrize(
    "text",
    [
        # The narrator's paraphrase leads into a fragment: not the speaker's words alone.
        "Marta Quiroga said the harbour plan \u201cwould cost every family in town a fortune "
        "for years.\u201d",
        "Critics called the plan \u201ca disaster.\u201d",
        "The mayor described the vote as \u201cvery close.\u201d",
        # Naming verb, then a preposition: "called on", not "called X".
        "The family has called on the police to release the footage \u201cas a matter of "
        "the public good and of plain fairness to us.\u201d",
    ],
)
def test_fragments_and_paraphrase_stay_out(text: str) -> None:
    assert _pairs(text) == []


def test_long_quote_closing_a_clause_then_attributed() -> None:
    text = (
        "Voters in the valley are split.\n\n"
        "Quiroga \u201cis the only candidate with the patience and the judgment to keep "
        "the harbour open,\u201d retired captain Lena Holt said."
    )
    assert [s for _, s in _pairs(text)] == ["Lena Holt"]


def test_resumed_quote_after_an_abbreviated_place() -> None:
    text = (
        "\u201cThe count will be fair,\u201d Rosa Ibanez said at a rally in Dayton, Ohio, "
        "\u201cbut a lot of people will be watching the night shift very closely.\u201d"
    )
    assert [s for _, s in _pairs(text)] == ["Rosa Ibanez", "Rosa Ibanez"]


@pytest.mark.parametrize(
    "verb", ["fumed", "declared", "demanded", "chimed in", "scoffed", "weighed in", "deflected"]
)
def test_more_speech_verbs(verb: str) -> None:
    text = f"Petra Novak chairs the board. \u201cThat is not what we agreed,\u201d Novak {verb}."
    assert _pairs(text) == [("That is not what we agreed", "Petra Novak")]


def test_verb_phrase_then_colon() -> None:
    text = (
        "Senator Abel Montoya swiped at the governor in a series of posts: "
        "\u201cHe has had four years and built nothing.\u201d"
    )
    assert _pairs(text) == [("He has had four years and built nothing.", "Abel Montoya")]


@pytest.mark.parametrize(
    ("after", "speaker"),
    [
        ("said the ruling", "the ruling"),
        ("said the report", "the report"),
        ("said an industry lobbyist who asked not to be named", "an industry lobbyist"),
    ],
)
def test_descriptions_and_documents_speak(after: str, speaker: str) -> None:
    text = f"\u201cThe city cannot skip the notice step,\u201d {after}."
    assert _pairs(text) == [("The city cannot skip the notice step", speaker)]


def test_second_verb_shares_the_subject() -> None:
    text = (
        "Ines Falk waved from the porch.\n\n"
        "She then asks her son to come inside and repeatedly says, \u201cDo not go out there "
        "again,\u201d until he listens."
    )
    assert [s for _, s in _pairs(text)] == ["Ines Falk"]


def test_roundup_lines_name_the_person_not_the_outlet() -> None:
    text = (
        "What the papers said.\n\n"
        "Jane Okoro, The Lagos Review: \u201cThe budget is a gamble nobody needed.\u201d\n\n"
        "Peter Lind, Bergen Tidende (Bergen): \u201cA bold plan, if it is paid for.\u201d\n\n"
        "\u201cNobody will read the annex.\u201d \u2014 Maya Fenn, The Harbour Post"
    )
    assert [s for _, s in _pairs(text)] == ["Jane Okoro", "Peter Lind", "Maya Fenn"]


@pytest.mark.parametrize(
    ("attribution", "speaker"),
    [
        ("said the influential US daily", "the influential US daily"),
        ("the influential US daily said", "the influential US daily"),
        ("said US officials", "US officials"),
        ("said UN envoy Lena Berg", "Lena Berg"),
        ("said MSNBC host Chris Matthews", "Chris Matthews"),
        ("Ruiz spokesman Brian Fallon said", "Brian Fallon"),
        ("a spokesman for the agency said", "a spokesman for the agency"),
        ("Obama\u2019s former campaign strategist said", "Obama\u2019s former campaign strategist"),
    ],
)
def test_a_country_or_outlet_word_is_not_the_speaker(attribution: str, speaker: str) -> None:
    text = f"\u201cThe budget is a gamble nobody needed,\u201d {attribution}."
    assert [s for _, s in _pairs(text)] == [speaker]


@pytest.mark.parametrize(
    ("text", "speaker"),
    [
        ("Ana Ruiz lost the vote.\n\nRuiz\u2019s reply: \u201cWe will be back next spring.\u201d",
         "Ana Ruiz"),
        ("The memo began with a warning: \u201cNobody should sign this yet.\u201d", "The memo"),
        ("Worried about turnout among young voters, Mayor Ana Ruiz is rolling out a new "
         "message: \u201cIt is about you.\u201d", "Ana Ruiz"),
        ("Ana Ruiz tweeted that, \u201cFor the few people knocking me, I will be there.\u201d",
         "Ana Ruiz"),
    ],
)  # fmt: skip
def test_colon_and_that_comma_lines(text: str, speaker: str) -> None:
    assert [s for _, s in _pairs(text)] == [speaker]


def test_nickname_inside_a_name_does_not_end_the_attribution() -> None:
    text = (
        "Ruiz opened the fair.\n\n\u201cIt is a big year for us!\u201d state delegate Marcia "
        "\u201cCia\u201d Price shouted to the crowd."
    )
    # The nickname splits the name; its surname still names the speaker.
    assert _pairs(text) == [("It is a big year for us!", "Price")]


def test_title_case_headline_gives_no_title_word_as_speaker() -> None:
    text = (
        "Mayor Ines Kowal opened the library on Friday.\n\n"
        "Mayor Says \u201cThe Harbour Plan Is Dead And Buried For Good\u201d\n\n"
        "Coach Says \u201cWe Will Win The Cup Next Year\u201d"
    )
    assert [s for _, s in _pairs(text)] == ["Ines Kowal", None]


def test_transcript_labels_with_titles() -> None:
    text = (
        "Ana Ruiz and Tom Berg debated on Monday.\n\n"
        '"MS. RUIZ: We will fix the buses first.\n\n'
        '"MR. BERG: Nobody believes that anymore."'
    )
    assert [s for _, s in _pairs(text)] == ["Ana Ruiz", "Tom Berg"]
