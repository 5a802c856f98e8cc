"""Paragraphs and sentences of an article, as character offsets into its text.

Offsets (never copies) are passed around so every quote and milestone can point
back to the exact place in the stored text.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import regex

Span = tuple[int, int]


def word_set(words: str) -> frozenset[str]:
    """A set of words written as one whitespace-separated block (keeps long lists readable)."""
    return frozenset(words.split())


# Abbreviations that end with a period without ending the sentence: titles
# before names, month and state abbreviations, and a few common Latin ones.
ABBREVIATIONS = word_set(
    """
mr mrs ms dr prof gov sen rep st jr sr lt gen col capt sgt maj cmdr adm rev hon pres supt
det insp gov atty messrs mme mlle no vs etc inc corp co ltd bros dept univ est fig jan feb
mar apr jun jul aug sep sept oct nov dec ala ariz ark calif colo conn del fla ga ill ind
kan ky la md mass mich minn miss mo mont neb nev okla ore pa tenn tex va vt wash wis wyo
u.s u.k u.n e.g i.e a.m p.m d.c l.a n.y
"""
)

_PARA_BREAK = regex.compile(r"\n\s*\n")
_LINE_BREAK = regex.compile(r"\n")
_SENT_END = regex.compile(r"[.!?…]+[\"”’')\]]*(?=\s+[\"“‘(\[]?[\p{Lu}\p{N}])")
_WORD_BEFORE = regex.compile(r"([\p{L}.]+)$")


def paragraphs(text: str) -> list[Span]:
    """Each line is a paragraph, unless the text is hard-wrapped: then blank lines are."""
    splitter = _PARA_BREAK if _hard_wrapped(text) else _LINE_BREAK
    spans: list[Span] = []
    pos = 0
    for m in [*splitter.finditer(text), None]:
        end = m.start() if m else len(text)
        chunk = text[pos:end]
        if chunk.strip():
            lead = len(chunk) - len(chunk.lstrip())
            spans.append((pos + lead, pos + len(chunk.rstrip())))
        if m:
            pos = m.end()
    return spans


def _hard_wrapped(text: str) -> bool:
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < 6 or not _PARA_BREAK.search(text):
        return False
    # Wrapped prose has many lines of similar width that stop mid-sentence.
    unfinished = sum(1 for line in lines if not line.rstrip().endswith(_LINE_ENDS))
    widths = sorted(len(line) for line in lines)
    return unfinished > len(lines) * 0.6 and widths[len(widths) // 2] <= 100


_LINE_ENDS = tuple('.!?:;"”’)')


def sentences(text: str, paras: Sequence[Span], protected: Sequence[Span] = ()) -> list[Span]:
    """Sentence spans inside each paragraph; never split inside a `protected` span.

    Quotes are protected, so a quote of several sentences stays inside the
    sentence that carries its attribution.
    """
    starts = [s for s, _ in protected]
    out: list[Span] = []
    for p_start, p_end in paras:
        begin = p_start
        for m in _SENT_END.finditer(text, p_start, p_end):
            cut = m.end()
            if _inside(cut - 1, protected, starts) or is_abbreviation(text, m.start()):
                continue
            out.append((begin, cut))
            begin = cut
            while begin < p_end and text[begin].isspace():
                begin += 1
        if begin < p_end:
            out.append((begin, p_end))
    return out


def _inside(pos: int, spans: Sequence[Span], starts: list[int]) -> bool:
    i = bisect.bisect_right(starts, pos) - 1
    return i >= 0 and spans[i][0] <= pos < spans[i][1] - 1


def is_abbreviation(text: str, dot: int) -> bool:
    if text[dot] != ".":
        return False
    m = _WORD_BEFORE.search(text, max(0, dot - 12), dot)
    if not m:
        return False
    word = m.group(1).lower().strip(".")
    # A single capital letter is an initial ("J. Smith"), and so are runs of
    # them ("G.K. Butterfield"): not a sentence end.
    initials = all(len(part) == 1 for part in word.split("."))
    return word in ABBREVIATIONS or (initials and text[m.start()].isupper())


def index_of(spans: Sequence[Span], pos: int) -> int:
    """Index of the span containing `pos` (or the last one starting before it)."""
    # A key, not a list of starts: building that list on every call made one
    # look-up per quote cost the whole article (quadratic on long inputs).
    return max(0, bisect.bisect_right(spans, pos, key=_start) - 1)


def _start(span: Span) -> int:
    return span[0]
