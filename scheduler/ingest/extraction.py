"""Extraction entry point: article text in, direct quotes and dated milestones out.

Rule-based and dependency-light (the `regex` module only); no language model is
needed, so ingest stays fast and gives the same answer every time.
"""

from __future__ import annotations

import datetime as dt

import regex

from scheduler.errors import IngestError
from scheduler.ingest.attribution import (
    Speaker,
    after_quote,
    before_quote,
    colon_speaker,
    find_label,
    is_fused,
    reported_lead,
    woven_speaker,
)
from scheduler.ingest.milestones import article_date, find_milestones
from scheduler.ingest.people import (
    NOT_NAMES,
    ORG_WORDS,
    TITLES,
    TITLES_FEMALE,
    TITLES_MALE,
    People,
    name_tokens,
)
from scheduler.ingest.quotes import QuoteSpan, find_quotes
from scheduler.ingest.text import Span, index_of, is_abbreviation, paragraphs, sentences
from scheduler.ingest.types import ExtractedQuote, Extraction

# Extraction is linear in the text; this cap bounds what one article may cost
# (about 500 pages of prose, far beyond any news article).
MAX_CHARS = 2_000_000

_LONG_FUSED = 8
_TITLE_LIKE = regex.compile(r"\s+\p{Ll}")
_ENDS_SENTENCE = regex.compile(r"[.!?…—–-][\"”’')\]]*$")
# A work's title in quotation marks ("she first read "The Lighthouse Keeper's
# Daughter.""): three to ten words, every one capitalised but the small ones.
# Speech is written in sentence case, so this is a title, whatever verb came
# before it ("read", "called", "wrote").
_SMALL_WORDS = frozenset(
    {"a", "an", "and", "the", "of", "in", "on", "at", "to", "for", "by", "with", "from", "or"}
    | {"nor", "but", "as", "into", "over"}
)
_TITLE_WORD = regex.compile(r"^[\p{Lu}\d][\p{L}\d’'-]*$")


# Narration around a Title Case quote ("she first read"): a lower-case word
# that is not a small one. A headline ("Mayor Says "The Plan Is Dead"") has
# none, and its quote is Title Case because the headline is.
_NARRATION = regex.compile(
    r"\b(?!(?:a|an|and|the|of|in|on|at|to|for|by|with|from|or|as)\b)\p{Ll}{2,}"
)
# A title sung or chanted is words someone uttered ("singing "It's Our Time."").
_SUNG = regex.compile(r"(?i)\b(?:sing|sings|sang|sung|singing|chant|chants|chanted|chanting)\W*$")
# The verb stands just before the quote mark: look that far back, not to the
# article's start for every title-like quote.
_SUNG_REACH = 40


def _is_title(inner: str) -> bool:
    words = [w.strip(".,!?;:…") for w in inner.split()]
    words = [w for w in words if w]
    if not 3 <= len(words) <= 10 or not _TITLE_WORD.match(words[0]):
        return False
    return all(w in _SMALL_WORDS or _TITLE_WORD.match(w) for w in words[1:]) and any(
        w not in _SMALL_WORDS for w in words[1:]
    )


# Page furniture that ends up between quote marks in pasted copy: "Follow Jo Doe on
# Twitter @jodoe." is nobody's words.
_BOILERPLATE = regex.compile(
    r"(?i)(?:follow|like|subscribe\s+to)\s+.{0,60}?\bon\s+(?:twitter|x|facebook|instagram|"
    r"threads|bluesky|mastodon|tiktok|youtube)\b"
)


def extract(text: str, *, published: dt.date | None = None) -> Extraction:
    """Quotes with speakers and milestones with dates.

    `published` is the reference date for "last year" and for telling past
    events from planned ones; without it, the article's dateline or byline date,
    else today (and then nothing is counted from it).
    """
    if len(text) > MAX_CHARS:
        raise IngestError(
            f"article is too long to extract: {len(text)} characters (limit {MAX_CHARS})"
        )
    paras = paragraphs(text)
    spans = find_quotes(text, paras)
    quoted = [(q.open, q.close + 1 if q.close is not None else q.end) for q in spans]
    sents = sentences(text, paras, quoted)
    people = People(text, sents, paras, quoted)
    quotes = _quotes(text, paras, sents, spans, people)
    reference = published or article_date(text)
    milestones = find_milestones(
        text,
        sents,
        reference or dt.date.today(),
        people.in_quote,
        people.person_at,
        reference_known=reference is not None,
        people=people,
    )
    return Extraction(quotes=quotes, milestones=milestones)


