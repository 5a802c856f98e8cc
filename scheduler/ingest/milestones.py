"""Dated milestones: sentences that tie an event to a date, with precision and tense.

A milestone's date always comes from a date expression in its own sentence:

- explicit dates ("March 3, 2024", "June 2019", "in 2016") are read as written;
- dates relative to the article ("last year", "two months ago", "earlier this
  year", "last October") count from the article's date, and only when that date
  is known: counted from today they would be invented;
- dates relative to the story ("Two years later, ...") count from the last
  explicit past date a few sentences before, keeping that date's precision, and
  only when they open their sentence: "a crash, and a month later she raced"
  counts from the crash, which has no date.

Relative dates are marked `inferred`. Years that are not the date of an event are
left alone: durations ("since 2013", "over the past year", "from 2014 to 2022"),
comparisons ("up 8% from a year ago", "compared with 2019"), labels ("her 2016
bid", "the 2024 season"), wine vintages, counts ("about 2020 fans"), and the
paragraphs around an article that are not its story (bylines, datelines,
copyright lines, photo captions, embedded posts, citations, "Read more" teasers).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import regex

from scheduler.ingest.people import People
from scheduler.ingest.standalone import Rewrite, Sentence, told_when, wording
from scheduler.ingest.text import Span, index_of, paragraphs, word_set
from scheduler.ingest.types import ExtractedMilestone, Precision, Tense

_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_MONTH_NAMES = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MONTH = r"(?P<month>" + _MONTH_NAMES + r")\.?"
_YEAR = r"(?P<year>(?:1[89]|20)\d\d)"
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "a couple of": 2, "a few": 3,
    "several": 3, "couple of": 2,
}  # fmt: skip
_COUNT = (
    r"(?P<count>\d+|a couple of|couple of|a few|several|an?|"
    r"one|two|three|four|five|six|seven|eight|nine|ten)"
)
_UNIT = r"(?P<unit>day|week|month|year)s?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"

# Kinds whose date is read from the words alone.
_EXPLICIT = ("range", "dmy", "mdy", "iso", "my", "md", "y")
# Kinds counted from the article's date.
_ARTICLE_RELATIVE = ("month_rel", "deictic", "ago", "today")
# Kinds counted from an earlier date in the story.
_STORY_RELATIVE = ("later", "following", "same")

_PATTERNS: list[tuple[str, regex.Pattern]] = [
    # "August 20 to 23, 2026": the first day, with the year written after the range.
    ("range", regex.compile(
        rf"(?i)\b{_MONTH}\s+{_DAY}\s*(?:-|–|—|to|through|and)\s*\d{{1,2}}(?:st|nd|rd|th)?,?\s+{_YEAR}\b")),
    ("dmy", regex.compile(rf"(?i)\b{_DAY}\s+{_MONTH},?\s+{_YEAR}\b")),
    ("mdy", regex.compile(rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b")),
    ("iso", regex.compile(r"\b(?P<year>(?:19|20)\d\d)-(?P<month>\d\d)-(?P<day>\d\d)\b")),
    ("my", regex.compile(rf"(?i)\b{_MONTH},?\s+(?:of\s+)?{_YEAR}\b")),
    ("md", regex.compile(rf"(?i)\b{_MONTH}\s+{_DAY}\b(?!,?\s+\d)(?!\s*(?:-|–|to)\s*\d)")),
    ("y", regex.compile(rf"(?<![\d$£€#,.\-/])\b{_YEAR}\b(?![\d%,]\d|\s*%|-\d\d-)")),
    ("y", regex.compile(rf"(?i)(?<=\b(?:early|mid|late)-){_YEAR}\b(?![\d%,]\d|-\d)")),
    ("month_rel", regex.compile(rf"(?i)\b(?P<rel>last|next|this\s+past|this\s+coming)\s+{_MONTH}(?!\s*\d)")),
    ("deictic", regex.compile(
        r"(?i)\b(?:(?P<mod>earlier|later)\s+)?(?P<rel>last|next|this)\s+(?P<unit>year|month)\b(?!['’]s)")),
    ("ago", regex.compile(rf"(?i)\b{_COUNT}\s+{_UNIT}\s+ago\b")),
    # "X today announced": the article's own day, when something was done on it.
    ("today", regex.compile(r"\btoday\s+(?=\p{Ll}+ed\b|announced\b|unveiled\b|signed\b)")),
    ("later", regex.compile(
        rf"(?i)\b(?:just\s+)?{_COUNT}\s+(?P<unit>day|week|month|year|season)s?\s+"
        r"(?P<dir>later|after|afterwards|earlier|before)\b")),
    ("following", regex.compile(
        r"(?i)\bthe\s+(?P<dir>following|next|previous)\s+(?P<unit>year|month|season)\b")),
    # "later that year", "that same month": the period of the date just given.
    ("same", regex.compile(
        r"(?i)\b(?:(?:earlier|later)\s+(?:that|the\s+same)|that\s+same|the\s+same)\s+(?P<unit>year|month)\b")),
]  # fmt: skip

_FUTURE = regex.compile(
    r"(?i)\b(?:will|shall|'ll|’ll|going\s+to|plans?\s+to|planning|planned|set\s+to|"
    r"scheduled|aims?\s+to|aiming|hopes?\s+to|hoping|expects?\s+to|expected\s+to|intends?\s+to|"
    r"is\s+to|are\s+to|upcoming|due\s+to|bid\s+for|targets?|next)\b"
)
# "May" and "March" are also a verb and a noun; without a day or year next to
# them they are too ambiguous to date a sentence.
_AMBIGUOUS_MONTHS = {"may", "march", "jan", "mar", "jun", "oct", "sept", "dec"}

# -- what the words just before or after a date say about it ----------------------

# "since 2013", "until 2020", "through 2028": a span of time, not an event.
_DURATION_BEFORE = regex.compile(
    r"(?i)(?:\b(?:since|until|till|through|thru|throughout|up\s+until)\s+"
    r"(?:(?:early|late|mid|the\s+(?:start|end|beginning|middle)\s+of)[\s-]+)?)$"
)
# "up 8% from a year ago", "compared with 2019", "than last year".
_COMPARISON_BEFORE = regex.compile(
    r"(?i)\b(?:from|than|versus|vs\.?|over|against|relative\s+to|compared\s+(?:with|to))\s+"
    r"(?:in\s+|(?:at\s+)?the\s+same\s+\w+\s+(?:(?:of|in|as)\s+)?"
    # "from £338m a year ago", "than 11,000 in 2019": an amount then its date
    r"|[£$€]?\d[\d.,]*\s*(?:%|percent|per\s+cent|[mk]|bn|million|billion|thousand)?\s+(?:in\s+)?)?$"
)
# "will stay open until midnight from 5 January 2027": a day something starts
# on, not a comparison, unless an amount changed from it ("up 8% from").
_DAY_KINDS = ("dmy", "mdy", "iso", "md")
_STARTS_FROM = regex.compile(r"(?i)\bfrom\s+(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?$")
_CHANGE_FROM = regex.compile(
    r"(?i)(?:\d[\d.,]*\s*(?:%|percent|per\s+cent|[mk]|bn|million|billion)?|\b(?:up|down|rose|risen|"
    r"fell|fallen|grew|grown|increased?|decreased?|dropped|climbed|jumped|slipped|changed?|moved?|"
    r"postponed|delayed|brought\s+forward))\s+(?:[\w’']+\s+){0,2}from\s+\S*\s*$"
)
_COMPARED = regex.compile(r"(?i)\b(?:compared\s+(?:with|to)|in\s+comparison\s+(?:with|to))\b")
_THAN_NEAR = regex.compile(r"(?i)\bthan\b(?:\W+\w+){0,5}\W*$")
# "about 2020 fans": a number.
_COUNT_BEFORE = regex.compile(
    r"(?i)\b(?:about|around|nearly|almost|roughly|some|over|more\s+than|fewer\s+than|"
    r"less\s+than|up\s+to|at\s+least)\s+$"
)
# Both ends of "from 2014 to 2022", "between 2010 and 2013", "2006-07".
_RANGES = regex.compile(
    r"(?i)\b(?:from|between)\s+[^.;,]{0,20}?\b(?:1[89]|20)\d\d\s*(?:to|and|until|through|-|–|—)"
    r"\s*[^.;,]{0,20}?\b(?:1[89]|20)\d\d\b"
    r"|\b(?:1[89]|20)\d\d\s*[-–/]\s*(?:\d{4}|\d\d)\b(?![-/]\d)"
)
# "her 2016 bid", "the 2024 season", "a 2015 Barolo", "Fell's 2021 injury".
_LABEL_BEFORE = regex.compile(
    r"(?i)(?:^|(?<=\W))(?P<det>a|an|the|her|his|their|its|our|my|your|this|that|these|those|"
    r"whose|each|every|[\p{L}]+['’]s)\s+(?:own\s+)?(?:(?:1[89]|20)\d\d\s*(?:,|and|or|&)\s*)*$"
)
# A capitalised word that is not a month or a sentence-opening preposition.
_NAME_BEFORE = regex.compile(
    rf"(?<![.!?]\s*|^)\b(?!(?i:{_MONTH_NAMES})\b)(?!(?:In|On|By|At|Since|During|From|Until|After|"
    r"Before|Of|And|But|Then|So|For|Through)\b)\p{Lu}[\p{L}'’-]+\s+$"
)
# "McCrummen, 2015 winner of the prize": a title someone holds.
_TITLE_AFTER = regex.compile(
    r"(?i)\s+(?:\p{L}+\s+)?(?:winner|champion|nominee|graduate|recipient|runner-up|finalist|"
    r"laureate|candidate|hopeful|draftee|signing|recruit|class)\b"
)
# Head nouns of a named occasion: "at the 2016 Olympics" dates the sentence,
# "in the 2019 World Cup squad" names a squad, and a season is a span.
_OCCASIONS = word_set(
    """race races edition title titles crown election elections olympics games championship
    championships tournament final finals cup open marathon tour playoffs series draft
    regatta festival world grand prix derby classic"""
)
_STOP_WORDS = (
    "and|or|but|for|of|in|at|on|to|with|by|from|as|when|after|before|where|that|which|who|"
    "was|were|is|are|has|had|have|will|would|did|does|could|should|she|he|they|it|ended|began|"
    "started|drew|sold|won|lost|needs|need"
)
# Up to five words after the year, ending before punctuation or a function word.
_NOUN_WORDS = regex.compile(
    r"\s+((?:[\p{L}'’-]+\s+){0,4}?[\p{L}'’-]+)(?=\s*[,.;:!?)]|\s*$|\s+(?:" + _STOP_WORDS + r")\b)"
)
_WINE = regex.compile(
    r"(?i)^(?:\s*(?:,|and|or|&)\s*(?:1[89]|20)\d\d)*\s+(?:vintages?|barolo|barbaresco|bordeaux|"
    r"burgundy|brunello|chianti|rioja|riesling|chardonnay|pinot|cabernet|merlot|syrah|shiraz|"
    r"malbec|sauvignon|grenache|zinfandel|tempranillo|nebbiolo|sangiovese|champagne|claret|"
    r"port|sherry|cuv[ée]e|ch[âa]teau|domaine|grand\s+cru|premier\s+cru|red|white|ros[ée])\b"
)
_WINE_BEFORE = regex.compile(
    r"(?i)\b(?:vintage|cases?|bottles?|glass(?:es)?|magnums?|crates?)\s+(?:of\s+)?"
    r"(?:(?:the|her|his|its|their|a)\s+)?$"
)
# "over the past year", "the last month": a span, not a date.
_DURATION_DEICTIC_BEFORE = regex.compile(
    r"(?i)\b(?:the|over|during|throughout|within|for|since|so\s+far)\s+$"
)
# A story-relative date opens its sentence ("Two years later, ..."), after at
# most a linking word.
_OPENING = regex.compile(
    r"(?i)^[\s\"“‘(]*(?:(?:and|but|then|so|only|barely|about|some|nearly|almost|roughly|"
    r"exactly|less\s+than|more\s+than)[\s,]+)*$"
)
_ANY_YEAR = regex.compile(r"(?<![\d$£€#,.])\b((?:1[89]|20)\d\d)\b(?![\d%,]\d)")
_RANK = {"day": 0, "month": 1, "year": 2}
# How far back (in sentences) a story-relative date may look for its anchor.
_ANCHOR_REACH = 6

# -- paragraphs that are not the story ------------------------------------------------

_BOILERPLATE = [
    regex.compile(p)
    for p in (
        # copyright lines
        r"©|\(c\)\s*(?:19|20)\d\d|(?i:\bcopyright\s+(?:©\s*)?(?:19|20)\d\d)|(?i:\ball\s+rights\s+reserved\b)",
        # time stamps and bylines
        r"(?i)^\s*(?:published|posted|updated|last\s+updated|last\s+modified|modified|"
        r"first\s+published|originally\s+published|filed)\b",
        r"(?i)^\s*(?:reporting|writing|editing|additional\s+reporting)\s+by\b",
        rf"^\s*(?i:by)\s+(?!(?i:{_MONTH_NAMES})\b)\p{{Lu}}[\p{{L}}.'’-]+(?:\s+\p{{Lu}}[\p{{L}}.'’-]*){{0,3}}"
        r"\s*(?:[|,—–-]|$|\bon\b|\band\b)",
        # teasers for other articles
        r"(?i)^\s*(?:read\s+more|related|see\s+also|more|also\s+read|recommended|watch|listen|"
        r"correction|clarification|editor['’]s\s+note)\s*:",
        # photo captions and credits
        r"\((?:AP|AFP|Reuters|EPA|AAP|PA)?\s*Photo\b|(?i:\bphoto(?:graph)?s?\s*(?:by\b|:))"
        r"|(?i:\b(?:image|picture|credits?|source)\s*:)|\bGetty\s+Images\b|\bShutterstock\b"
        r"|^\s*FILE\s*[-–—:]|/(?:AP|AFP|Reuters|EPA|Getty)\b|(?i:\bcourtesy\s+of\b)"
        r"|,\s*(?:left|right|center|centre|second\s+from\s+(?:left|right))\s*,",
        # embedded social posts
        r"pic\.twitter\.com|\(@\w{1,30}\)|(?i:\ba\s+post\s+shared\s+by\b)|^\s*[—–]\s*\p{Lu}",
        # citations
        r"\bet\s+al\b|(?i:\bdoi\s*:)|\bdoi\.org\b|(?:19|20)\d\d\s*;\s*\d"
        r"|\b\d+\s*\(\d+\)\s*[:,]\s*\d+\s*[-–]\s*\d+|\(\s*(?:19|20)\d\d[a-z]?\s*\)\s*\.\s+\p{Lu}",
    )
]
_TIME_WORDS = regex.compile(
    r"(?i)\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|sday|nesday|rsday|urday)?\b\.?"
    r"|\b\d{1,2}[:.]\d\d\b|\b[ap]\.?m\b\.?|\b(?:at|on|gmt|utc|bst|cet|cest|[ecmp][sd]?t)\b"
)
_SHORT_PARAGRAPH = 60  # words; captions, bylines and credits are short

# "GENEVA, March 3, 2025 —", "AUCKLAND, New Zealand, Nov. 12, 2024 (AP) —",
# "LONDON, March 3 (Reuters) -", "PARIS (AP) —".
_DATELINE = regex.compile(
    r"\s*\p{Lu}[\p{Lu} .'’-]*\p{Lu}(?:,\s*\p{Lu}[\p{L} .'’-]{1,30}?)?"
    rf"(?:,\s*(?P<when>(?i:{_MONTH}\s+{_DAY}|{_DAY}\s+{_MONTH})(?:,?\s+{_YEAR})?))?"
    r"\s*(?:\([\p{L} .]{1,30}\)|/[\p{L} .]{1,30}/)?\s*[—–-]{1,2}\s+"
)
_PUBLISHED_LINE = regex.compile(
    r"(?i)^\s*(?:published|posted|first\s+published|originally\s+published|by\s+\p{Lu}[^|\n]{0,60}\|)"
)
_HEAD_PARAGRAPHS = 4  # datelines and bylines sit at the top
# Headings after which a page is no longer its story: a press release's
# "About X" and disclaimers, contacts, a paper's references.
_TAIL_HEADING = regex.compile(
    r"(?i)^\s*(?:about\s+\p{Lu}.{0,80}|forward[- ]looking\s+statements?|safe\s+harbou?r(?:\s+statement)?|"
    r"media\s+contacts?|contacts?|press\s+(?:office|contacts?)|notes\s+to\s+editors|references|"
    r"sources|further\s+reading)\s*$"
)
# A line that does not end as a sentence does: a headline, a section label.
_ENDS_AS_SENTENCE = regex.compile(r"[.!?…][\"”’')\]]*\s*$")
_HEADLINE_WORDS = 20
_STANDFIRST_WORDS = 25
# "Founded in 2014, X is a ... based in": the company's description.
_ABOUT_SENTENCE = regex.compile(
    r"(?i)^\s*(?:founded|established|incorporated|formed|headquartered)\s+in\s+[^,]{1,30},\s*[^,]{1,80}?\s+"
    r"(?:is|are|has|have|holds|operates|employs|serves|owns|runs|makes|provides|offers|remains)\b"
    r"|forward-looking\s+statement"
)
_SPEECH_VERB = regex.compile(
    r"(?i)\b(?:said|says|told|tells|added|recalled|wrote|explained|insisted|admitted|asked)\b"
)
# Planned only maybe, or not at all: "could disappear by 2050", "will not be
# available before 2027", "If approved, construction would start in 2029".
_NOT_A_PLAN = regex.compile(
    r"\b(?:could|might|may)\b|(?i:\b(?:will\s+not|won[’']t|cannot|can[’']t)\b[^.;]{0,60}?\b(?:before|until)\b)"
    r"|^\s*(?i:if|unless)\b[^.;]{0,80}?\bwould\b"
)
# "a council that rejected similar cuts last year": a date of the noun the
# clause describes, not of the sentence.
_RESTRICTIVE_CLAUSE_BEFORE = regex.compile(
    r"(?i)\b(?:a|an|the|its|their|his|her)\s+(?:\p{Ll}+\s+){0,2}\p{Ll}+\s+that\s+(?:\p{Ll}+\s+){0,6}$"
)


@dataclass(frozen=True)
class _Date:
    date: dt.date
    precision: Precision
    inferred: bool = False
    story_relative: bool = False
    tense: Tense | None = None  # "earlier this year" / "later this year" say it outright
    expression: str = ""


def article_date(text: str) -> dt.date | None:
    """The article's own date from a dateline or a "Published ..." / byline line at its top."""
    paras = paragraphs(text)[:_HEAD_PARAGRAPHS]
    for start, end in paras:
        m = _DATELINE.match(text, start, end)
        if m and m.group("when") and m.group("year"):
            found = _explicit_date(m.group("when"))
            if found is not None:
                return found.date
    for start, end in paras:
        line = text[start:end]
        if _PUBLISHED_LINE.match(line) and len(line.split()) <= 20:
            found = _explicit_date(line)
            if found is not None and found.precision == "day":
                return found.date
    return None


