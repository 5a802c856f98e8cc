"""Extraction entry point: article text in, quotes and milestones out.

A deliberately simple first version (straight/curly quotes, `said`-style verbs,
four-digit years); the extraction issue replaces the internals, not the shape.
"""

from __future__ import annotations

import datetime as dt
import re

from scheduler.ingest.types import ExtractedMilestone, ExtractedQuote, Extraction

_QUOTE = re.compile(r"[\"“]([^\"”]{3,}?)[\"”]")
_AFTER = re.compile(
    r"\s*,?\s*(?:(?P<pro>she|he|they)|(?P<name>[A-Z][\w'-]+(?:\s[A-Z][\w'-]+)*))\s+"
    r"(?P<verb>said|says|explained|added|told|exclaimed|noted|recalled|revealed)"
)
_YEAR = re.compile(r"\b(19\d{2}|20\d{2})\b")
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]?")


def extract(text: str) -> Extraction:
    quotes: list[ExtractedQuote] = []
    last_speaker: str | None = None
    for m in _QUOTE.finditer(text):
        after = _AFTER.match(text, m.end())
        speaker = None
        cue = None
        if after:
            cue = after.group("verb")
            speaker = after.group("name") or last_speaker
        speaker = speaker or last_speaker
        quotes.append(ExtractedQuote(m.group(1), m.start(1), m.end(1), speaker, cue))
        last_speaker = speaker
    milestones: list[ExtractedMilestone] = []
    for s in _SENTENCE.finditer(text):
        y = _YEAR.search(s.group(0))
        if y:
            year = int(y.group(1))
            tense = "planned" if year > dt.date.today().year else "past"
            milestones.append(
                ExtractedMilestone(
                    s.group(0).strip(), s.start(), s.end(), dt.date(year, 1, 1), "year", tense
                )
            )
    return Extraction(quotes, milestones)