class _Found:
    __slots__ = ("opens", "own", "span", "speaker", "start")

    def __init__(self, span: QuoteSpan, start: int, own: Speaker | None, opens: bool) -> None:
        self.span = span
        self.start = start
        self.own = own
        self.opens = opens  # the quote is the first thing in its paragraph
        self.speaker: str | None = None


def _quotes(
    text: str, paras: list[Span], sents: list[Span], spans: list[QuoteSpan], people: People
) -> list[ExtractedQuote]:
    found: list[_Found] = []
    prev_close: dict[int, int] = {}
    for q in spans:
        if _BOILERPLATE.match(text, q.start, q.end):
            continue

        p_start, p_end = paras[q.para]
        if (
            _is_title(text[q.start : q.end])
            and not _SUNG.search(text, max(0, q.open - _SUNG_REACH), q.open)
            and _NARRATION.search(text[p_start : q.open] + " " + text[q.end + 1 : p_end])
        ):
            continue
        sent_start = max(sents[index_of(sents, q.open)][0], p_start)
        clause_start = max(sent_start, prev_close.get(q.para, p_start))
        prev_close[q.para] = q.close + 1 if q.close is not None else q.end
        label = find_label(text, q)
        if label is not None:
            speaker = Speaker("name", label[0], q.start, None)
            found.append(_Found(q, label[1], speaker, q.open == p_start))
            continue
        before = before_quote(text, q, clause_start)
        if before is None and q.open == p_start and q.para > 0:
            before = _colon_paragraph(text, q, paras[q.para - 1], sents)
        if is_fused(text, q, p_start, before is not None) and not _resumes(text, q, found):
            woven = None
            if (
                q.close is not None
                and text[q.close - 1] == ","
                and len(text[q.start : q.end].split()) >= _LONG_FUSED
            ):
                # Doe "is the one who ...," a neighbour said: a long quote that
                # finishes the narrator's clause and is then attributed; that
                # attribution outranks any verb before the quote.
                woven = after_quote(text, q, p_end)
            if woven is None:
                woven = woven_speaker(text, q, clause_start)
            if woven is None and sent_start < clause_start:
                # From the sentence's start: a quote joined to an earlier one by
                # "and" shares its verb; any other quote between stops the search.
                woven = woven_speaker(text, q, sent_start)
            if woven is None:
                continue
            found.append(_Found(q, q.start, woven, q.open == p_start))
            continue
        after = after_quote(text, q, p_end)
        own = before or after or colon_speaker(text, q, clause_start)
        follows = bool(found) and found[-1].span.para == q.para
        if own is None and not follows and q.open == sent_start > p_start:
            own = reported_lead(text, q, sents[index_of(sents, q.open) - 1])
        if own is None and not follows and not _stands_alone(text, q):
            continue
        found.append(_Found(q, q.start, own, q.open == p_start))

    previous: _Found | None = None
    for f in found:
        if f.own is not None and f.own.kind == "pronoun" and f.own.phrase.lower() == "it":
            # "...," it added: the report or statement quoted just before.
            f.speaker = previous.speaker if previous is not None else None
        elif f.own is not None:
            f.speaker = _resolve(f.own, people, (f.span.start, f.span.end))
            if (
                f.own.kind == "name"
                and f.speaker
                and len(name_tokens(f.own.phrase.split())) == 1
                and previous is not None
                and previous.speaker
                and f.span.para - previous.span.para <= 1
                and previous.speaker.split()[-1] == f.speaker.split()[-1]
            ):
                # ""...," Erik Dunn said. "...," Dunn added": a bare surname
                # right after its bearer spoke is that speaker, not a relative.
                f.speaker = previous.speaker
        previous = f
    _inherit(found)
    return [
        ExtractedQuote(
            text=text[f.start : f.span.end],
            start=f.start,
            end=f.span.end,
            speaker=f.speaker,
            cue=f.own.cue if f.own else None,
        )
        for f in found
        if f.start < f.span.end
    ]


def _colon_paragraph(text: str, q: QuoteSpan, prev_para: Span, sents: list[Span]) -> Speaker | None:
    """ "Doe added:" closing the paragraph before introduces this one's quote."""
    if not text[prev_para[0] : prev_para[1]].rstrip().endswith(":"):
        return None
    start = sents[index_of(sents, prev_para[1] - 1)][0]
    return before_quote(text, q, max(start, prev_para[0]))


def _resumes(text: str, q: QuoteSpan, found: list[_Found]) -> bool:
    """ "...,” Doe said, looking up, “and then..." resumes the quote an attribution split."""
    if not found or found[-1].span.para != q.para or found[-1].own is None:
        return False
    prev = found[-1].span
    between = text[(prev.close or prev.end) + 1 : q.open]
    stops = [
        m.start()
        for m in regex.finditer(r"[.!?;:]", between)
        if not is_abbreviation(text, (prev.close or prev.end) + 1 + m.start())
    ]
    return (
        prev.close is not None
        and text[prev.close - 1] == ","
        and between.rstrip().endswith(",")
        and not stops
    )