def find_milestones(
    text: str,
    sents: Sequence[Span],
    reference: dt.date,
    in_quote: Callable[[int], bool],
    person_at: Callable[[int, int], str | None],
    *,
    reference_known: bool = True,
    people: People | None = None,
) -> list[ExtractedMilestone]:
    """Milestones of `text`; `reference` is the article's date (today when
    `reference_known` is false, and then nothing is counted from it). With
    the article's `people`, each gets the wording a post would use
    (`ingest.standalone`)."""
    paras = paragraphs(text)
    skipped = _boilerplate(text, paras) | _not_the_story(text, paras)
    masked = _dateline_spans(text, paras)

    def hidden(pos: int) -> bool:
        return in_quote(pos) or any(a <= pos < b for a, b in masked)

    years = [int(y) for y in _ANY_YEAR.findall(text) if int(y) <= reference.year]
    latest = max(years, default=reference.year)
    out: list[ExtractedMilestone] = []
    anchor: tuple[int, _Date] | None = None
    for i, (s_start, s_end) in enumerate(sents):
        if paras and index_of(paras, s_start) in skipped:
            continue
        sentence = text[s_start:s_end]
        if sentence.rstrip(' ”"').endswith("?"):
            continue
        if _ABOUT_SENTENCE.search(sentence):
            continue
        usable = anchor[1] if anchor is not None and i - anchor[0] <= _ANCHOR_REACH else None
        found = _first_date(sentence, s_start, reference, reference_known, usable, hidden)
        if found is None:
            continue
        plain = _unquoted(sentence, s_start, in_quote)
        if _attributes_a_quote(sentence, plain, found):
            continue
        future_words = bool(_FUTURE.search(plain))
        tense = found.tense or _tense(found, reference, future_words)
        if not reference_known and future_words and found.date.year >= latest:
            # Written in the future tense at a time we do not know: today says
            # nothing about it, the wording does, unless a later year in the
            # article shows the date is behind it ("plans to use him as in 2008").
            tense = "planned"
        if tense == "past" and not found.inferred and not future_words:
            anchor = (i, found)
        if tense == "planned" and _NOT_A_PLAN.search(plain):
            continue
        said = None
        if people is not None:
            at = sentence.find(found.expression)
            said = wording(
                text,
                Sentence(s_start, s_end, (at, at + len(found.expression)), found.story_relative),
                people,
                _rewrites(sentence, s_start, found, reference, reference_known, hidden),
            )
        out.append(
            ExtractedMilestone(
                text=sentence,
                start=s_start,
                end=s_end,
                date=found.date,
                precision=found.precision,
                tense=tense,
                person=person_at(s_start, s_end),
                inferred=found.inferred,
                expression=found.expression,
                wording=said,
            )
        )
    return out


