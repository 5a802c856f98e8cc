"""A milestone's sentence made to stand alone as a post, or None when it cannot.

A sentence lifted from an article leans on the ones before it: "She added a
second major title in 2019", "The museum closed in January 2024", "Two years
later she took her first podium here". A post is read on its own, months
later, so its wording must name what the sentence only points at and say
dates the way a later reader can place them:

- a leading "He" / "She" / "Her" becomes the person the article's people
  machinery says it is (`People.resolve_pronoun`), a bare surname the one
  full name it stands for; a leading "The museum" (or "at the track" later)
  becomes the one name in the article with that head ("The Harrowgate Museum
  of Art", "Valley Speedway"); "Name, who won ... in 2023, was gracious"
  becomes the clause the date belongs to ("Name won ... in 2023.");
- the story-relative opener the date was counted from ("Two years later") is
  dropped, since the post shows the date; article-relative words ("last year",
  "this summer", "five years ago") are written as the dates they are ("in
  2025"); "today" and "on Monday" after a reporting verb, which say when the
  news was told, go;
- a wire dateline in front ("GHENT, Belgium, Nov. 18, 2026 /NewsBridge/ --")
  goes.

What cannot be made to stand alone gives None, and no post is proposed from
it (precision over recall): a pronoun or "the idea", "the company" with
nothing in the article to name it, "here", "it", a weekday or "now" that goes
stale, a transcript's speaker label, a state rather than an event ("were
sharing a lab bench"), the current year as the date ("a record 14,200
finished this year").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

from scheduler.compose.wording import standalone as without_linking_word
from scheduler.ingest.people import People, is_person_noun
from scheduler.ingest.text import index_of

#: A piece of the sentence to write otherwise: (start, end, replacement) in
#: the sentence's own offsets; None as the replacement means the sentence
#: cannot stand alone because of it.
Rewrite = tuple[int, int, str | None]

_MONTHS = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?"
)
_WEEKDAY = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"

# "GHENT, Belgium, Nov. 18, 2026 /NewsBridge/ --", "DES MOINES —", "PARIS (AP) —".
_DATELINE = regex.compile(
    r"^\s*\p{Lu}[\p{Lu}.'’-]*(?:\s+\p{Lu}[\p{Lu}.'’-]*)*"
    r"(?:,\s*\p{Lu}[\p{L}.'’-]*(?:\s+\p{Lu}[\p{L}.'’-]*)*)?"
    rf"(?:,\s*{_MONTHS}\s+\d{{1,2}}(?:,\s*\d{{4}})?)?"
    r"\s*(?:\([^()]{1,30}\)|/[^/]{1,30}/)?\s*(?:--|[—–])\s*"
)
# "HAQUE: The first payments go out": a transcript's turn, someone's words.
_SPEAKER_LABEL = regex.compile(r"^\s*(?:(?:MR|MS|MRS|DR)\.?\s+)?\p{Lu}{2,}(?:[\s-]\p{Lu}{2,})*\s*:")
# "In 2019, " / "In 2022 " / "On October 4, 2026, " / "By March 2027, ".
_LEADING_DATE = regex.compile(
    rf"^(?:(?:In|On|By|During|Back\s+in|Early\s+in|Late\s+in)\s+"
    rf"(?:the\s+\p{{Ll}}+\s+of\s+)?(?:{_MONTHS}\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?,?\s+)?"
    rf"(?:{_MONTHS}\s+)?\d{{4}},?\s+)"
)
_SUBJECT_PRONOUN = regex.compile(r"^(?P<word>[Hh]e|[Ss]he|[Hh]is|[Hh]er)\b(?!['’])")
_UNRESOLVED_OPENER = regex.compile(
    r"^(?:It|Its|They|Their|Them|This|That|These|Those|Here|There|Such|Both|Neither|"
    r"Each|Another|Other|Others|Some|Many|Most|All)\b"
)
# "The museum closed": a definite description at the start.
_THE_NOUN_OPENER = regex.compile(
    r"^The\s+(?P<words>(?:\p{Ll}[\p{L}’'-]*\s+){0,3}?)(?P<noun>\p{Ll}[\p{L}-]+)\b"
)
_PERSON_DESCRIBED = regex.compile(
    r"^[Tt]he\s+(?:[\p{Ll}\d-]+\s+){0,3}?(?P<noun>\p{Ll}[\p{L}-]+)(?=\s+(?:\p{Ll}+[^e\s]ed|was|won|made|"
    r"became|took|beat|set|broke|began|joined|signed|finished|led)\b)"
)
_SURNAME_OPENER = regex.compile(r"^(?P<name>\p{Lu}[\p{Ll}’'-]+)(?P<poss>[’']s)?\b(?!\s+\p{Lu})")
# Nouns that point back at something the article named ("the track", "the
# festival"), with the heads its name may have.
_HEADS = {
    "track": ("Speedway", "Raceway", "Circuit", "Track"),
    "circuit": ("Speedway", "Raceway", "Circuit", "Track"),
    "speedway": ("Speedway",),
    "raceway": ("Raceway",),
    "museum": ("Museum",),
    "club": ("Club",),
    "gallery": ("Gallery",),
    "festival": ("Festival",),
    "agency": ("Agency",),
    "team": ("Team",),
    "estate": ("estate", "Estate"),
    "probe": ("probe",),
    "orbiter": ("orbiter",),
    "works": ("works",),
    "university": ("University",),
    "institute": ("Institute",),
    "observatory": ("Observatory",),
    "hospital": ("Hospital",),
    "theatre": ("Theatre", "Theater"),
    "stadium": ("Stadium",),
    "company": (),
    "firm": (),
    "chain": (),
    "group": (),
    "business": (),
    "transaction": (),
    "deal": (),
    "merger": (),
    "study": (),
    "report": (),
    "referendum": (),
    "primary": (),
    "project": (),
    "factory": (),
    "plant": (),
    "idea": (),
    "plan": (),
    "play": (),
    "film": (),
    "album": (),
    "championship": (),
    "series": (),
    "fossil": (),
    "extension": (),
    "renovation": (),
    "proposal": (),
    "scheme": (),
    "bill": (),
    "policy": (),
    "vaccine": (),
    "trial": (),
}
_THE_NOUN = regex.compile(
    r"(?<!\bon\s|,\s)\b(?P<the>[Tt]he)\s+(?P<noun>"
    + "|".join(_HEADS)
    + r")(?P<poss>[’']s)?\b(?!\s+(?:of|\p{Lu}))"
)
_NOT_A_NAME_START = {
    "The", "A", "An", "In", "On", "At", "By", "For", "If", "When", "After", "Before", "During",
    "And", "But", "Its", "Their", "His", "Her", "Our", "This", "That", "About", "From",
    "With", "To", "As", "Of", "References", "Related", "Read", "More", "See",
}  # fmt: skip
_PRONOUN = regex.compile(r"\b(?P<word>he|she|him|his|her|hers|it|its|they|them|their)\b")
_HERE = regex.compile(
    r"\bhere\b|\bthere\b(?!\s+(?:is|are|was|were|has|have|had|will|would|could|may|might|"
    r"seems?|appears?|remains?)\b)"
)
_STALE = regex.compile(
    rf"(?i)\b(?:now|currently|recently|yesterday|tomorrow|tonight|last\s+night|"
    rf"(?:this|last|next)\s+(?:week|weekend)|(?:this|last|next)\s+(?:morning|afternoon|evening)|"
    rf"(?:on\s+)?{_WEEKDAY}(?:['’]s)?|so\s+far|to\s+date|at\s+the\s+moment|"
    rf"(?:this|last|next)\s+(?:spring|summer|autumn|fall|winter|season))\b"
)
# "palaeontologists said on Wednesday", "announced on Monday that": when the
# news was told, which the post need not say.
_TOLD_ON = regex.compile(
    rf"\b(?P<verb>said|says|announced|confirmed|reported|revealed|told\s+\p{{Ll}}+|added|"
    rf"disclosed|stated|wrote)\s+(?P<when>on\s+{_WEEKDAY})\b"
)
_TOLD_TODAY = regex.compile(r"\b(?P<when>today)\s+(?=\p{Ll}+ed\b|announced\b|said\b|unveiled\b)")
# "Name, who won the championship in 2023, was gracious": the date is the clause's.
_WHO_CLAUSE = regex.compile(
    r"^(?P<name>\p{Lu}[\p{L}’'.-]+(?:\s+\p{Lu}[\p{L}’'.-]+){0,3}),\s+(?P<rel>who|whose)\s+"
    r"(?P<clause>.+?),\s+(?=(?:has|have|had|was|were|is|are|said|says|told|added|remains|"
    r"thanked|\p{Ll}{3,}ed)\b)"
)
# "were sharing a lab bench": a state the sentence describes, not an event.
_STATE = regex.compile(r"\b(?:was|were)\s+\p{Ll}+ing\b")
_SP = r"[^\S\n]+"  # a name never runs over a line break
_QUOTED = regex.compile(r"“[^”]*”|\"[^\"]*\"")
_ENDS = regex.compile(r"[.!?…][\"”’')\]]*$")


@dataclass(frozen=True)
class Sentence:
    """What `wording` needs to know of a milestone's sentence."""

    start: int  # in the article text
    end: int
    #: The date's own expression in the sentence (offsets in the sentence).
    expression: tuple[int, int]
    #: The date was counted from the story ("Two years later").
    story_relative: bool


