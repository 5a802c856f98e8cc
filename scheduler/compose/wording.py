"""An article's sentence made to stand on its own as a post.

A sentence lifted from the middle of an article often opens with a word that
links it to the one before ("Indeed,", "However,", "And"): `standalone` drops
it and capitalises what follows. A milestone's sentence often opens with its
own date ("In 2016, ...", "On 3 December 2021, ..."): `without_leading_date`
gives the sentence without that phrase, and `names_date` says whether a text
still names the date, so a template never says it twice ("2016: In 2016, ...").
"""

from __future__ import annotations

import calendar
import datetime as dt

import regex

# Linking words and phrases that lean on the sentence before. One per line
# group for reading; matched case-insensitively at the very start only.
_DISCOURSE = [
    "indeed", "in fact", "however", "meanwhile", "moreover", "furthermore", "besides",
    "additionally", "in addition", "also", "still", "yet", "nevertheless", "nonetheless",
    "even so", "that said", "of course", "after all", "as a result", "therefore", "thus",
    "hence", "consequently", "instead", "otherwise", "similarly", "likewise", "again",
    "then", "so", "plus", "but", "and", "or", "now", "anyway", "in turn", "for her part",
    "for his part", "for their part", "at the same time", "on the other hand", "in short",
    "in other words", "what's more", "as such", "overall", "ultimately", "admittedly",
]  # fmt: skip
# Words that link without a comma ("And she won", "But the team..."); the
# others only with theirs ("So far" and "Still waters" link to nothing).
_BARE = {"and", "but", "or"}
_LEAD = regex.compile(
    r"^\s*(?P<word>"
    + "|".join(sorted((regex.escape(w) for w in _DISCOURSE), key=len, reverse=True))
    + r")(?P<comma>\s*,)?\s+(?=\S)",
    regex.IGNORECASE,
)

_MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December"
    "|Jan\\.?|Feb\\.?|Mar\\.?|Apr\\.?|Jun\\.?|Jul\\.?|Aug\\.?|Sept?\\.?|Oct\\.?|Nov\\.?|Dec\\.?"
)
_YEAR = r"(?:1[6-9]|2[0-9])\d{2}"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
# "In 2016,", "On December 3, 2021,", "On 3 December 2021,", "In March 2022,",
# "Back in 2016,", "Early in 2019,", "By 2020,", "In the summer of 2018,".
_LEADING_DATE = regex.compile(
    rf"""^\s*(?:(?:back|early|late|later|earlier|then)\s+)?
    (?:in|on|by|during|since)?\s*
    (?:(?:the\s+)?(?:spring|summer|autumn|fall|winter|start|end|middle)\s+of\s+)?
    (?:
        (?:{_MONTHS})\s+{_DAY},?\s+{_YEAR}
      | {_DAY}\s+(?:{_MONTHS}),?\s+{_YEAR}
      | (?:{_MONTHS})\s+{_YEAR}
      | {_YEAR}
    )\s*,\s*(?=\S)""",
    regex.IGNORECASE | regex.VERBOSE,
)


def _capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def standalone(sentence: str) -> str:
    """`sentence` without a leading linking word, capitalised again. "And" or
    "But" go only when a clause follows; "Still," or "Yet," only with a comma."""
    m = _LEAD.match(sentence)
    if m is None:
        return sentence.strip()
    word = m.group("word").lower()
    if not m.group("comma") and word not in _BARE:
        return sentence.strip()
    rest = sentence[m.end() :].strip()
    if len(rest.split()) < 3:
        return sentence.strip()  # nothing left worth posting alone
    return _capitalise(rest)


def without_leading_date(sentence: str) -> str:
    """The sentence without a date phrase it opens with ("In 2016, she won" ->
    "She won"); unchanged when it opens otherwise."""
    m = _LEADING_DATE.match(sentence)
    if m is None:
        return sentence
    rest = sentence[m.end() :]
    return _capitalise(rest) if len(rest.split()) >= 3 else sentence


def names_date(text: str, date: dt.date, *, day: bool = False) -> bool:
    """Whether `text` itself names the date's year (and so already dates the
    post): a header with the date in front of it would say it twice. With
    `day`, a month and day without the year count too ("on December 13" in a
    "Coming up" post, whose year is the next one of that date anyway)."""
    if regex.search(rf"(?<!\d){date.year}(?!\d)", text):
        return True
    if not day:
        return False
    month = rf"(?:{calendar.month_name[date.month]}|{calendar.month_abbr[date.month]}\.?)"
    return bool(
        regex.search(rf"(?i)\b{month}\s+{date.day}(?:st|nd|rd|th)?\b(?!\s*\d)", text)
        or regex.search(rf"(?i)(?<!\d){date.day}(?:st|nd|rd|th)?\s+(?:of\s+)?{month}\b", text)
    )