_SEASON = regex.compile(
    r"(?i)\b(?P<rel>this|last|next)\s+(?P<season>spring|summer|autumn|fall|winter)\b"
)
_SEASON_MONTHS = {"spring": (3, 5), "summer": (6, 8), "autumn": (9, 11), "fall": (9, 11)}
_PREPOSITION_BEFORE = regex.compile(
    r"(?i)\b(?:in|from|since|until|till|by|than|of|during|before|after)\s+$"
)


def _rewrites(
    sentence: str,
    offset: int,
    found: _Date,
    reference: dt.date,
    reference_known: bool,
    hidden: Callable[[int], bool],
) -> list[Rewrite]:
    """How the sentence's relative dates read to someone who does not know
    when the article was written: "last year" -> "in 2025", "this summer" ->
    "in the summer of 2026"; None where it cannot be said ("over the past
    year", "this year" as the date itself); the story-relative opener that is
    not the date ("Two years later she was elected, and in 2024 ...") makes
    the sentence lean on the one before."""
    out: list[Rewrite] = list(told_when(sentence))
    for kind, pattern in _PATTERNS:
        if kind == "today" or (kind not in _ARTICLE_RELATIVE and kind not in _STORY_RELATIVE):
            continue  # "today" goes with `told_when`
        for m in pattern.finditer(sentence):
            if hidden(offset + m.start()):
                continue
            before = sentence[: m.start()]
            own = m.group() == found.expression
            if kind in _STORY_RELATIVE:
                if not own and _OPENING.match(before):
                    out.append((m.start(), m.end(), None))
                continue
            if not reference_known or _DURATION_DEICTIC_BEFORE.search(before):
                out.append((m.start(), m.end(), None))
                continue
            date = _read(kind, m, reference, None)
            g = m.groupdict()
            if date is None or (kind == "ago" and g.get("unit", "").lower() in ("day", "week")):
                out.append((m.start(), m.end(), None))
                continue
            if kind == "deictic" and g["rel"].lower() == "this" and not g.get("mod") and own:
                out.append(
                    (m.start(), m.end(), None)
                )  # the article's own year: news, not a milestone
                continue
            when = str(date.date.year) if date.precision == "year" else date.date.strftime("%B %Y")
            mod = (g.get("mod") or "").lower() if kind == "deictic" else ""
            lead = f"{mod} in " if mod else ("" if _PREPOSITION_BEFORE.search(before) else "in ")
            phrase = lead + when
            if not before.strip(' "“‘('):
                phrase = phrase[:1].upper() + phrase[1:]
            out.append((m.start(), m.end(), phrase))
    for m in _SEASON.finditer(sentence):
        if hidden(offset + m.start()):
            continue
        season, rel = m.group("season").lower(), m.group("rel").lower()
        if season == "winter" or not reference_known:
            out.append((m.start(), m.end(), None))
            continue
        first, last = _SEASON_MONTHS[season]
        year = reference.year
        if rel == "last" and reference.month <= last:
            year -= 1
        elif rel == "next" and reference.month >= first:
            year += 1
        before = sentence[: m.start()]
        lead = "" if _PREPOSITION_BEFORE.search(before) else "in "
        phrase = f"{lead}the {season} of {year}"
        if not before.strip(' "“‘('):
            phrase = phrase[:1].upper() + phrase[1:]
        out.append((m.start(), m.end(), phrase))
    return out


