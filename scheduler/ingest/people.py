"""People named in an article: who they are, their gender, who the article is about.

Rule-based on purpose (no language model): capitalised name sequences, evidence
that a sequence is a person (a speech verb, a title, an age, a relative's role,
a surname reused alone), and pronoun counts for gender. Resolving a bare surname
prefers the article's subject over a relative who shares it.
"""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import regex

from scheduler.ingest.cues import CUE
from scheduler.ingest.text import Span, index_of, word_set

_TOKEN = r"(?:(?:\p{Lu}\.){2,}|\p{Lu}[\p{L}’'\-]*\p{L}|\p{Lu}\.|\p{Lu}\p{Ll}*)"
_PARTICLE = r"(?:de|da|di|du|del|della|der|den|van|von|la|le|bin|al|el|St\.)"
_SP = r"[^\S\n]+"  # spaces, but a name never runs over a line break
NAME_PATTERN = (
    rf"(?:{_TOKEN})(?:{_SP}(?:{_PARTICLE}{_SP})?(?:{_TOKEN}))*(?:,?{_SP}(?:Jr\.|Sr\.|II|III|IV))?"
)
NAME_SEQ = regex.compile(rf"(?<![\p{{L}}\p{{N}}]){NAME_PATTERN}", regex.V1)
#: A first paragraph ending so is the story's first sentence, not its headline.
_ENDS_SENTENCE = regex.compile(r"\.[\"”’')\]]*$")
_OF_BEFORE = regex.compile(r"(\p{Lu}[\p{L}.]*)\s+(?:of|on|for|de|du)\s+(?:the\s+)?$")
_PREPOSITION_BEFORE = regex.compile(
    r"(?i)\b(?:in|on|at|from|to|of|for|with|near|into|by|about|against|over|under|toward|towards)"
    r"\s+(?:the\s+)?$"
)
# "Sixteen-year-old", "Second-placed", "Award-winning": descriptions, not names
# (a hyphenated name keeps a capital after the hyphen: "Jean-Pierre").
_WORD = regex.compile(r"\S+")
_DOTTED_TITLE = regex.compile(r"\b(\w+)\.\s+$")
_LAST_WORD = regex.compile(r"\b(\w+)\s*,?\s*$")  # the word before a name ("mother, ")
_AGE = regex.compile(r"-\p{Ll}")
_POSSESSIVE = regex.compile(r"[’']s?$")

