"""Finding quoted passages: pairs of double quotation marks, paragraph by paragraph.

Handles curly and straight marks, and the newspaper convention that a quote
running over several paragraphs leaves each paragraph open and reopens the
next one; each paragraph's piece becomes its own quote, linked to the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from scheduler.ingest.text import Span

_OPENERS = "“„«"
_CLOSERS = "”»"
_STRAIGHT = '"＂'
# A straight mark after one of these (or at a paragraph start) opens a quote.
_OPEN_CONTEXT = " \t\n([{—–-/"


@dataclass
class QuoteSpan:
    open: int  # index of the opening mark
    start: int  # first character of the quoted words
    end: int  # one past the last quoted word (trailing comma and spaces trimmed)
    close: int | None  # index of the closing mark; None when it runs to the paragraph end
    para: int
    chain: int  # pieces of one multi-paragraph quote share a chain id
    label: str | None = None  # transcript speaker label ("SMITH: ...") found inside


def find_quotes(text: str, paras: Sequence[Span]) -> list[QuoteSpan]:
    spans: list[QuoteSpan] = []
    chain = 0
    open_chain: int | None = None  # chain of a quote left open at the previous paragraph
    for p_index, (p_start, p_end) in enumerate(paras):
        in_quote = False
        opened = p_start
        for i in range(p_start, p_end):
            ch = text[i]
            if ch in _STRAIGHT:
                if not in_quote:
                    ch = "“"
                else:
                    # Inside a quote a straight mark closes it, unless it clearly
                    # starts a new one (space before, a word right after).
                    reopens = _opens_straight(text, i, p_start) and not _closes_straight(
                        text, i, p_end
                    )
                    ch = "“" if reopens else "”"
            elif ch in _CLOSERS and not in_quote and _misused_closer(text, i, p_start):
                ch = "“"
            if ch in _OPENERS:
                # A second opener while open means the first one was never
                # closed; the later one is the likelier true start.
                in_quote, opened = True, i
            elif ch in _CLOSERS and in_quote:
                c = open_chain if (open_chain is not None and opened == p_start) else None
                if c is None:
                    chain += 1
                    c = chain
                _add(spans, text, opened, i, i, p_index, c)
                in_quote = False
                open_chain = None
        continues = open_chain is not None and text[p_start] in _OPENERS + _STRAIGHT
        if in_quote:
            c = open_chain if (continues and opened == p_start) else None
            if c is None:
                chain += 1
                c = chain
            _add(spans, text, opened, p_end, None, p_index, c)
            open_chain = c
        else:
            open_chain = None
    return spans


def _misused_closer(text: str, i: int, p_start: int) -> bool:
    """A ” at a line start before a word is a typo for “ (common in pasted text)."""
    return (i == p_start or text[i - 1] == "\n") and i + 1 < len(text) and text[i + 1].isalnum()


def _opens_straight(text: str, i: int, p_start: int) -> bool:
    return i == p_start or text[i - 1] in _OPEN_CONTEXT


def _closes_straight(text: str, i: int, p_end: int) -> bool:
    return i + 1 >= p_end or not text[i + 1].isalnum()


def _add(
    spans: list[QuoteSpan],
    text: str,
    opened: int,
    end: int,
    close: int | None,
    para: int,
    chain: int,
) -> None:
    start = opened + 1
    while start < end and text[start].isspace():
        start += 1
    stop = end
    # The comma before the closing mark belongs to the attribution, not the words.
    while stop > start and (text[stop - 1].isspace() or text[stop - 1] in ",;"):
        stop -= 1
    if stop <= start:
        return
    spans.append(QuoteSpan(opened, start, stop, close, para, chain))