def _not_the_story(text: str, paras: Sequence[Span]) -> set[int]:
    """Paragraphs that are not the story's sentences: headlines and section
    labels (they do not end as sentences do), the standfirst under the
    headline (it says what the first paragraph says), and everything from a
    press release's "About X" or a paper's "References" on."""
    out: set[int] = set()
    headline_before = False
    body_started = False
    for k, (start, end) in enumerate(paras):
        para = text[start:end]
        words = len(para.split())
        if _TAIL_HEADING.match(para) and words <= 12:
            out.update(range(k, len(paras)))
            break
        if words <= _HEADLINE_WORDS and not _ENDS_AS_SENTENCE.search(para):
            out.add(k)
            headline_before = not body_started
            continue
        if (
            headline_before
            and not body_started
            and words <= _STANDFIRST_WORDS
            and k + 1 < len(paras)
            and len(text[paras[k + 1][0] : paras[k + 1][1]].split()) > _STANDFIRST_WORDS
        ):
            out.add(k)
        body_started = True
        headline_before = False
    return out


def _attributes_a_quote(sentence: str, plain: str, found: _Date) -> bool:
    """ "“...,” she told this newspaper in 1998.": the date of the words, a
    quote's attribution, not an event (the quote is posted as a quote)."""
    if plain == sentence or found.expression not in plain:
        return False
    if not _SPEECH_VERB.search(plain):
        return False
    return len(regex.findall(r"\p{L}+", plain)) <= 12


