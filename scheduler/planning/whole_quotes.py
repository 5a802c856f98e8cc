"""A quote interrupted by its attribution is one quote for posting.

"We tried," she explained, "and we'll take it." is stored as two quotes (each
with its own offsets, so each stays verbatim against the article); posting the
second half alone ("and we'll take it." — Name) makes no sense. `whole_quotes`
joins each run of parts that only an attribution separates, in article order;
the joined quote is planned under its first part's id, and the later parts are
never planned on their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex
from sqlmodel import Session, select

from scheduler.ingest.text import is_abbreviation
from scheduler.storage.models import Article, Quote

# Between two parts: the first part's own punctuation, its closing mark, the
# attribution (no quotation mark or line break in it; an apostrophe inside a
# word is no mark: "Lindqvist’s crew chief"), a comma, full stop or colon, and
# the second part's opening mark.
_BETWEEN = regex.compile(
    r"""^(?P<own>[,;.!?…]?)\s*[”"’']\s+
    (?P<words>(?:[^“”"‘’\n]|(?<=\p{L})’(?=\p{L}))+?)
    (?P<stop>[,.:])\s*[“"‘']$""",
    regex.VERBOSE,
)
# An attribution may carry an appositive or a relative clause ("said Rovers
# manager Linda Carvalho, who took over in 2024 with the club bottom of the
# league."); beyond this many words it is narration, not an interruption.
MAX_ATTRIBUTION_WORDS = 24
_STOP = regex.compile(r"[.!?](?=\s|$)")


@dataclass(frozen=True)
class WholeQuote:
    parts: tuple[Quote, ...]
    text: str

    @property
    def first(self) -> Quote:
        return self.parts[0]

    @property
    def speaker(self) -> str | None:
        return self.first.speaker

    @property
    def cue(self) -> str | None:
        return next((p.cue for p in self.parts if p.cue), None)


def _glue(article_text: str, left: Quote, right: Quote) -> str | None:
    """What goes between `left` (its trailing comma dropped) and `right` when
    they read as one quote, or None when they are two quotes."""
    if left.speaker is None or right.speaker not in (None, left.speaker):
        return None
    if right.start <= left.end:
        return None
    between = article_text[left.end : right.start]
    m = _BETWEEN.match(between)
    if m is None or len(m.group("words").split()) > MAX_ATTRIBUTION_WORDS:
        return None
    # One sentence of attribution: a full stop inside it may only end an
    # abbreviation ("said Dr. Aydin, ..."), never a sentence of narration.
    offset = left.end + m.start("words")
    if any(
        not is_abbreviation(article_text, offset + stop.start())
        for stop in _STOP.finditer(m.group("words"))
    ):
        return None
    # The words between must be the attribution itself ("she explained").
    words = [w.strip(",;:—–") for w in m.group("words").split()]
    if not any(cue and all(c in words for c in cue.split()) for cue in (left.cue, right.cue)):
        return None
    head, tail = left.text.rstrip(), right.text.lstrip()
    if not head or not tail:
        return None
    # Only a quote the attribution broke off (its comma taken) continues; one
    # that ended its sentence ("...it." She went on. "...") is finished.
    if head[-1] in ".!?…" or m.group("own") in (".", "!", "?", "…"):
        return None
    if m.group("stop") == "," and tail[:1].islower():
        # One sentence broken by "she explained,": its comma comes back.
        return (m.group("own") if m.group("own") in (",", ";") else ",") + " "
    # "...," she said. "Then ...": the first sentence ended where the comma was.
    return ". "


def whole_quotes(quotes: Sequence[Quote], article_text: str) -> list[WholeQuote]:
    """The article's quotes (in article order) with interrupted ones joined."""
    out: list[WholeQuote] = []
    for quote in sorted(quotes, key=lambda q: q.start):
        glue = _glue(article_text, out[-1].parts[-1], quote) if out else None
        if glue is None:
            out.append(WholeQuote((quote,), quote.text))
            continue
        last = out[-1]
        head = last.text.rstrip()
        if head[-1] in ",;":
            head = head.rstrip(",;")
        out[-1] = WholeQuote((*last.parts, quote), head + glue + quote.text.lstrip())
    return out


def article_quotes(session: Session, article_id: int) -> list[WholeQuote]:
    quotes = session.exec(select(Quote).where(Quote.article_id == article_id)).all()
    article = session.get(Article, article_id)
    return whole_quotes(list(quotes), article.text if article else "")


def whole_quote_of(session: Session, quote: Quote) -> WholeQuote | None:
    """The whole quote `quote` begins, or None when it continues an earlier part."""
    for whole in article_quotes(session, quote.article_id):
        if whole.first.id == quote.id:
            return whole
        if any(p.id == quote.id for p in whole.parts):
            return None
    return WholeQuote((quote,), quote.text)