def _stands_alone(text: str, q: QuoteSpan) -> bool:
    """An unattributed quote counts only if it reads as speech, not as a title or a term."""
    inner = text[q.start : q.end]
    before = text[max(0, q.open - 3) : q.open].rstrip()
    if before.endswith(":") and len(inner.split()) >= 2:
        return True  # "...the campaign's new message: "It's about me.""
    if len(inner.split()) < 4:
        return False
    if q.close is None:
        return True
    if _ENDS_SENTENCE.search(inner) or text[q.close - 1] in ".!?":
        return True
    return not _TITLE_LIKE.match(text[q.close + 1 : q.close + 3])


def _resolve(speaker: Speaker, people: People, quote: Span) -> str | None:
    if speaker.kind == "name":
        word = speaker.phrase.lower().rstrip(".")
        if " " not in word and word in TITLES and word not in TITLES_MALE | TITLES_FEMALE:
            # "Mayor Says "..."" (a Title Case headline): a title word alone is
            # no name; it means whoever holds that title in the article.
            return people.resolve_role(word, speaker.pos)
        return people.resolve_name(speaker.phrase, speaker.pos)
    if speaker.kind == "pronoun":
        return people.resolve_pronoun(speaker.phrase, speaker.pos, quote)
    phrase = _named_organisation(speaker.phrase, people.text, speaker.pos)
    words = phrase.lower().split()
    if words[0] != "the" or phrase != speaker.phrase:
        return phrase
    # "the 26-year-old": a description of someone just named.
    if regex.match(r"\d+-year-old$", words[-1]):
        return people.resolve_pronoun("they", speaker.pos) or speaker.phrase
    # "the mayor": whoever was introduced as "Mayor X" or "X, the mayor".
    if words[-1] in TITLES:
        return people.resolve_role(words[-1], speaker.pos) or speaker.phrase
    return speaker.phrase


# "the agency", "a spokesman for the forum": an organisation the article named
# before ("the Environmental Health Agency", "the Road Haulage Forum").
_ORG_HEAD = regex.compile(r"(?i)\bthe\s+(\p{Ll}+)$")


def _named_organisation(phrase: str, text: str, pos: int) -> str:
    m = _ORG_HEAD.search(phrase)
    if m is None or m.group(1) not in ORG_WORDS:
        return phrase
    head = m.group(1).capitalize()
    names = regex.findall(
        rf"(?<![\p{{L}}])((?:\p{{Lu}}[\p{{L}}’'&-]*[^\S\n]+){{1,4}}){head}\b",
        text[max(0, pos - 3000) : pos],
    )
    names = [n for n in names if n.split()[0] not in NOT_NAMES or n.split()[0] == "The"]
    if not names:
        return phrase
    name = names[-1].removeprefix("The ")
    return phrase[: m.start()] + "the " + name + head


def _inherit(found: list[_Found]) -> None:
    """Quotes without their own attribution take the speaker of their passage."""
    by_chain: dict[int, str] = {}
    for f in found:
        if f.own is not None and f.speaker and f.span.chain not in by_chain:
            by_chain[f.span.chain] = f.speaker
    # For each quote, the next one in its paragraph with its own attribution
    # (one backward pass: looking ahead from every quote would be quadratic).
    own_after: list[_Found | None] = [None] * len(found)
    nxt: _Found | None = None
    for i in range(len(found) - 1, -1, -1):
        own_after[i] = nxt if nxt is not None and nxt.span.para == found[i].span.para else None
        if found[i].own is not None:
            nxt = found[i]
        elif nxt is not None and nxt.span.para != found[i].span.para:
            nxt = None
    previous: _Found | None = None
    for i, f in enumerate(found):
        if f.own is None:
            later = own_after[i]
            if f.span.chain in by_chain:
                f.speaker = by_chain[f.span.chain]
            elif previous is not None and previous.span.para == f.span.para:
                f.speaker = previous.speaker
            elif later is not None and later.span.para == f.span.para and later.speaker:
                # "..." More narration "...," Doe said: the paragraph's own
                # attribution outranks the speaker of the paragraph before.
                f.speaker = later.speaker
            elif previous is not None and previous.span.para == f.span.para - 1 and f.opens:
                f.speaker = previous.speaker
            elif i + 1 < len(found) and found[i + 1].span.para == f.span.para:
                f.speaker = found[i + 1].speaker
        previous = f


__all__ = ["extract"]