def _boilerplate(text: str, paras: Sequence[Span]) -> set[int]:
    out = set()
    for k, (start, end) in enumerate(paras):
        para = text[start:end]
        short = len(para.split()) <= _SHORT_PARAGRAPH
        if (short and any(p.search(para) for p in _BOILERPLATE)) or _is_timestamp(para):
            out.add(k)
    return out


def _is_timestamp(para: str) -> bool:
    """A paragraph that is only a date and a time ("Tue 3 Jun 2025 10.00 BST")."""
    if len(para.split()) > 10:
        return False
    rest = para
    for _, pattern in _PATTERNS[:5]:
        rest = pattern.sub(" ", rest)
    if rest == para:
        return False
    rest = _TIME_WORDS.sub(" ", rest)
    return len(regex.findall(r"\p{L}{2,}", rest)) == 0


def _dateline_spans(text: str, paras: Sequence[Span]) -> list[Span]:
    spans = []
    for start, end in paras[:_HEAD_PARAGRAPHS]:
        m = _DATELINE.match(text, start, end)
        # A bare capitalised word and a dash ("UPDATE -") is not a dateline
        # unless a date or an agency follows the place.
        if m and (m.group("when") or "(" in m.group() or "/" in m.group()):
            spans.append((m.start(), m.end()))
    return spans