# ' ("Corvane")', ' (the "Company")', ' (together, the "Group")'.
_DEFINED_TERM = regex.compile(r"\s*\((?:together,?\s+)?(?:the\s+)?[“\"]\p{Lu}[^”\"()]{0,40}[”\"]\)")


def wording(text: str, s: Sentence, people: People, rewrites: Sequence[Rewrite]) -> str | None:
    """The sentence text[s.start:s.end] made to stand alone, or None."""
    sentence = text[s.start : s.end]
    if _SPEAKER_LABEL.match(sentence):
        return None
    edits: list[Rewrite] = list(rewrites)
    if any(r is None for _, _, r in edits):
        return None
    # A release's defined term ("Corvane Logistics N.V. ("Corvane")") is the
    # release's own shorthand, not the post's.
    edits.extend((m.start(), m.end(), "") for m in _DEFINED_TERM.finditer(sentence))
    head = 0
    dateline = _DATELINE.match(sentence)
    if dateline and dateline.end() > 3:
        edits.append((0, dateline.end(), ""))
        head = dateline.end()
    clause = _WHO_CLAUSE.match(sentence, head)
    if clause and clause.start("clause") <= s.expression[0] < clause.end("clause"):
        name = _full_name(people, clause.group("name")) or clause.group("name")
        glue = "’s " if clause.group("rel") == "whose" else " "
        edits.append((head, clause.start("clause"), name + glue))
        edits.append((clause.end("clause"), len(sentence), "."))
        head = len(sentence)  # the subject is named
    body = _body_start(sentence, head, s, edits)
    if body is None:
        return None
    if body < len(sentence):
        subject = _subject(text, s, sentence, body, people)
        if subject is None:
            return None
        edits.extend(subject)
    pointed = _pointing_pronoun(s, sentence, body, people, edits)
    if pointed is None:
        return None
    edits.extend(pointed)
    out = _apply(sentence, edits)
    if out is None:
        return None
    out = without_linking_word(out)
    out = _name_descriptions(text, out)
    if out is None or not _stands_alone(out):
        return None
    return out[:1].upper() + out[1:]


