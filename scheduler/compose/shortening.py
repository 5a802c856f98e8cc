"""Shortening post text the way an editor would: whole sentences first, then
whole clauses, never in the middle of one.

`cut(text, budget)` keeps the longest run of leading sentences (or, when the
first sentence alone is too long, of its leading clauses) that fits in
`budget` graphemes, and says whether anything was dropped. The caller adds the
ellipsis where it belongs: after the closing quotation mark for a quote, after
the text for a sentence.

`BUDGET` is how much room the render in progress gives each shortened piece
(`compose.fitting` sets it; None means "as long as it is"), and `CUTS` counts
the pieces a render shortened, so a shortened quote is never called verbatim.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import regex

from scheduler.compose.length import graphemes
from scheduler.ingest.text import paragraphs, sentences

#: Room, in graphemes, for each shortened piece of the render in progress.
BUDGET: ContextVar[int | None] = ContextVar("scheduler_fit_budget", default=None)
#: Pieces the render in progress shortened (a list per render, or None outside one).
CUTS: ContextVar[list[str] | None] = ContextVar("scheduler_fit_cuts", default=None)

ELLIPSIS = "…"
# A clause ends at a comma, semicolon, colon or dash followed by a space; a
# comma inside a number ("1,500") has no space after it, so it is no boundary.
_CLAUSE_END = regex.compile(r"[,;:](?=\s)|\s[—–](?=\s)")
_TRAILING = " ,;:—–-"


@dataclass(frozen=True)
class Cut:
    text: str
    shortened: bool


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The sentences of `text` (the article splitter, which knows abbreviations)."""
    return sentences(text, paragraphs(text)) or [(0, len(text))]


def clause_ends(text: str) -> list[int]:
    """Offsets where a clause of `text` ends (before its comma, colon or dash)."""
    return [m.start() for m in _CLAUSE_END.finditer(text)]


def cut(text: str, budget: int | None) -> Cut:
    """The longest leading whole sentences, else whole clauses, that fit in
    `budget` graphemes (the ellipsis the caller adds is counted). When not even
    the first clause fits, the first clause is kept whole: the post is then too
    long, and planning says so, rather than ending mid-clause."""
    text = text.strip()
    if budget is None or graphemes(text) <= budget:
        return Cut(text, False)
    room = budget - graphemes(ELLIPSIS) - 1
    kept = ""
    for _, end in sentence_spans(text):
        candidate = text[:end].rstrip()
        if graphemes(candidate) > room:
            break
        kept = candidate
    if kept:
        return Cut(kept, True)
    ends = clause_ends(text)
    best = ""
    for end in ends:
        candidate = text[:end].rstrip(_TRAILING)
        if graphemes(candidate) > room:
            break
        best = candidate
    if best:
        return Cut(best, True)
    first_end = sentence_spans(text)[0][1]
    inside_first = [e for e in ends if e < first_end]
    keep = text[: inside_first[0]].rstrip(_TRAILING) if inside_first else text[:first_end].rstrip()
    return Cut(keep, keep != text)


def shortened(text: str, budget: int | None = None) -> str:
    """`text` cut to its room with the ellipsis after it (a sentence, a title)."""
    found = cut(text, BUDGET.get() if budget is None else budget)
    if not found.shortened:
        return found.text
    _record(text)
    # Whole sentences read as complete; a clause gets the ellipsis.
    return found.text if found.text[-1:] in ".!?…" else found.text + ELLIPSIS


def quoted(text: str, budget: int | None = None, marks: str = "“”") -> str:
    """`text` in quotation marks, cut to its room; the ellipsis stands outside
    the marks, because the words inside are the speaker's and none is added."""
    open_mark, close_mark = marks[0], marks[-1]
    room = BUDGET.get() if budget is None else budget
    found = cut(text, None if room is None else room - 2)
    if not found.shortened:
        return f"{open_mark}{found.text}{close_mark}"
    _record(text)
    return f"{open_mark}{found.text}{close_mark} {ELLIPSIS}"


def _record(text: str) -> None:
    cuts = CUTS.get()
    if cuts is not None:
        cuts.append(text)