def _unquoted(sentence: str, offset: int, in_quote: Callable[[int], bool]) -> str:
    return "".join(" " if in_quote(offset + i) else ch for i, ch in enumerate(sentence))


def _first_date(
    sentence: str,
    offset: int,
    reference: dt.date,
    reference_known: bool,
    anchor: _Date | None,
    hidden: Callable[[int], bool],
) -> _Date | None:
    ranges = [(m.start(), m.end()) for m in _RANGES.finditer(sentence)]
    found: list[tuple[int, int, _Date]] = []
    refused: list[Span] = []  # "until January 2027" refuses its "2027" too
    for kind, pattern in _PATTERNS:
        if (kind in _ARTICLE_RELATIVE or kind == "md") and not reference_known:
            continue
        for m in pattern.finditer(sentence):
            if hidden(offset + m.start()):
                continue
            if any(a <= m.start() < b for a, b in (*ranges, *refused)):
                continue
            if _not_an_event(kind, sentence, m):
                refused.append((m.start(), m.end()))
                continue
            date = _interpret(kind, m, reference, anchor)
            if date is None:
                continue
            rank = _RANK[date.precision] + (3 if date.inferred else 0)
            found.append((rank, m.start(), date))
            break
    if not found:
        return None
    # The most precise explicit date wins; among equals, the first.
    best = min(found, key=lambda c: c[:2])[2]
    # "The 2023 race, held last October": a counted date inside the written one
    # only makes it finer.
    start, end = _period(best)
    finer = [
        c[2]
        for c in found
        if _RANK[c[2].precision] < _RANK[best.precision] and start <= c[2].date <= end
    ]
    return min(finer, key=lambda d: _RANK[d.precision]) if finer else best