def _body_start(sentence: str, head: int, s: Sentence, edits: list[Rewrite]) -> int | None:
    """Where the sentence's subject starts, after a dateline, a linking word,
    a leading date and a story-relative opener (dropped when it is the date's)."""
    pos = head
    rest = sentence[pos:]
    linking = without_linking_word(rest)
    if linking != rest.strip():
        pos = sentence.index(linking[1:], pos) - 1 if len(linking) > 1 else pos
    m = _LEADING_DATE.match(sentence, pos)
    if m:
        return m.end()
    for a, b, replacement in edits:
        if a == pos and replacement:  # "Last year, " written as "In 2025, "
            tail = regex.match(r"\s*,?\s*", sentence[b:])
            return b + (tail.end() if tail else 0)
    a, b = s.expression
    if s.story_relative and a <= pos + 2:
        tail = regex.match(r"\s*,?\s*", sentence[b:])
        end = b + (tail.end() if tail else 0)
        edits.append((pos, end, ""))
        return end
    return pos


def _subject(
    text: str, s: Sentence, sentence: str, at: int, people: People
) -> list[Rewrite] | None:
    """The edit that names the sentence's subject, [] when it needs none, None
    when it cannot be named."""
    rest = sentence[at:]
    m = _SUBJECT_PRONOUN.match(rest)
    if m:
        word = m.group("word").lower()
        pronoun = "he" if word in ("he", "his") else "she"
        name = people.resolve_pronoun(pronoun, s.start + at)
        full = _full_name(people, name) if name else None
        if full is None or not _sure(people, full, pronoun, s.start, s.start + at):
            return None
        possessive = word in ("his", "her")
        return [(at, at + len(word), full + ("’s" if possessive else ""))]
    if _UNRESOLVED_OPENER.match(rest):
        return None
    m = _PERSON_DESCRIBED.match(rest)
    if m and is_person_noun(m.group("noun").lower()):
        # "the former speed skater made history": the article's subject, said
        # by name, when the sentence names nobody else. Its "her" is the
        # described person's, not a clue to someone else.
        subject = people.subject
        if subject is None:
            return None
        name = people.named_at(s.start, s.end) or subject.name
        full = _full_name(people, name)
        if full is None or _full_name(people, subject.name) != full:
            return None
        return [(at, at + m.end(), full)]
    m = _THE_NOUN_OPENER.match(rest)
    if m:
        if m.group("words").strip():
            return None  # "The previous record", "The first payments"
        name = _named(text, m.group("noun"))
        if name is None:
            return None
        return [(at, at + m.end(), name[:1].upper() + name[1:])]
    m = _SURNAME_OPENER.match(rest)
    if m and m.group("name") not in _NOT_A_NAME_START:
        full = _full_name(people, m.group("name"))
        if full is not None and full != m.group("name"):
            return [(at, at + len(m.group("name")), full)]
    return []