TITLES_MALE = {"mr", "mr.", "sir", "lord", "king", "prince", "father"}
TITLES_FEMALE = {"mrs", "mrs.", "ms", "ms.", "miss", "madam", "lady", "queen", "princess", "dame"}
TITLES = (
    TITLES_MALE
    | TITLES_FEMALE
    | word_set(
        """
del del. delegate chairwoman councillor councilor councilman councilwoman alderman parent
organiser organizer campaigner activist stroke lawyer attorney candidate founder owner chef
analyst economist student teacher nurse farmer engineer champion winner leader treasurer
principal superintendent commander inspector speaker host anchor correspondent constable
trainer jockey rider pilot
dr dr. prof prof. gov gov. governor sen sen. senator rep rep. representative president
vice coach captain capt capt. judge justice chief mayor minister secretary chancellor
premier commissioner sheriff officer detective general gen gen. col col. lt lt. sgt sgt.
rev rev. reverend pastor bishop ceo chairman chairwoman chair director manager driver
skipper striker goalkeeper defender midfielder quarterback pitcher professor doctor rabbi
forward winger fullback full-back centre-back center-back shortstop rookie veteran
imam ambassador spokesman spokeswoman spokesperson mp mep msp
singer drummer guitarist bassist author co-author curator novelist poet winemaker astronaut
"""
    )
)
_FEMALE_ROLES = word_set(
    """
mother mom mum wife sister daughter grandmother grandma aunt niece girlfriend widow woman
girl actress queen princess chairwoman spokeswoman businesswoman congresswoman sportswoman
"""
)
_MALE_ROLES = word_set(
    """
father dad husband brother son grandfather grandpa uncle nephew boyfriend widower man boy
actor king prince chairman spokesman businessman congressman sportsman
"""
)
KINSHIP = word_set(
    """
mother mom mum father dad wife husband sister brother daughter son grandmother grandfather
grandma grandpa aunt uncle niece nephew cousin girlfriend boyfriend partner fiancée fiance
fiancé widow widower stepmother stepfather
"""
)
# Capitalised words that start sentences or name things, never people.
NOT_NAMES = word_set(
    """
The A An In On At For With By From But And Or Nor However When While After Before Since If
As It Its This That These Those There Here What Why How Who Whom Whose Where Which Instead
Indeed Still Yet So Then Now Even Also He She They We I You His Her Hers Their Our My Your
One Two Three Four Five Six Seven Eight Nine Ten Last Next First Second Third Meanwhile
Although Though Because Despite During Until Unless Whether According Asked Speaking
Racing Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March
April May June July August September October November December Jan Feb Mar Apr Jun Jul Aug
Sep Sept Oct Nov Dec Today Tomorrow Yesterday Read More Many Some Most Both Each Every Few
Several Other Another Such No Not Yes Oh Well Mr Mrs Ms Dr Sen Gov Rep Prof St Gen Col Lt
Capt Sgt Coach President Senator Governor Judge Justice Chief Mayor Minister Secretary Sir
Lady Lord Democrat Democrats Republican Republicans American Americans Canadian British
English French German Chinese Russian Photo Getty Images AP Reuters Copyright Click Share
Watch Subscribe Follow Update Breaking Exclusive Live Video Editor Editors Note UPDATE
CROSSTALK Let Do Does Did Is Are Was Were Be Been Will Would Can Could Should Must
Might Shall Has Have Had Former Democratic Del Senators Representatives Officials Critics
"""
)
_ORG_WORDS = word_set(
    """
observer globe chronicle examiner inquirer courier telegraph guardian mail express mirror show
morning evening sunday
air foods dairies dairy paper mills rovers college
inc inc. corp corp. co co. ltd ltd. llc plc company group party series motorsports
motorsport racing speedway raceway university college school academy department ministry
association federation league club team times post news journal television tv radio
network center centre committee council commission court house senate congress parliament
assembly bank fund agency institute foundation trust union cup championship championships
open games olympics stadium arena park street avenue road city county state states
airlines airways motors holdings partners capital labs technologies systems fc united city
hospital church museum gallery magazine press review tribune herald gazette daily weekly
channel studios records media services industries energy bureau office administration
board authority police army navy force corps guard museum festival awards award prize tour
grand prix nasdaq exchange market index street river lake mountain valley island beach bay
airport station square bridge hall tower building republic kingdom empire federal national
international global world north south east west northern southern eastern western central
new forum alliance town
athletic wanderers rangers albion harriers dynamo afc
"""
)
#: Words that end the name of an organisation, an outlet or a place.
ORG_WORDS = _ORG_WORDS
_PERSON_HINT = regex.compile(
    rf"^\s*(?:,\s*(?:\d{{1,3}}|who|whose)\b|\s*\(\s*\d{{1,3}}\s*\)"
    rf"|\s+(?:{CUE})\b)",
    regex.IGNORECASE,
)
_CUE_BEFORE = regex.compile(rf"\b(?:{CUE})\s*$", regex.IGNORECASE)
# Subject pronouns only: "Trump attacked her" says nothing about Trump.
_PRONOUNS_M = regex.compile(r"\b(?:he|himself)\b", regex.IGNORECASE)
_PRONOUNS_F = regex.compile(r"\b(?:she|herself)\b", regex.IGNORECASE)
# A quote that says "he" or "she" talks about someone of that gender.
# Subject forms only: "her old car" may well be someone else's car.
_THIRD_PERSON = {
    "m": regex.compile(r"(?i)\bhe\b"),
    "f": regex.compile(r"(?i)\bshe\b"),
}
_LOOKBACK_MENTIONS = 30
_POSSESSIVE_M = regex.compile(r"(?i)\bhis\s+\p{Ll}")
_POSSESSIVE_F = regex.compile(r"(?i)\bher\s+(?!(?:to|and|or|for|in|on|at|of|with|that)\b)\p{Ll}")
# What was founded or bought is a firm, whatever its name looks like.
_FOUNDED_BEFORE = regex.compile(
    r"(?i)\b(?:founded|co-founded|cofounded|launched|set\s+up|incorporated|acquired|bought)\s+$"
)
_FIRM_VERB_AFTER = regex.compile(
    r"(?i)\s+(?:was|were)\s+(?:founded|incorporated|listed)\b|\s+is\s+headquartered\b"
)
PRONOUNS = {"he": "m", "him": "m", "she": "f", "her": "f", "they": None, "them": None}