def _not_an_event(kind: str, sentence: str, m: regex.Match) -> bool:
    """True when the date expression at `m` is a span, a comparison, a label or a count."""
    before, after = sentence[: m.start()], sentence[m.end() :]
    if kind == "range":
        return False  # "from August 20 to 23, 2026": the first day is the date
    starts = kind in _DAY_KINDS and _STARTS_FROM.search(before) and not _CHANGE_FROM.search(before)
    if _DURATION_BEFORE.search(before) or (_COMPARISON_BEFORE.search(before) and not starts):
        return True
    if _RESTRICTIVE_CLAUSE_BEFORE.search(before):
        return True
    if kind in _STORY_RELATIVE:
        if kind == "same":
            return False  # "that year" points back at a year, wherever it stands
        if m.group("dir").lower() in ("before", "after") and not regex.match(r"\s*[,;]", after):
            return True  # "a few weeks before it filed": counted from that filing
        return not _OPENING.match(before)
    if kind in _ARTICLE_RELATIVE:
        return bool(
            _DURATION_DEICTIC_BEFORE.search(before)
            or _COMPARED.search(before)
            or _THAN_NEAR.search(before)
        )
    if kind in ("y", "my"):
        if _COMPARED.search(before) or _THAN_NEAR.search(before):
            return True
        if _WINE.match(after) or _WINE_BEFORE.search(before):
            return True
        if kind == "y" and _COUNT_BEFORE.search(before) and regex.match(r"\s+\p{Ll}", after):
            return True
        if kind == "y" and regex.match(r"\s*\)?\s*;\s*\d", after):
            return True  # "Sleep Med Rev. 2019;44:12" (a citation)
        if kind == "y" and _TITLE_AFTER.match(after):
            return True
        if kind == "y" and _NAME_BEFORE.search(before) and regex.match(r"\s+\p{Lu}", after):
            return True  # "Casa Alta 2019 Gran Reserva", "Paris 2024 Organising Committee"
        # "a March 2016 meeting" still dates the meeting; "her 2016 bid" names a bid.
        label = _LABEL_BEFORE.search(before) if kind == "y" else None
        if label is not None:
            return not _names_an_occasion(label.group("det"), after)
    return False


def _names_an_occasion(det: str, after: str) -> bool:
    """ "at the 2016 Olympics", "chase the 2027 title": the year dates the sentence."""
    if det.lower() != "the":
        return False
    words = _NOUN_WORDS.match(after)
    return bool(words) and words.group(1).split()[-1].lower() in _OCCASIONS


def written_dates(text: str) -> list[dt.date]:
    """Every day written out in full in `text` ("May 2, 2025", "2 May 2025", "2025-05-02")."""
    out = []
    for kind, pattern in _PATTERNS[:4]:
        for m in pattern.finditer(text):
            found = _read(kind, m, dt.date.today(), None)
            if found is not None:
                out.append(found.date)
    return out


def _explicit_date(text: str) -> _Date | None:
    for kind, pattern in _PATTERNS[:5]:
        m = pattern.search(text)
        if m:
            return _interpret(kind, m, dt.date.today(), None)
    return None


def _interpret(kind: str, m: regex.Match, reference: dt.date, anchor: _Date | None) -> _Date | None:
    found = _read(kind, m, reference, anchor)
    if found is None:
        return None
    return _Date(
        found.date,
        found.precision,
        inferred=found.inferred,
        story_relative=found.story_relative,
        tense=found.tense,
        expression=m.group(),
    )