def _pointing_pronoun(
    s: Sentence, sentence: str, body: int, people: People, edits: list[Rewrite]
) -> list[Rewrite] | None:
    """The edit that names whom a "her" or "he" later in the sentence means
    when the sentence does not name that person before it ("A crash in March
    2022 left her with a broken collarbone": the race or the place named
    before it is not whom it means); [] when it needs none, None when it
    cannot be named beyond doubt."""
    plain = _unquoted(sentence)
    for m in _GENDERED.finditer(plain, body):
        a, b = m.span()
        if any(x <= a < y for x, y, _ in edits):
            continue  # the subject, already named
        word = m.group().lower()
        pronoun = "he" if word in ("he", "him", "his") else "she"
        name = people.resolve_pronoun(pronoun, s.start + a)
        full = (_full_name(people, name) or name) if name else None
        if full is not None and _named_before(s, a, people, edits, full):
            return []
        if full is None or not _sure(people, full, pronoun, s.start, s.start + a):
            # "the Utrecht climber ... her first attempt": the sentence says
            # whom it means by what the person is; a post can stand on that.
            described = any(is_person_noun(w.lower()) for w in regex.findall(r"\p{L}+", plain[:a]))
            return [] if described else None
        if word == "her":
            possessive = _OBJECT_FOLLOWERS.match(plain, b) is None
        else:
            possessive = word in ("his", "hers")
        return [(a, b, full + ("’s" if possessive else ""))]
    return []