_DESCRIBED_SUBJECT = regex.compile(
    r"(?i)^(?:[^,]{0,40},\s*)?(?:the|a|an)\s+(?:[\p{L}\d-]+\s+){0,3}?([\p{L}-]+)\s+"
    r"(?:was|is|has|had|made|won|became|finished|took|returned|joined|signed|set|broke|"
    r"claimed|earned|beat|led|started|[\p{Ll}]+ed)\b"
)
_PERSON_SUFFIX = regex.compile(r"(?:er|or|ist|ian|ant|ent|ess)$")
_NOT_PERSON = word_set(
    """
merger order number quarter letter center centre matter water paper river border chapter
member power tower corner winter summer weather computer trailer player's event moment
government parliament department agreement statement tournament payment investment
management development parent percent
"""
)


_EMPLOYER_OF = regex.compile(
    r"[^\S\n]+(?:\p{Ll}[\p{Ll}-]*[^\S\n]+)?(\p{Ll}[\p{Ll}-]*)[^\S\n]+\p{Lu}"
)
_APPOSITIVE = regex.compile(
    r"\s*,\s+(?:the|a|an|his|her|their)\s+(?:[\w-]+\s+){0,3}?([\w-]+)\s*[,.]"
)


def _role_appositive_after(text: str, end: int) -> bool:
    m = _APPOSITIVE.match(text, end, min(len(text), end + 80))
    return bool(m and is_person_noun(m.group(1).lower()))


# Only when no pronoun or title says otherwise: given names ending in -a are
# mostly women's and in -o mostly men's across the languages news names come
# from; the exceptions below are common enough to list.
_MALE_IN_A = word_set(
    """
Luca Luka Nikola Nicola Andrea Joshua Ilya Ilja Kuba Sasha Mustafa Hamza Musa Issa Isa Juba
Jonah Noah Elijah Ezra Garcia Costa Dima Vanya Kolya Misha Pasha Grisha Yura Borja Mika
Zoltan Attila Akira Haruka Shota Yuya Ryota Kota Sota Luiz Battista Bautista Joakim Mattia
Elia Tobia Osama Oussama Usama Ouma Kiptanui Nana
"""
)
_FEMALE_IN_O = word_set("Margo Juno Cleo Clio Theo Io Sao Naoko Keiko Yoko Yuko Akiko Reiko")


def _given_name_gender(name: str) -> str | None:
    if len(name) < 3 or not name[:1].isupper() or name.isupper() or name.endswith("."):
        return None
    if name.endswith("a") and name not in _MALE_IN_A:
        return "f"
    if name.endswith("o") and name not in _FEMALE_IN_O:
        return "m"
    return None


def is_person_noun(noun: str) -> bool:
    """A noun that names a person's role or relation ("coach", "host", "lobbyist")."""
    if noun in TITLES or noun in KINSHIP:
        return True
    return bool(_PERSON_SUFFIX.search(noun)) and noun not in _NOT_PERSON


def name_tokens(tokens: list[str]) -> list[str]:
    """The name inside a titled phrase: "Italian Prime Minister Matteo Renzi" -> Matteo Renzi."""
    cut = 0
    for k, token in enumerate(tokens[:-1]):
        bare = token.lower().rstrip(".")
        if bare in TITLES or token.lower() in TITLES or token in NOT_NAMES or _AGE.search(token):
            cut = k + 1
    return tokens[cut:]


