"""The values ingest hands to the rest of the program.

These shapes are the contract between extraction and storage: an extractor may
get smarter, but it always returns these.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

Precision = Literal["year", "month", "day"]
Tense = Literal["past", "planned"]


@dataclass(frozen=True)
class LoadedArticle:
    """Clean article text and where it came from."""

    text: str
    source: str
    title: str | None = None
    content_type: str = "text/plain"
    published: dt.date | None = None
    #: The page's summary and lead image URL, for link cards.
    description: str | None = None
    image_url: str | None = None


@dataclass(frozen=True)
class ExtractedQuote:
    """A direct quotation. `start`/`end` index the words inside the marks in the article text."""

    text: str
    start: int
    end: int
    speaker: str | None
    cue: str | None = None


@dataclass(frozen=True)
class ExtractedMilestone:
    """A sentence that ties an event to a date. `start`/`end` index the sentence.

    `expression` is the date expression in the sentence the date was read from;
    `inferred` says it was counted ("two years later", "last year") rather than
    written out, so the date is only as good as what it was counted from.
    `wording` is what a post says (`ingest.standalone`).
    """

    text: str
    start: int
    end: int
    date: dt.date
    precision: Precision
    tense: Tense
    person: str | None = None
    inferred: bool = False
    expression: str | None = None
    #: The sentence as a post would say it, standing alone; None when it
    #: cannot be made to (it leans on a sentence before it).
    wording: str | None = None


@dataclass(frozen=True)
class Extraction:
    quotes: list[ExtractedQuote] = field(default_factory=list)
    milestones: list[ExtractedMilestone] = field(default_factory=list)
