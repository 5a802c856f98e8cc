"""A quote that points at what it does not name leads with the headline; one
that names what it speaks of stands alone. Every quote is written for these
tests, in the shapes the editor's panel flagged as missing context."""

from __future__ import annotations

import pytest

from scheduler.compose.context import lead_in, leans_on_context


@pytest.mark.parametrize(
    "words",
    [
        "She was quicker when it mattered. Second is fine.",  # who is she?
        "It’s a very solid result.",
        "This is a business firing on all cylinders.",
        "These are the numbers we hoped for.",
        "That is 410 too many.",
        "The valve was a gift in a way.",  # which valve?
        "But they never called us back.",
        "You tell him something once and it sticks.",  # him?
        "You taste that summer in the glass.",  # which summer?
        "I have been waiting for this launch for eleven years.",
        "We wanted to build it here.",  # a short sentence: "it" is outside
    ],
)
def test_a_quote_that_points_outside_itself_leans_on_context(words: str) -> None:
    assert leans_on_context(words)


@pytest.mark.parametrize(
    "words",
    [
        "I never stopped believing we had the car.",
        "Libraries are where kids go when there is nowhere else.",
        "The Lanterns were never better than on their first tour.",  # a name, not "the X"
        "We will fly when we are ready, and not a day before that.",
        "Nobody wants to be the company that rushed.",  # "that" as a relative
        "We are a firm that makes lorries, not promises.",
        "Everybody told me that English wine was a joke.",  # "that" as a conjunction
        # "it" in a long first sentence points inside the quote.
        "Sodium is cheap and it is everywhere, and it does not catch fire the way lithium can.",
        "That’s why we came here.",  # an idiom, not a pointer
    ],
)
def test_a_quote_that_names_what_it_speaks_of_stands_alone(words: str) -> None:
    assert not leans_on_context(words)


def test_the_lead_in_is_the_headline_on_one_line() -> None:
    assert lead_in("Okafor holds off  Lindqvist\nto win the Harlow 300") == (
        "Okafor holds off Lindqvist to win the Harlow 300"
    )
    assert lead_in(None) is None
    assert lead_in("  ") is None


def test_lists_show_the_quote_not_the_shared_headline() -> None:
    from scheduler.output import gist

    post = "Okafor wins the Harlow 300\n\n“She was quicker when it mattered.”\n— Nils Lindqvist"
    assert gist(post) == "“She was quicker when it mattered.”"
    assert gist("In 2017, Okafor won her first race.\n#AdaOkafor") == (
        "In 2017, Okafor won her first race."
    )
    assert gist("") == "" and gist(None) == ""