def _named_before(s: Sentence, at: int, people: People, edits: list[Rewrite], full: str) -> bool:
    """Whether the sentence names `full` before offset `at`, itself or by an
    edit (the subject "She" written as her name)."""
    for m in people.mentions:
        if not s.start <= m.start < s.start + at or people.in_quote(m.start):
            continue
        if (_full_name(people, m.person.name) or m.person.name) == full:
            return True
    return any(x < at and r and full in r for x, _, r in edits)


#: A personal pronoun of a man or a woman (a leading one is the subject, named by `_subject`).
_GENDERED = regex.compile(r"\b(?:[Hh]e|[Ss]he|him|[Hh]is|[Hh]er|hers)\b(?!['’])")
#: What may follow an object "her" ("left her with", "gave her a", "told her
#: that", "her."): anything else makes it a possessive ("her first title").
_OBJECT_FOLLOWERS = regex.compile(
    r"\s*(?:[.,;:!?)”\"—–-]|$|(?:with|to|in|on|at|for|from|into|onto|by|about|as|after|"
    r"before|over|under|through|back|again|off|up|down|out|away|a|an|the|that|and|or|but|"
    r"when|while|until|if|because|since|than)\b)"
)


def _sure(people: People, full: str, pronoun: str, start: int, pos: int) -> bool:
    """Whether "she" at `pos` is `full` beyond doubt: nobody else who could be
    "she" is named in the sentence before it or the one before that, and the
    person is the article's subject, or the one the sentence before opens
    with ("Her 2016 bid ... lost to Marta Salcedo. She added a title" is not
    Salcedo's: the sentence before is about the "her")."""
    k = index_of(people.sents, start)
    begin = people.sents[k - 1][0] if k > 0 else start
    want = "m" if pronoun == "he" else "f"
    named: list[tuple[int, str]] = []
    for m in people.mentions:
        if m.start < begin or m.start >= pos or people.in_quote(m.start):
            continue
        if not people.is_person(m.person) or m.person.gender not in (want, None):
            continue
        named.append((m.start, _full_name(people, m.person.name) or m.person.name))
    if any(n != full for _, n in named):
        return False
    # "Her 2016 bid ... lost to Ines Castro": a "her" before someone else of
    # that gender is named in the sentence before says it is about another.
    if k > 0:
        prev_start, prev_end = people.sents[k - 1]
        plain = regex.sub(r"“[^”]*”|\"[^\"]*\"", " ", people.text[prev_start:prev_end])
        said = regex.search(rf"\b(?i:{'he|him|his' if want == 'm' else 'she|her|hers'})\b", plain)
        others = [
            m.start - prev_start
            for m in people.mentions
            if prev_start <= m.start < prev_end
            and people.is_person(m.person)
            and m.person.gender in (want, None)
        ]
        if said and any(at > said.start() for at in others):
            return False
    subject = people.subject
    if subject is not None and _full_name(people, subject.name) == full:
        return True
    return bool(named) and named[0][0] <= begin + 2 and k > 0


def _full_name(people: People, name: str) -> str | None:
    """The one full name of the article's people that `name` stands for."""
    tokens = name.split()
    if len(tokens) > 1:
        return name
    found = {
        p.name
        for p in people.persons
        if len(p.tokens) > 1 and tokens[0] in p.tokens and people.is_person(p)
    }
    return found.pop() if len(found) == 1 else None


