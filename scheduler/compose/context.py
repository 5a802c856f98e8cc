"""Whether a quote leans on words outside it, and the lead-in that supplies them.

A quote lifted from an article often points at what the sentences around it
said: "She was quicker when it mattered" (who?), "This is a business firing on
all cylinders" (which?), "We will look at every option, including an appeal"
(against what?). Read alone in a feed it says little. A newsroom's own posts
answer that by putting the story's headline above the quote, and so does the
quote template with `lead_in`. The headline is worth a line, not the quote's
own words: when the post would have to shorten the quote to make room for it,
planning drops the headline instead, unless the quote `leans_on_context`,
which it tells from the words' shape: a first sentence that opens with a
pronoun or a pointing word, or points with "this", "that", "him", "them"
before it has named anything.
"""

from __future__ import annotations

from typing import Any

import regex

# The quote's first sentence opens by pointing back: "She ...", "It's ...",
# "This is ...", "The driver ...", "Those ...", after an optional "And," / "But".
# Later sentences point back at the first, which is the quote's own.
_POINTING_OPENER = regex.compile(
    r"""\s*(?i:(?:and|but|so|yes|well|no)\b,?\s+)?
    (?:
        (?i:he|she|they|it|its|it[’']s|his|her|their|them|him|this|these|those)\b
      | (?i:that)\b(?!\s*[’']s\s+(?:why|how|what))
      | [Tt]he\s+\p{Ll}+\s+(?:was|is|were|are|has|had|will|would|left|said|made)\b
    )""",
    regex.VERBOSE,
)
# Inside the first sentence: a person the quote never named ("You tell him"),
# or a pointing determiner ("that summer", "this launch", "these mountains").
# "that" as a conjunction ("said that we") is not one, nor as a relative, which
# a verb follows ("the company that rushed", "a firm that makes"), where the
# pointing "that" takes a noun, and a singular one.
_POINTING_WORD = regex.compile(
    r"""\b(?:
        him|them
      | (?:this|these|those)\s+(?!(?:is|was|are|were)\b)\p{Ll}{3,}
      | that\s+(?!(?:is|was|we|i|you|he|she|they|it|the|a|an|there|this|if|when|our|my)\b)
        (?!\p{Ll}+(?:ed|s)\b)\p{Ll}{3,}
    )""",
    regex.VERBOSE,
)
# "it" in a short first sentence ("We wanted to build it here") has no room
# for what it stands for; in a long one it mostly points inside the quote.
_IT = regex.compile(r"\bit\b")
_SHORT = 8
_FIRST_SENTENCE = regex.compile(r"^.*?(?:[.!?…](?=\s|$)|$)", regex.DOTALL)


def leans_on_context(words: str) -> bool:
    """Whether the quote points at something it does not name itself."""
    first = _FIRST_SENTENCE.match(words.strip())
    sentence = first.group(0) if first else words
    return bool(
        _POINTING_OPENER.match(sentence)
        or _POINTING_WORD.search(sentence)
        or (_IT.search(sentence) and len(sentence.split()) <= _SHORT)
    )


def lead_in(headline: str | None) -> str | None:
    """The line a quote post leads with: the article's headline, on one line
    (None when there is none)."""
    if not headline or not headline.strip():
        return None
    return " ".join(headline.split())


def without_lead_in(quote: dict[str, Any]) -> dict[str, Any]:
    """The quote's template context without its lead-in."""
    return quote | {"lead_in": None}