@dataclass
class Person:
    name: str  # the fullest form seen, without titles
    tokens: tuple[str, ...]
    first_seen: int
    mentions: int = 0
    evidence: int = 0  # how many signs say this is a person, not a place or brand
    relative: bool = False
    votes: Counter = field(default_factory=Counter)

    @property
    def surname(self) -> str:
        return self.tokens[-1]

    @property
    def voted_gender(self) -> str | None:
        m, f = self.votes["m"], self.votes["f"]
        if m > f:
            return "m"
        if f > m:
            return "f"
        return None

    @property
    def gender(self) -> str | None:
        voted = self.voted_gender
        if voted is None and len(self.tokens) > 1:
            return _given_name_gender(self.tokens[0])
        return voted


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    person: Person
    # After a preposition ("a visit to Midway Atoll"): rarely what a later
    # "he" or "she" refers to.
    oblique: bool = False


class People:
    """The people of one article and the places they are mentioned."""

    def __init__(
        self, text: str, sents: Sequence[Span], paras: Sequence[Span], quoted: Sequence[Span]
    ) -> None:
        self.text = text
        self.sents = sents
        self.paras = paras
        self._quoted_starts = [s for s, _ in quoted]
        self._quoted = quoted
        self.persons: list[Person] = []
        self.mentions: list[Mention] = []
        self._collect()
        # Which person each pronoun voted for, by the pronoun's position.
        self._cast: dict[int, tuple[Person, str]] = {}
        self._vote_gender()
        self._mention_starts = [m.start for m in self.mentions]
        self._roles: dict[str, tuple[list[tuple[int, int, str, int, bool]], list[int]]] = {}
        self._by_token: dict[str, list[Person]] = defaultdict(list)
        for p in self.persons:
            if len(p.tokens) > 1:
                for token in dict.fromkeys(p.tokens):
                    self._by_token[token].append(p)
        self.subject = self._pick_subject()

    # -- building ---------------------------------------------------------------

    def _collect(self) -> None:
        text = self.text
        raw: list[tuple[int, int, list[str], str | None, bool]] = []
        self._firms: set[tuple[str, ...]] = set()
        for m in NAME_SEQ.finditer(text):
            found = self._candidate(m)
            if found is not None:
                raw.append(found)

        by_key: dict[tuple[str, ...], Person] = {}
        singles: list[tuple[int, int, str, str | None, bool]] = []
        for start, end, tokens, title, relative in raw:
            if len(tokens) == 1:
                singles.append((start, end, tokens[0], title, relative))
                continue
            key = tuple(tokens)
            person = by_key.get(key)
            if person is None:
                person = Person(" ".join(tokens), key, start)
                by_key[key] = person
                self.persons.append(person)
            self._note(person, start, end, title, relative)

        surnames: dict[str, list[Person]] = defaultdict(list)
        firsts: dict[str, list[Person]] = defaultdict(list)
        for p in self.persons:
            surnames[p.surname].append(p)
            firsts[p.tokens[0]].append(p)
        for start, end, token, title, relative in singles:
            person = self._pick(surnames.get(token) or firsts.get(token) or [], start)
            if person is None:
                if token.isupper() and len(token) > 3 and title is None:
                    token = token.title()  # transcript labels: "PENCE"
                key = (token,)
                person = by_key.get(key)
                if person is None:
                    person = Person(token, key, start)
                    by_key[key] = person
                    self.persons.append(person)
            else:
                person.evidence += 1  # a surname reused alone is a strong sign
            self._note(person, start, end, title, relative)
        self.mentions.sort(key=lambda m: m.start)
        self._by_surname = surnames

    def _in_headline(
        self, kept: list[str], spans: list[tuple[int, int]]
    ) -> tuple[list[str], list[tuple[int, int]]]:
        """A name in a title-case headline ends where the body's use of it does:
        "Ines Okafor Wins Again" over a story that says "Okafor" is Ines Okafor,
        not a person of four names (who then signed her quotes)."""
        if len(kept) < 3 or not self.paras or spans[0][0] >= self.paras[0][1]:
            return kept, spans
        head = self.text[self.paras[0][0] : self.paras[0][1]].strip()
        if "\n" in head or len(head) > 160 or _ENDS_SENTENCE.search(head):
            return kept, spans  # the story's first sentence, not a headline
        body = self.text[self.paras[0][1] :]
        for n in range(len(kept), 1, -1):
            if regex.search(rf"(?<!\p{{L}}){regex.escape(kept[n - 1])}(?!\p{{L}})", body):
                return kept[:n], spans[:n]
        return kept, spans

    def _candidate(self, m: regex.Match) -> tuple[int, int, list[str], str | None, bool] | None:
        """A capitalised sequence as (start, end, name tokens, title, relative), or None
        when it names no person (a sentence opener, a firm, a team, a place)."""
        text = self.text
        spans = [(m.start() + t.start(), m.start() + t.end()) for t in _WORD.finditer(m.group(0))]
        tokens = [text[a:b] for a, b in spans]
        of = _OF_BEFORE.search(text, max(0, m.start() - 40), m.start())
        if of and of.group(1).lower() in TITLES and len(tokens) > 2:
            # "Secretary of State John Kerry": the portfolio, then the name.
            spans, tokens = spans[1:], tokens[1:]
        elif of:
            return None  # "Commission on Presidential Debates", "University of Iowa"
        role = _EMPLOYER_OF.match(text, m.end())
        if role and is_person_noun(role.group(1).lower()):
            # "Castleford manager Gary Prentice", "Unite official Kevin Marsh": the
            # club or firm the person works for, not a person.
            return None
        kept = name_tokens(tokens)
        dropped = tokens[: len(tokens) - len(kept)]
        spans = spans[len(dropped) :]
        kept, spans = self._in_headline(kept, spans)
        if kept[-1] in NOT_NAMES or kept[-1].lower().rstrip(".") in TITLES:
            return None
        start, end = spans[0][0], spans[-1][1]
        bare = _POSSESSIVE.sub("", kept[-1]) or kept[-1]
        end -= len(kept[-1]) - len(bare)
        kept[-1] = bare
        org = any(t.lower().strip(".") in _ORG_WORDS for t in kept)
        if org and len(kept) > 1 and _role_appositive_after(text, end):
            org = False  # "Lena Park, the prosecutor,": a surname that is also a word
        if org or any(t.isupper() and len(t) > 2 for t in kept[:-1]):
            return None
        if len(kept) > 4 or any(t in NOT_NAMES for t in kept):
            return None
        if text[max(0, start - 4) : start] == "the ":
            return None  # "the Lakeside Herons": a team, a firm or a place
        key = tuple(kept)
        if key in self._firms:
            return None
        if len(kept) > 1 and (
            _FOUNDED_BEFORE.search(text, max(0, start - 30), start)
            or _FIRM_VERB_AFTER.match(text, end)
        ):
            # "Ahl founded Ahlberg Tools", "Ahlberg Tools was founded in": a firm,
            # and so at every later mention too.
            self._firms.add(key)
            return None
        titles = [
            t.lower() for t in dropped if t.lower().rstrip(".") in TITLES or t.lower() in TITLES
        ]
        title = titles[-1] if titles else None
        before = text[max(0, start - 40) : start].lower()
        kin = _LAST_WORD.search(before)
        relative = bool(kin and kin.group(1) in KINSHIP)
        if title is None and kin and kin.group(1) in TITLES:
            title = kin.group(1)
        if title is None:
            # "Ms. Achebe": the abbreviated title is its own capitalised match.
            dotted = _DOTTED_TITLE.search(before)
            if dotted and dotted.group(1) in TITLES:
                title = dotted.group(1)
        return start, end, kept, title, relative

    def _note(
        self, person: Person, start: int, end: int, title: str | None, relative: bool
    ) -> None:
        person.mentions += 1
        after = self.text[end : end + 60]
        before = self.text[max(0, start - 40) : start]
        if title:
            person.evidence += 1
            if title in TITLES_MALE:
                person.votes["m"] += 3
            elif title in TITLES_FEMALE:
                person.votes["f"] += 3
        if relative:
            person.relative = True
            person.evidence += 1
        role = _LAST_WORD.search(before.lower())
        if role and role.group(1) in _FEMALE_ROLES:
            person.votes["f"] += 3
        elif role and role.group(1) in _MALE_ROLES:
            person.votes["m"] += 3
        if _PERSON_HINT.match(after) or _CUE_BEFORE.search(before):
            person.evidence += 1
        oblique = bool(_PREPOSITION_BEFORE.search(before))
        self.mentions.append(Mention(start, end, person, oblique))

    def _vote_gender(self) -> None:
        """A pronoun in a sentence most likely refers to that sentence's first person."""
        mention_starts = [m.start for m in self.mentions]
        last: Person | None = None
        last_para = -1
        for s_start, s_end in self.sents:
            i = bisect.bisect_left(mention_starts, s_start)
            first = None
            first_at = s_end
            while i < len(self.mentions) and self.mentions[i].start < s_end:
                m = self.mentions[i]
                if not self.in_quote(m.start) and not m.oblique and self.is_person(m.person):
                    first, first_at = self.mentions[i].person, m.start
                    break
                i += 1
            para = index_of(self.paras, s_start) if self.paras else 0
            if first is None and para != last_para:
                # A paragraph that names nobody ("The forward made her debut in
                # 2019 ... she was named") is about whom the story is about,
                # not whoever the last one ended on (the coach it quoted).
                continue
            target = first or last
            if target is None:
                continue
            plain = self._unquoted(s_start, s_end)
            for gender, pattern in (("m", _PRONOUNS_M), ("f", _PRONOUNS_F)):
                for m in pattern.finditer(plain):
                    # A pronoun ahead of the sentence's first person ("Her main
                    # rival, Sen. Paul Doe, ...") points back, at the last one.
                    who = target if s_start + m.start() >= first_at else last
                    if who is None:
                        continue
                    who.votes[gender] += 1
                    self._cast[s_start + m.start()] = (who, gender)
            if first is not None:
                # "Doe, the treasurer, accused her opponent": a possessive in the
                # sentence of the person it opens speaks of that person, mostly;
                # one ahead of that person points back, like the pronouns.
                for gender, pattern in (("m", _POSSESSIVE_M), ("f", _POSSESSIVE_F)):
                    for m in pattern.finditer(plain):
                        who = first if s_start + m.start() >= first_at else last
                        if who is not None:
                            who.votes[gender] += 1
            last, last_para = target, para

    def _unquoted(self, start: int, end: int) -> str:
        # Quotes are sorted and never overlap: only those from the one around
        # `start` onward can touch the range (scanning all made this quadratic).
        i = max(0, bisect.bisect_right(self._quoted_starts, start) - 1)
        pieces: list[str] = []
        pos = start
        while i < len(self._quoted) and self._quoted[i][0] < end:
            q_start, q_end = self._quoted[i]
            i += 1
            if q_end <= pos:
                continue
            a = max(q_start, pos)
            b = min(q_end, end)
            pieces.append(self.text[pos:a])
            pieces.append(" " * (b - a))
            pos = b
        pieces.append(self.text[pos:end])
        return "".join(pieces)

    def _pick_subject(self) -> Person | None:
        best, best_score = None, 0.0
        for p in self.persons:
            if p.relative or not self.is_person(p):
                continue
            score = p.mentions + p.evidence + (2 if len(p.tokens) > 1 else 0)
            score += 1.0 / (1 + p.first_seen / 500)
            if score > best_score:
                best, best_score = p, score
        return best

    def _pick(self, candidates: list[Person], pos: int) -> Person | None:
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        # The subject of the article, then anyone not introduced as a relative,
        # then whoever is mentioned most.
        subject = getattr(self, "subject", None)
        if subject in candidates:
            return subject
        return max(candidates, key=lambda p: (not p.relative, p.mentions, -p.first_seen))

    # -- queries ------------------------------------------------------------------

    def in_quote(self, pos: int) -> bool:
        i = bisect.bisect_right(self._quoted_starts, pos) - 1
        return i >= 0 and self._quoted[i][0] <= pos < self._quoted[i][1]

    def is_person(self, p: Person) -> bool:
        return p.evidence > 0 or len(p.tokens) > 1

    def resolve_name(self, phrase: str, pos: int) -> str:
        tokens = name_tokens(phrase.split())
        if not tokens:
            return phrase
        tokens[-1] = _POSSESSIVE.sub("", tokens[-1]) or tokens[-1]
        if len(tokens) == 1 and tokens[0].isupper() and len(tokens[0]) > 3:
            tokens = [tokens[0].title()]
        if len(tokens) == 1:
            token = tokens[0]
            full = self._by_token.get(token, [])
            person = self._pick(full, pos)
            if person is not None:
                return person.name
        return " ".join(tokens)

    def resolve_role(self, role: str, pos: int) -> str | None:
        """ "the mayor" -> whoever the text called "Mayor X" or "X, the mayor" before `pos`."""
        if role not in self._roles:
            found = self._role_mentions(role)
            self._roles[role] = (found, [m[1] for m in found])
        found, ends = self._roles[role]
        # The latest "Mayor X" wins; an "X, the mayor" only when X resolves to
        # a full name ("in Chelsea, the mayor said" is a place, then the mayor).
        for k in range(bisect.bisect_right(ends, pos) - 1, -1, -1):
            _, _, phrase, at, titled = found[k]
            name = self.resolve_name(phrase, at)
            if titled or len(name.split()) > 1:
                return name
        return None

    def _role_mentions(self, role: str) -> list[tuple[int, int, str, int, bool]]:
        """Every "Mayor X" and "X, the mayor" in the article, found once per role word
        (searching the text before each quote again made many quotes quadratic)."""
        head = regex.escape(role)
        # Only the role word ignores case: a name must keep its capitals.
        titled = regex.compile(rf"\b(?i:{head})\.?\s+({NAME_PATTERN})", regex.V1)
        described = regex.compile(
            rf"({NAME_PATTERN}),\s+(?:the\s+)?(?:[\w-]+\s+){{0,3}}(?i:{head})\b", regex.V1
        )
        out = [
            (m.start(), m.end(), m.group(1), m.start(1), pattern is titled)
            for pattern in (titled, described)
            for m in pattern.finditer(self.text)
        ]
        out.sort(key=lambda m: (m[1], m[0]))
        return out

    def resolve_pronoun(self, pronoun: str, pos: int, quote: Span | None = None) -> str | None:
        """The person a he/she/they at `pos` most likely refers to.

        With the `quote` it attributes: nobody the quote names speaks it, and
        when the quote itself says "he" (for a "he said"), that "he" is the man
        mentioned last before it, so the speaker is someone else if anyone is.
        """
        want = PRONOUNS.get(pronoun.lower())
        skip: set[int] = set()
        if quote is not None:
            skip = self._named_in(quote)
            for gender, said in _THIRD_PERSON.items():
                if want is None or not said.search(self.text, quote[0], quote[1]):
                    continue
                # The quote's "he" or "she" is someone it talks about: the person
                # of that gender mentioned last before it, who is then not the
                # one speaking. For the other gender ("He lied," she said) the
                # pronoun's own vote is set aside: it says nothing of that man.
                topic = (
                    self._last_before(quote[0], gender)
                    if gender == want
                    else self._topic_before(quote[0], gender, pos)
                )
                if topic is not None:
                    skip.add(id(topic))
        if skip:
            found = self._search_pronoun(pronoun, pos, want, skip)
            if found is not None:
                return found.name
        found = self._search_pronoun(pronoun, pos, want, set())
        return found.name if found is not None else None

    def _topic_before(self, at: int, gender: str, pos: int) -> Person | None:
        """`_last_before` without the vote the pronoun at `pos` cast itself."""
        cast = self._cast.get(pos)
        if cast is None:
            return self._last_before(at, gender)
        person, voted = cast
        person.votes[voted] -= 1
        try:
            return self._last_before(at, gender)
        finally:
            person.votes[voted] += 1

    def _search_pronoun(
        self, pronoun: str, pos: int, want: str | None, skip: set[int]
    ) -> Person | None:
        s_index = index_of(self.sents, pos)
        p_index = index_of(self.paras, pos)
        # First someone known to match the pronoun's gender, then anyone whose
        # gender is unknown: "he" is likelier a man named earlier than a name
        # nobody was ever called "he" or "she" about. Before the strict search
        # leaves the sentence just before the pronoun's, a person of unknown
        # gender named there is taken ("His engineer, Ingrid Solberg, said
        # ... "...," she said" is Solberg, not "His mother, Clara" before it).
        for strict in (True, False):
            for k in range(s_index, max(-1, s_index - 10), -1):
                if strict and k == s_index - 2 and want is not None:
                    near = self._first_in(
                        self.sents[k + 1][0], min(self.sents[k + 1][1], pos), want, skip=skip
                    )
                    if near is not None and near.gender is None:
                        return near
                s_start, s_end = self.sents[k]
                if index_of(self.paras, s_start) < p_index - 3:
                    break
                if k != s_index and self._led_by(pronoun, s_start, s_end):
                    # "She has faced ... Hillary Clinton ...": that sentence is
                    # itself about the same "she"; look further back.
                    continue
                person = self._first_in(
                    s_start, min(s_end, pos), want, strict and want is not None, skip=skip
                )
                if person is not None:
                    return person
        subject = self.subject
        if subject is not None and want in (None, subject.gender) and id(subject) not in skip:
            return subject
        return None

    def _named_in(self, span: Span) -> set[int]:
        """The people a quote itself names."""
        named: set[int] = set()
        i = bisect.bisect_left(self._mention_starts, span[0])
        while i < len(self.mentions) and self.mentions[i].start < span[1]:
            named.add(id(self._full(self.mentions[i])))
            i += 1
        return named

    def _last_before(self, pos: int, want: str) -> Person | None:
        """The person of `want` gender (or unknown) mentioned last before `pos`."""
        i = bisect.bisect_left(self._mention_starts, pos) - 1
        for k in range(i, max(-1, i - _LOOKBACK_MENTIONS), -1):
            m = self.mentions[k]
            if self.in_quote(m.start) or not self.is_person(m.person):
                continue
            person = self._full(m)
            if person.gender in (want, None):
                return person
        return None

    def _full(self, m: Mention) -> Person:
        person = m.person
        if len(person.tokens) == 1:
            person = self._pick(self._by_surname.get(person.surname, []), m.start) or person
        return person

    def _led_by(self, pronoun: str, start: int, end: int) -> bool:
        if pronoun.lower() not in ("he", "she"):
            return False
        plain = self._unquoted(start, min(end, start + 80)).lstrip(" \"“”'")
        return bool(regex.match(rf"(?i)(?:[^,.]{{0,40}},\s*)?{pronoun}\b", plain))

    def _first_in(
        self,
        start: int,
        end: int,
        want: str | None,
        strict: bool = False,
        antecedent: bool = True,
        skip: set[int] | None = None,
    ) -> Person | None:
        """The first person named in start..end (for a pronoun: `antecedent`, so
        not one behind a preposition), leaving out the people in `skip` (by id)."""
        i = bisect.bisect_left(self._mention_starts, start)
        while i < len(self.mentions) and self.mentions[i].start < end:
            m = self.mentions[i]
            i += 1
            if self.in_quote(m.start) or not self.is_person(m.person):
                continue
            person = self._full(m)
            if skip and id(person) in skip:
                continue
            # Behind a preposition only someone a pronoun or title showed to be
            # of the wanted gender ("lost to Ms. Ortiz. ... she said"); a
            # guess from the given name would let places in ("in Colorado").
            if antecedent and m.oblique and not (strict and want and person.voted_gender == want):
                continue
            if want is None or person.gender == want or (person.gender is None and not strict):
                return person
        return None

    def named_at(self, start: int, end: int) -> str | None:
        """The first person a sentence names (a pronoun is no name)."""
        person = self._first_in(start, end, None, antecedent=False)
        return person.name if person is not None else None

    def person_at(self, start: int, end: int) -> str | None:
        """The person a sentence is about: its first named person, else whom its pronoun means."""
        named = self.named_at(start, end)
        if named is not None:
            return named
        plain = self._unquoted(start, end)
        m = regex.search(r"\b(he|she|his|her)\b", plain, regex.IGNORECASE)
        if m:
            pronoun = "he" if m.group(1).lower() in ("he", "his") else "she"
            return self.resolve_pronoun(pronoun, start + m.start())
        # "In 2016, the young driver won...": a description of a person points
        # back to the person the passage is about; "the bridge" does not.
        m = _DESCRIBED_SUBJECT.match(plain)
        if m and is_person_noun(m.group(1).lower()):
            return self.resolve_pronoun("they", start)
        return None