def _named(text: str, noun: str) -> str | None:
    """The one name in the article that "the <noun>" points at ("the museum"
    -> "the Harrowgate Museum of Art"), with its article where it takes one."""
    heads = _HEADS.get(noun.lower(), ())
    names: list[str] = []
    for head in heads:
        if head[:1].isupper():
            before = (
                rf"((?:\p{{Lu}}[\p{{L}}&.-]*{_SP}){{1,4}}){head}\b"
                rf"(?:{_SP}of(?:{_SP}the)?(?:{_SP}\p{{Lu}}[\p{{L}}’'-]*)+)?"
            )
            after = rf"\b{head}(?:{_SP}\p{{Lu}}[\p{{L}}’'-]*)+"
            patterns = [before, after]
        else:
            patterns = [rf"((?:\p{{Lu}}[\p{{L}}&.-]*{_SP}){{1,3}}){head}\b"]
        for pattern in patterns:
            for m in regex.finditer(pattern, text):
                words = m.group(0).split()
                if "The" in words[1:]:
                    words = words[words.index("The", 1) :]  # "About The Harrowgate Museum"
                while words and (words[0] in _NOT_A_NAME_START or words[0].endswith(("’s", "'s"))):
                    words.pop(0)
                if len(words) >= 2:
                    names.append(" ".join(words))
    if not names:
        return None
    longest = max(names, key=len)
    if any(n not in longest for n in names):
        return None  # two different museums: which one is meant is not known
    if not longest.split()[-1][:1].isupper() or regex.search(
        rf"(?i)\bthe\s+{regex.escape(longest)}", text
    ):
        return "the " + longest
    return longest


def _apply(sentence: str, edits: list[Rewrite]) -> str | None:
    out, pos = [], 0
    for a, b, replacement in sorted(edits, key=lambda e: (e[0], e[1])):
        if replacement is None:
            return None
        if a < pos:
            if b <= pos:
                continue  # inside a piece already rewritten
            return None
        out.append(sentence[pos:a])
        out.append(replacement)
        pos = b
    out.append(sentence[pos:])
    return regex.sub(r"\s{2,}", " ", "".join(out)).strip()


def _name_descriptions(text: str, out: str) -> str | None:
    """ "at the track" -> "at Valley Speedway"; None when it names nothing."""
    pieces, pos = [], 0
    plain = _unquoted(out)
    for m in _THE_NOUN.finditer(plain):
        name = _named(text, m.group("noun"))
        if name is None:
            return None
        if m.group("the")[0] == "T":
            name = name[:1].upper() + name[1:]
        pieces.append(out[pos : m.start()])
        pieces.append(name + (m.group("poss") or ""))
        pos = m.end()
    pieces.append(out[pos:])
    return "".join(pieces)


def _unquoted(text: str) -> str:
    return _QUOTED.sub(lambda m: " " * len(m.group()), text)


def _stands_alone(out: str) -> bool:
    plain = _unquoted(out)
    if not _ENDS.search(out.strip()) or len(plain.split()) < 4:
        return False
    if _STATE.search(plain) or _HERE.search(plain) or _STALE.search(plain):
        return False
    for m in _PRONOUN.finditer(plain):
        plural = m.group("word") in ("they", "them", "their")
        if not _antecedent(plain[: m.start()], plural):
            return False
    return True


def _antecedent(before: str, plural: bool = False) -> bool:
    """Whether a name stands before a pronoun for it to point at ("they" may
    also point at people the sentence names by a noun: "61% of residents")."""
    if plural and regex.search(r"\b\p{Ll}{4,}\b", before):
        return True
    for m in regex.finditer(r"\b\p{Lu}[\p{L}’'-]+", before):
        word = m.group()
        if word in _NOT_A_NAME_START or regex.fullmatch(_MONTHS, word):
            continue
        return True
    return False


def told_when(sentence: str) -> list[Rewrite]:
    """ "said on Wednesday", "today announced": the edits that drop when the
    news was told."""
    out: list[Rewrite] = []
    for m in _TOLD_ON.finditer(sentence):
        out.append((m.start("when") - 1, m.end("when"), ""))
    for m in _TOLD_TODAY.finditer(sentence):
        out.append((m.start("when"), m.end("when") + 1, ""))
    return out


__all__ = ["Rewrite", "Sentence", "told_when", "wording"]