def _read(kind: str, m: regex.Match, reference: dt.date, anchor: _Date | None) -> _Date | None:
    g = m.groupdict()
    try:
        if kind in ("range", "dmy", "mdy"):
            return _Date(dt.date(int(g["year"]), _month(g["month"]), int(g["day"])), "day")
        if kind == "iso":
            return _Date(dt.date(int(g["year"]), int(g["month"]), int(g["day"])), "day")
        if kind == "my":
            return _Date(dt.date(int(g["year"]), _month(g["month"]), 1), "month")
        if kind == "md":
            if g["month"].lower().rstrip(".") in _AMBIGUOUS_MONTHS:
                return None
            # The year is the one that puts the day nearest the article's date:
            # "January 15" in a late-November article is the coming one.
            month, day_of = _month(g["month"]), int(g["day"])
            days = [
                dt.date(reference.year + n, month, day_of)
                for n in (-1, 0, 1)
                if not (month == 2 and day_of == 29 and not calendar.isleap(reference.year + n))
            ]
            if not days:
                return None
            day = min(days, key=lambda d: abs((d - reference).days))
            return _Date(day, "day", inferred=True)
        if kind == "y":
            return _Date(dt.date(int(g["year"]), 1, 1), "year")
    except ValueError:
        return None
    if kind == "month_rel":
        return _month_relative(g["rel"], _month(g["month"]), reference)
    if kind == "today":
        return _Date(reference, "day", inferred=True)
    unit = g.get("unit", "year").lower()
    if kind == "deictic":
        step = {"last": -1, "next": 1, "this": 0}[g["rel"].lower()]
        shifted = _shift(reference, unit, step, "year" if unit == "year" else "month")
        if shifted is None:
            return None
        mod = (g.get("mod") or "").lower()
        tense: Tense | None = {"earlier": "past", "later": "planned"}.get(mod)  # type: ignore[assignment]
        return _Date(shifted.date, shifted.precision, inferred=True, tense=tense)
    if kind == "ago":
        # A week ago is a day we cannot name exactly; its month we can.
        precision: Precision = "month" if unit in ("week", "month") else _precision_of(unit)
        shifted = _shift(reference, unit, -_count(g["count"]), precision)
        return _Date(shifted.date, shifted.precision, inferred=True) if shifted else None
    if anchor is None:
        return None
    if kind == "later":
        sign = 1 if g["dir"].lower() in ("later", "after", "afterwards") else -1
        shifted = _shift(anchor.date, unit, sign * _count(g["count"]), anchor.precision)
    elif kind == "same":
        shifted = _shift(anchor.date, unit, 0, anchor.precision)
    else:  # "the following year"
        sign = -1 if g["dir"].lower() == "previous" else 1
        shifted = _shift(anchor.date, unit, sign, anchor.precision)
    if shifted is None:
        return None
    # Finer than the anchor would be invented precision.
    coarse = _coarsest(anchor.precision, _precision_of(unit))
    return _Date(_truncate(shifted.date, coarse), coarse, inferred=True, story_relative=True)


def _month_relative(rel: str, month: int, reference: dt.date) -> _Date:
    """ "last October": the latest October before the article's month; "next March": the first after."""
    if rel.lower().startswith("next") or rel.lower().endswith("coming"):
        year = reference.year if month > reference.month else reference.year + 1
    else:
        year = reference.year if month < reference.month else reference.year - 1
    return _Date(dt.date(year, month, 1), "month", inferred=True)


def _tense(found: _Date, reference: dt.date, future_words: bool) -> Tense:
    start, end = _period(found)
    if start > reference:
        return "planned"
    if end < reference:
        return "past"
    return "planned" if future_words else "past"


def _period(found: _Date) -> tuple[dt.date, dt.date]:
    d = found.date
    if found.precision == "year":
        return dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)
    if found.precision == "month":
        last = calendar.monthrange(d.year, d.month)[1]
        return dt.date(d.year, d.month, 1), dt.date(d.year, d.month, last)
    return d, d


def _shift(base: dt.date, unit: str, n: int, precision: Precision) -> _Date | None:
    try:
        if unit in ("year", "season"):
            d = base.replace(year=base.year + n, day=min(base.day, 28))
        elif unit == "month":
            months = base.year * 12 + base.month - 1 + n
            d = dt.date(months // 12, months % 12 + 1, min(base.day, 28))
        elif unit == "week":
            d = base + dt.timedelta(weeks=n)
        else:
            d = base + dt.timedelta(days=n)
    except (ValueError, OverflowError):
        return None
    return _Date(_truncate(d, precision), precision)


def _truncate(d: dt.date, precision: Precision) -> dt.date:
    if precision == "year":
        return dt.date(d.year, 1, 1)
    if precision == "month":
        return dt.date(d.year, d.month, 1)
    return d


def _precision_of(unit: str) -> Precision:
    return {"day": "day", "week": "day", "month": "month"}.get(unit, "year")  # type: ignore[return-value]


def _coarsest(a: Precision, b: Precision) -> Precision:
    order = ["day", "month", "year"]
    return a if order.index(a) >= order.index(b) else b


def _count(word: str) -> int:
    word = word.lower()
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")]


__all__ = ["article_date", "find_milestones", "written_dates"]
