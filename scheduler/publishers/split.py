"""Splitting a text too long for one post into a numbered thread.

Parts break between sentences where a sentence fits in a part, else between
words; they keep the original line breaks, and end with " i/n"; every part, numbering included, passes the adapter's own `measure`
(graphemes, weighted length, bytes...). A single word longer than a whole part
(a pasted token, say) is cut between graphemes as a last resort.
"""

from __future__ import annotations

import regex

from scheduler.compose.length import split_graphemes
from scheduler.publishers.base import Publisher

_TOKEN = regex.compile(r"(\S+)(\s*)")
NUMBERING = " {i}/{n}"


def threads_allowed(publisher: Publisher) -> bool:
    """The channel posts a text too long for one post as a thread (`thread=true`)."""
    return bool(getattr(publisher.options, "thread", False))


def split_thread(text: str, publisher: Publisher, *, numbering: str = NUMBERING) -> list[str]:
    """The parts of `text` as a thread for `publisher`; one part when it fits."""
    text = text.strip()
    if not text or publisher.fits(text):
        return [text]
    words = _tokens(text, publisher, numbering)
    # Each part is measured with the widest numbering the count allows ("n/n"), so
    # a packing into k <= total parts stays valid when numbered out of k.
    total = 2
    while True:
        parts = _pack(words, publisher, total, numbering)
        if len(parts) <= total:
            return [part + numbering.format(i=i, n=len(parts)) for i, part in enumerate(parts, 1)]
        total = len(parts)


_SENTENCE = regex.compile(r"\S.*?(?:[.!?…][\"”’')\]]*(?=\s)|$)(\s*)", regex.DOTALL)


def _tokens(text: str, publisher: Publisher, numbering: str) -> list[tuple[str, str]]:
    """(piece, space after it): whole sentences that fit in a part, the words
    of those that do not."""
    widest = numbering.format(i=99, n=99)
    out: list[tuple[str, str]] = []
    for m in _SENTENCE.finditer(text):
        sentence = m.group(0)[: len(m.group(0)) - len(m.group(1))]
        if publisher.fits(sentence + widest):
            out.append((sentence, m.group(1)))
        else:
            out.extend((w.group(1), w.group(2)) for w in _TOKEN.finditer(m.group(0)))
    return out


def _pack(
    words: list[tuple[str, str]], publisher: Publisher, total: int, numbering: str
) -> list[str]:
    parts: list[str] = []
    current = ""
    gap = ""

    def fits(body: str) -> bool:
        return publisher.fits(body + numbering.format(i=total, n=total))

    for word, space in words:
        candidate = current + gap + word if current else word
        if fits(candidate):
            current, gap = candidate, space
            continue
        if current:
            parts.append(current.rstrip())
        current, gap = "", ""
        if fits(word):
            current, gap = word, space
            continue
        for piece in _cut(word, fits):
            if current:
                parts.append(current)
            current = piece
        gap = space
    if current:
        parts.append(current.rstrip())
    return parts


def _cut(word: str, fits) -> list[str]:
    """Cut one over-long word into pieces that each fit (binary search per piece)."""
    clusters = split_graphemes(word)
    pieces = []
    while clusters:
        low, high = 1, len(clusters)
        while low < high:
            mid = (low + high + 1) // 2
            if fits("".join(clusters[:mid])):
                low = mid
            else:
                high = mid - 1
        if not fits("".join(clusters[:low])):
            raise ValueError("a single character does not fit in one post")
        pieces.append("".join(clusters[:low]))
        clusters = clusters[low:]
    return pieces
