"""Who said a quote: the speech verb next to it and the speaker phrase it governs.

Patterns, all rule-based:
  "...," she explained.      "...," said Jane Doe.      "...," Doe, the coach, said.
  Doe told reporters: "..."   He said, "..."             According to Doe, "..."
  "SMITH: ..." (transcripts), and a paragraph ending "Doe added:" before a quote.
A quote fused into its own sentence ("...called it "a disaster."") or behind
"said that" is reported speech, not a direct quote, and is left out.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from scheduler.ingest.cues import CUE_RE
from scheduler.ingest.people import (
    NAME_PATTERN,
    NAME_SEQ,
    NOT_NAMES,
    ORG_WORDS,
    TITLES,
    is_person_noun,
    name_tokens,
)
from scheduler.ingest.quotes import QuoteSpan
from scheduler.ingest.text import Span, is_abbreviation

_PRONOUN = regex.compile(r"(?:^|\s)(he|she|they|it)$", regex.IGNORECASE)
_NAME_END = regex.compile(rf"{NAME_PATTERN}$", regex.V1)
_NAME_START = regex.compile(rf"^{NAME_PATTERN}", regex.V1)
_DET = r"(?:the|a|an|his|her|their|its|our|my|your|one|another|some|many|several|two|three)"
_NP_WORD = r"(?!(?:and|or|but|then|to|that|which|who|through|into|from)\b)[\w’'\-.]+"
# "Obama's former strategist": a capitalised possessive works as a determiner.
_POSS_DET = r"(?-i:\p{Lu}[\p{L}.\-]*[’']s)"
_NP_END = regex.compile(
    rf"(?i)(?:\b{_DET}|(?<![\p{{L}}’'])(?={_POSS_DET}){_POSS_DET})\s+(?:{_NP_WORD}\s+){{0,5}}?{_NP_WORD}$"
)
_NP_START = regex.compile(
    rf"(?i)^{_DET}\s+(?:[\w’'\-]+\s+){{0,4}}?[\w’'\-]+"
    # "a spokesman for the agency", "one source on the panel": one short phrase.
    r"(?:\s+(?:of|for|at|on|with|from|in)\s+(?:the\s+|a\s+|an\s+)?[\w’'\-]+(?:\s+[\w’'\-]+){0,2}?)?"
    r"(?=\s*(?:[,.;]|$)|\s+(?:who|whose|which|that|at|of|for|with|from|in|on)\b)"
)
_TRAILING_WORDS = regex.compile(
    r"(?i)\s+(?:has|had|have|was|were|is|are|also|later|then|once|again|simply|quietly|"
    r"reportedly|would|will|could|previously|recently|further|finally|just|even|only|never|"
    r"always|often|still|now|first|"
    # "the influential US daily": nouns ending in -ly are not adverbs.
    r"(?!(?:daily|weekly|monthly|quarterly|ally|family|assembly|rally|supply)\b)\w+ly)$"
)
_PAREN_END = regex.compile(r"\s*\([^()]{0,40}\)$")
_INDIRECT = regex.compile(r"(?i)\b(?:that|whether|if|how|why|what|to)\s*[,:]?\s*$")
_THAT_COMMA = regex.compile(r"(?i)\s*\bthat\s*[,:]\s*$")
_TAIL_OK = regex.compile(r"^(?:\s+[^,:;.!?“”\"]{0,70}?)?\s*[:,—–-]?\s*$")
_LABEL = regex.compile(r"^(\p{Lu}[\p{Lu}.'’\- ]{1,30}\p{Lu})\s*:\s+", regex.V1)
_ACCORDING = regex.compile(r"(?i)\baccording\s+to\s+(.{2,60}?)\s*,\s*$")
_ACCORDING_AFTER = regex.compile(r"(?i)according\s+to\s+([^,;:]{2,60}?)\s*(?:[,;:]|$)")
_ROLE_FOR = regex.compile(
    r"(?i)\b(?:the|a|an)\s+(?:[\p{Ll}-]+\s+){0,2}?([\p{Ll}-]+)\s+(?:for|of|at|with|from)"
    r"(?:\s+the)?$"
)
_OF_TAIL = regex.compile(r"^(.*?\S)\s+(?:of|from|at|for|with)\s+(?:the\s+)?\p{Lu}.*$")
_CLAUSE_WORDS = regex.compile(
    r"(?i)\b(?:that|whether|if|because|is|was|are|were|has|have|had|be|been|will|would|as|how|"
    r"what|why|when|who|which|he|she|they|it|we|i|there|this)\b"
)
_LEADING = {"the", "former", "then", "late", "retired", "acting", "interim"}
# "the states", "a statement", "his remarks": a cue word used as a noun.
# "The stewards’ reply": after a possessive too.
_NOUN_BEFORE = regex.compile(
    r"(?i)(?:\b(?:the|a|an|of|these|those|his|her|their|its|our)|\p{L}[’']s?)\s+$"
)
# "Marlow Evening Post:", "The Daily Report": these cue words, capitalised
# after a capitalised word, end a name ("Mayor Says" in a headline is a verb).
_IN_NAME = regex.compile(r"\p{Lu}[\p{L}.’'-]*\s+$")
_NAME_NOUNS = {"Post", "Report", "Reply", "Answer", "Comment"}


def _verb_use(s: str, v: regex.Match) -> bool:
    """Whether the cue word `v` in `s` is used as a speech verb."""
    if _NOUN_BEFORE.search(s, 0, v.start()):
        return False
    return not (v.group(0) in _NAME_NOUNS and _IN_NAME.search(s, 0, v.start()))


_ROLE_WORD = r"(?!(?:for|of|and|or|at|in|on|with|from|to|by|the|a|an|as|after|before)\b)[\p{Ll}-]+"
_ROLE_THEN_NAME = regex.compile(
    rf"\s+(?:{_ROLE_WORD}\s+){{0,2}}({_ROLE_WORD})\s+({NAME_PATTERN})", regex.V1
)
# A nickname in marks inside a name ("Marcia "Cia" Price") is not a new quote.
_NICKNAME = regex.compile(r"(?<=\p{Lu}[\p{L}.]*\s)[\"“]\p{Lu}[\p{L}.'’-]*[\"”](?=\s+\p{Lu})")
# A capitalised word before a lower-case noun modifies it ("US officials").
_MODIFIER = regex.compile(
    r"\s+(?!(?:on|in|at|of|for|with|who|and|or|during|after|before|as|to|from)\b)"
    r"\p{Ll}[\p{Ll}-]*(?=\s*(?:[,.;]|$))"
)
# "Mr. Okafor, a retired astronaut who advises the company, said": the verb of
# a relative clause is not the attribution's.
_RELATIVE_BEFORE = regex.compile(r"(?i)\b(?:who|which)\s+(?:\w+\s+)?$")
_SENT_STOP = regex.compile(r"[.!?](?=\s|$)")
_AFTER_WINDOW = 400


@dataclass(frozen=True)
class Speaker:
    kind: str  # "name", "pronoun" or "phrase"
    phrase: str
    pos: int  # where the phrase starts in the article text
    cue: str | None


def find_label(text: str, q: QuoteSpan) -> tuple[str, int] | None:
    """A transcript label at the start of a quote ("PENCE: Well, ...")."""
    m = _LABEL.match(text[q.start : q.end])
    if m and len(m.group(1).split()) <= 3:
        return m.group(1), q.start + m.end()
    return None


def after_quote(text: str, q: QuoteSpan, limit: int) -> Speaker | None:
    """The attribution that follows a quote's closing mark, if it is adjacent."""
    if q.close is None:
        return None
    base = q.close + 1
    # An attribution is a few words long; reading to the paragraph's end for
    # every quote made a long one-paragraph text quadratic.
    window = text[base : min(limit, base + _AFTER_WINDOW)]
    window = _NICKNAME.sub(lambda m: "·" * len(m.group(0)), window)
    for mark in '“"„«':
        cut = window.find(mark)
        if cut >= 0:
            window = window[:cut]
    window = _cut_sentence(text, base, window)
    lead = len(window) - len(regex.sub(r"^[\s,—–―-]+", "", window))
    body = window[lead:]
    dashed = regex.match(r"[\s,]*[—–―-]", window)
    if dashed and not any(_verb_use(body, v) for v in CUE_RE.finditer(body)):
        # "...” ― Jane Doe": a dash and a bare name sign a quote (vox pops, epigraphs).
        name = _NAME_START.match(body)
        rest = body[name.end() :] if name else ""
        # "― Jane Doe, The Lagos Review": the outlet after the name is no speaker.
        if name and (not rest.strip(" .,") or _OUTLET_TAIL.fullmatch(rest)):
            return Speaker("name", name.group(0), base + lead, None)
        return None
    according = _ACCORDING_AFTER.match(body)
    if according:
        # "...," according to the agency.
        found = _phrase_at_end(according.group(1), base + lead + according.start(1))
        return Speaker(found.kind, found.phrase, found.pos, "according to") if found else None
    verb = next(
        (
            v
            for v in CUE_RE.finditer(body)
            if _verb_use(body, v) and not _RELATIVE_BEFORE.search(body, 0, v.start())
        ),
        None,
    )
    # Ten words at most between quote and verb, more when commas set off
    # appositives ("Doe, the attorney general of Oklahoma, one of ..., said").
    if not verb or len(body[: verb.start()].split()) > 10 + 6 * body[: verb.start()].count(","):
        return None
    if verb.start() == 0:
        return _speaker_after_verb(body, verb, base + lead)
    subject = _subject_before(body[: verb.start()], base + lead, anchored=True)
    if subject is None:
        return None
    return Speaker(subject.kind, subject.phrase, subject.pos, verb.group(0))


def before_quote(text: str, q: QuoteSpan, clause_start: int) -> Speaker | None:
    """The attribution that introduces a quote ("Doe said:", "He told reporters,")."""
    before = text[clause_start : q.open]
    m = _ACCORDING.search(before)
    if m:
        found = _phrase_at_end(m.group(1), clause_start + m.start(1))
        return Speaker(found.kind, found.phrase, found.pos, "according to") if found else None
    verbs = [v for v in CUE_RE.finditer(before) if _verb_use(before, v)]
    if not verbs:
        return None
    verb = verbs[-1]
    tail = before[verb.end() :]
    that = _THAT_COMMA.search(tail)
    if that and text[q.start : q.start + 1].isupper():
        # "tweeted that, "For those ..."": the comma and capital make it direct.
        tail = tail[: that.start()] + tail[that.end() - 1 :]
    if not _TAIL_OK.match(tail) or _INDIRECT.search(before[: verb.end()] + tail):
        return None
    # Words between the verb and the quote must be a short complement ("told
    # reporters:", "said in a statement,") ending in a colon or comma; otherwise
    # the quote is the object of the narrator's sentence ("says voter fraud "would...").
    if tail.strip() and (not tail.rstrip().endswith((":", ",")) or _CLAUSE_WORDS.search(tail)):
        return None
    head = before[: verb.start()]
    if not head.strip():
        # "Said Doe: ..." puts the verb first.
        return _speaker_after_verb(before, verb, clause_start)
    if verb.group(0).lower().endswith("ing"):
        # "..., saying, ..." belongs to the clause's subject, which comes first.
        subject = _clause_subject(head, clause_start)
    else:
        subject = _subject_before(head, clause_start, anchored=False)
        if subject is None and regex.search(r"(?i)\band\s+(?:\w+ly\s+)?$", head):
            # "She urges him to stop and repeatedly says, "..."": the verb
            # shares the clause's subject.
            subject = _clause_subject(head, clause_start)
    if subject is None:
        return None
    return Speaker(subject.kind, subject.phrase, subject.pos, verb.group(0))


def _clause_subject(s: str, offset: int) -> Speaker | None:
    m = regex.search(r"(?i)^\W*(he|she|they)\b", s)
    if m:
        return Speaker("pronoun", m.group(1), offset + m.start(1), None)
    # "In May, two tenants' groups gave Mayor Doe a month, saying ...": the
    # subject that opens the clause speaks, not a name in its object.
    lead = _LEAD_PHRASE.match(s)
    at = lead.end() if lead else len(s) - len(s.lstrip(" \"“”'—–-"))
    m = _SUBJECT_NP.match(s, at)
    if m:
        return Speaker("phrase", m.group(1), offset + m.start(1), None)
    m = NAME_SEQ.match(s, at)
    if m:
        tokens = name_tokens(m.group(0).split())
        if tokens and tokens[0] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, offset + m.end() - len(name), None)
    for m in NAME_SEQ.finditer(s):
        tokens = name_tokens(m.group(0).split())
        if tokens and tokens[0] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, offset + m.end() - len(name), None)
    return None


# A short opening phrase before the subject: "In May,", "On Friday night,", "Earlier,".
_LEAD_PHRASE = regex.compile(
    r"\W*(?:(?:In|On|At|After|Before|During|Since|Earlier|Later|Last|Late|Then|Meanwhile|"
    r"Yesterday|Today|Also|However|Still|Now|Separately)\b[^,.;:!?]{0,40},\s+)"
)
_SUBJECT_NP = regex.compile(
    rf"(?i)((?:{_DET})\s+(?:[\w’'-]+\s+){{0,3}}?[\w’'-]+)\s+(?:also\s+)?"
    r"(?:is|was|are|were|has|had|have|did|does|will|would|gave|gives|took|takes|made|makes|"
    r"sent|sends|met|meets|won|lost|left|held|holds|kept|keeps|got|gets|set|went|came|"
    r"brought|[\p{Ll}-]+ed)\b"
)


def is_fused(text: str, q: QuoteSpan, p_start: int, attributed_before: bool) -> bool:
    """True when the quote is part of the narrator's own sentence (a partial quote)."""
    if attributed_before:
        return False
    i = q.open - 1
    while i >= p_start and text[i].isspace():
        i -= 1
    if i < p_start:
        return False
    prev = text[i]
    if prev in '.!?:;”"—–-(…':
        return False
    if prev == ",":
        return not text[q.start : q.start + 1].isupper()
    return True


# Verbs that weave a quote into the narrator's sentence without being speech
# verbs themselves: "called the plan "...", "accused X of "..."".
_WOVEN = regex.compile(
    r"(?i)\b(?:call|calls|called|calling|brand|brands|branded|branding|label|labels|labeled|"
    r"labelled|dub|dubs|dubbed|term|terms|termed|describe|describes|described|describing|"
    r"accuse|accuses|accused|accusing|criticize|criticizes|criticized|criticizing|criticise|"
    r"criticised|attack|attacks|attacked|attacking|blame|blames|blamed|liken|likens|likened|"
    r"praise|praises|praised|hail|hails|hailed|slam|slams|slammed|denounce|denounced|"
    r"condemn|condemned|dismiss|dismissed|mock|mocked|vowed|pledged|promised|wonder|wondered|"
    r"wondering|aloud)\b"
)
_WOVEN_MIN_WORDS = 8
_NAMED_MIN_WORDS = 4
_OWNED_MIN_WORDS = 5
_OWNED_TAIL = regex.compile(r"(?i)(?:that\s+)?(?:his|her|their|its|our|my)")
# Verbs that name or judge what the quote describes; the quote is their object's label.
_NAMING_VERB = regex.compile(
    r"(?i)(?:call|calls|called|brand|brands|branded|label|labels|labeled|labelled|dub|dubs|"
    r"dubbed|term|terms|termed|liken|likens|likened|accuse|accuses|accused|describe|describes|"
    r"described)"
)
_WOVEN_LONG_WORDS = 20
_WOVEN_TAIL = regex.compile(
    r"(?i)(?:(?:[\w’'.-]+\s+){0,3}?that(?:\s+(?:if|when|while|because|as))?"
    r"|,?\s*(?:but|and)"
    r"|(?:that\s+)?(?:he|she|they|we|i|it)(?:\s+(?:would|will|could|should|must|has|had|was|"
    r"is|were|are|wants|wanted|hopes|hoped|believes|believed|thinks|thought))?"
    r"|)"
)
# After "called", "branded", "accused": a short object ("the plan", "Burma a",
# "the agency of"), never a prepositional phrase ("called on police to").
_NAMING_TAIL = regex.compile(
    r"(?i)(?!(?:on|in|at|to|off|up|out|for|from|into|over)\b)"
    r"(?:[\w’'.-]+\s+){0,4}[\w’'.-]+"
)
# "told supporters to "go and vote"", "urged the council to "...": the quote is the
# instruction itself, in the speaker's words.
_DIRECTIVE = regex.compile(
    r"(?i)(?:tell|tells|told|telling|urge|urges|urged|urging|ask|asks|asked|asking|warn|warns|"
    r"warned|warning)"
)
_TO_TAIL = regex.compile(r"(?i)(?:[\w’'.-]+\s+){0,6}?to")
_JOINED_QUOTE = regex.compile(r"[“\"][^“”\"]*[”\"]\s*,?\s*(?:and|or|but)(?:\s+then)?\s*$")
_RELATIVE_HEAD = regex.compile(r"(?i)\bwhat\s+(?:\w+\s+){0,2}$")


def woven_speaker(text: str, q: QuoteSpan, clause_start: int) -> Speaker | None:
    """Who speaks a long quote woven into narration ("Doe called the plan "..."",
    "Doe said that "..."", "Doe criticized X for "...""): the subject of the
    nearest speech or naming verb before it in the same clause.

    Short fragments stay out: a word or two in marks is more often a term or a
    scare quote than speech, and a paraphrase around them is not the speaker's.
    """
    words = len(text[q.start : q.end].split())
    if words < _NAMED_MIN_WORDS:
        return None
    before = text[clause_start : q.open]
    # "told them to "..." and then "..."": quotes joined by a conjunction share
    # the clause's verb, so read the clause as it was before the first of them.
    while (joined := _JOINED_QUOTE.search(before)) is not None:
        before = before[: joined.start()]
    if regex.search(r"[“”\"]", before):
        return None  # another quote sits between: its attribution is the one to use
    verbs = [
        v
        for v in [*CUE_RE.finditer(before), *_WOVEN.finditer(before)]
        if not _NOUN_BEFORE.search(before, 0, v.start())
    ]
    if not verbs:
        return None
    verb = max(verbs, key=lambda v: v.start())
    tail = before[verb.end() :].strip()
    # Naming verbs: a shorter quote that is the sentence's whole last part
    # ("Oslo branded the deal a "betrayal of every fishing town."") is the
    # named subject's own words; mid-sentence it is more often a term.
    short = words < _WOVEN_MIN_WORDS
    # "..., saying its "budget was far smaller than promised."": a speech verb and
    # a possessive that stands for the speaker's "our"; the rest is their words.
    owned = (
        _OWNED_TAIL.fullmatch(tail) is not None
        and CUE_RE.fullmatch(verb.group(0)) is not None
        and (not short or (words >= _OWNED_MIN_WORDS and _ends_sentence(text, q)))
    )
    named_only = short and not owned
    if named_only and not (_NAMING_VERB.fullmatch(verb.group(0)) and _ends_sentence(text, q)):
        return None
    # Only what leaves the quote as the verb's whole object: "said that "...",
    # "told Fox that "...", "said he would "...", "called the plan "...".
    # "said the nation has become "..." puts the narrator's paraphrase first.
    naming = _WOVEN.fullmatch(verb.group(0)) is not None
    # A very long quote outweighs a short lead-in of paraphrase before it.
    very_long = len(text[q.start : q.end].split()) >= _WOVEN_LONG_WORDS
    directive = _DIRECTIVE.fullmatch(verb.group(0)) is not None
    if not (
        owned
        or _WOVEN_TAIL.fullmatch(tail)
        or (directive and _TO_TAIL.fullmatch(tail) and text[q.start : q.start + 1].islower())
        or (naming and _NAMING_TAIL.fullmatch(tail))
        or (very_long and len(tail.split()) <= 6 and not regex.search(r"[,.;:!?]", tail))
    ):
        return None
    head = before[: verb.start()]
    if not head.strip() or _RELATIVE_HEAD.search(head):
        return None
    if verb.group(0).lower().endswith("ing"):
        # "..., adding that "...": the clause's subject speaks.
        subject = _clause_subject(head, clause_start)
    else:
        subject = _subject_before(head, clause_start, anchored=False)
        if subject is None:
            subject = _clause_subject(head, clause_start)
    if subject is None:
        return None
    if named_only and (subject.kind != "name" or subject.phrase.split()[0] in NOT_NAMES):
        # "Critics called it "...": a group, not someone whose words these are.
        return None
    return Speaker(subject.kind, subject.phrase, subject.pos, verb.group(0))


def _ends_sentence(text: str, q: QuoteSpan) -> bool:
    """The quote closes its sentence: a stop inside or right after the closing mark."""
    if q.close is None:
        return False
    if text[q.end - 1] in ".!?":
        return True
    after = text[q.close + 1 : q.close + 3]
    return after[:1] in ".!?" or after[:1] == "" or after.lstrip()[:1] in "—–" or after == " -"


_POSSESSOR_COLON = regex.compile(
    rf"^\W*(?:the\s+)?({NAME_PATTERN})[’']s?\s+(?:[\p{{Ll}}-]+\s+){{0,3}}[\p{{Ll}}-]+\s*:\s*$",
    regex.V1,
)
_OUTLET = r"(?:the\s+)?\p{Lu}[\p{L}.&’'-]*(?:\s+\p{Lu}[\p{L}.&’'-]*){0,4}"
_ROUNDUP = regex.compile(
    rf"^\W*({NAME_PATTERN}),\s+{_OUTLET}(?:\s*\([^()]{{1,40}}\))?\s*:\s*$", regex.V1
)
_OUTLET_COLON = regex.compile(rf"^\s*({_OUTLET})\s*:\s*$", regex.V1)
_POSSESSED_COLON = regex.compile(
    r"^\s*((?:the|a|an)\s+(?:[\p{Ll}-]+\s+){0,2}[\p{Ll}-]+)[’']s?\s+"
    r"(?:[\p{Ll}-]+\s+){0,2}(?:reply|response|answer|verdict|statement|message|view|advice|"
    r"warning|ruling|position)\s*:\s*$",
    regex.IGNORECASE,
)
_OUTLET_TAIL = regex.compile(rf",\s+{_OUTLET}[\s.]*")
_NP_SUBJECT = regex.compile(
    rf"(?i)^\W*({_DET}\s+(?:[\w’'-]+\s+){{0,3}}?[\w’'-]+)\s+"
    r"(?:is|was|has|had|did|does|will|would|used|uses|put|puts|began|begins|read|reads|[\w-]+ed)\b"
)


def colon_speaker(text: str, q: QuoteSpan, clause_start: int) -> Speaker | None:
    """A clause ending in a colon with no speech verb introduces its subject's words:
    "Doe's reply: "...", "The memo began with a warning: "...", "Doe is
    rolling out a new message: "..."."""
    before = text[clause_start : q.open]
    if not before.rstrip().endswith(":") or regex.search(r"[“”\"]", before):
        return None
    m = _ROUNDUP.match(before)
    if m:
        # "Jane Doe, The Lagos Review: "..."": a press roundup; the outlet is not the speaker.
        tokens = name_tokens(m.group(1).split())
        if tokens and tokens[0] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, clause_start + m.end(1) - len(name), None)
    m = _OUTLET_COLON.match(before)
    if m and m.group(1).split()[-1].lower() in ORG_WORDS:
        # "The Harbor Gazette: "..."": an editorial, in the paper's own name.
        return Speaker("phrase", m.group(1), clause_start + m.start(1), None)
    m = _POSSESSED_COLON.match(before)
    if m:
        # "The stewards’ reply: "..."": the stewards speak.
        phrase = m.group(1)
        if phrase[:4] == "The ":
            phrase = "the" + phrase[3:]  # a description, not a name: no capital
        return Speaker("phrase", phrase, clause_start + m.start(1), None)
    m = _POSSESSOR_COLON.match(before)
    if m:
        tokens = name_tokens(m.group(1).split())
        if tokens and tokens[0] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, clause_start + m.end(1) - len(name), None)
    # "Worried about turnout, Doe is rolling out...": past a leading phrase first.
    m = regex.match(
        rf"^[^,]{{0,160}},\s+({NAME_PATTERN})\s+\p{{Ll}}", before, regex.V1
    ) or regex.match(
        # "Doe, for her part, was blunt:": an aside between the name and its verb.
        rf"^\W*(?:(?:Then|But|And|So|Now)\s+)?({NAME_PATTERN})(?:,[^,:]{{1,40}},)?\s+\p{{Ll}}",
        before,
        regex.V1,
    )
    if m:
        tokens = name_tokens(m.group(1).split())
        if tokens and tokens[0] not in NOT_NAMES and tokens[-1] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, clause_start + m.end(1) - len(name), None)
    m = regex.match(r"(?i)^\W*(he|she|they)\s", before) or regex.match(
        # "Asked about his goals, he did not hesitate:"
        r"^[^,:;]{0,80},\s+(he|she|they)\s+\p{Ll}",
        before,
    )
    if m:
        return Speaker("pronoun", m.group(1), clause_start + m.start(1), None)
    m = _NP_SUBJECT.match(before)
    if m:
        sender = _FROM_NAME.search(m.group(1))
        if sender:
            # "The message from Ana Ruiz was simple:": Ruiz speaks, not the message.
            name = sender.group(1)
            return Speaker("name", name, clause_start + m.start(1) + sender.start(1), None)
        return Speaker("phrase", m.group(1), clause_start + m.start(1), None)
    return None


_FROM_NAME = regex.compile(
    rf"(?i:message|statement|reply|response|answer|letter|note|verdict|advice|warning)\s+"
    rf"(?:from|by|of)\s+({NAME_PATTERN})$",
    regex.V1,
)


def _cut_sentence(text: str, base: int, window: str) -> str:
    for m in _SENT_STOP.finditer(window):
        if not is_abbreviation(text, base + m.start()):
            return window[: m.start()]
    return window


def _speaker_after_verb(body: str, verb: regex.Match, offset: int) -> Speaker | None:
    rest = body[verb.end() :]
    stripped = rest.lstrip()
    pos = offset + verb.end() + (len(rest) - len(stripped))
    found = _after_verb(stripped, pos, verb)
    if found is None and stripped[:4].lower() == "the ":
        # "said the ruling": skipping "the" as a title's lead-in found nothing.
        m = _NP_START.match(stripped)
        if m:
            appos = regex.match(r"\s*,\s*", stripped[m.end() :])
            # "said the museum’s curator of palaeontology, Dr. Owen Pryce"
            named = (
                _titled_name(stripped[m.end() + appos.end() :], pos + m.end() + appos.end())
                if appos
                else None
            )
            if named:
                return Speaker("name", named[0].group(0), named[1], verb.group(0))
            return Speaker("phrase", m.group(0), pos, verb.group(0))
    return found


def _skip_titles(stripped: str, pos: int) -> tuple[str, int]:
    """ "the Rev. Jane Doe", "former Sen. Doe", "Dr. Owen Pryce": past the titles
    before a name (a title alone, "Dr", is no name)."""
    while True:
        words = stripped.split(maxsplit=1)
        if len(words) < 2 or not (
            words[0].lower().rstrip(".") in TITLES or words[0].lower() in _LEADING
        ):
            return stripped, pos
        skip = stripped.index(words[1])
        stripped, pos = stripped[skip:], pos + skip


def _titled_name(s: str, pos: int) -> tuple[regex.Match, int] | None:
    """The name at the start of `s` past its titles, with where it starts."""
    stripped, at = _skip_titles(s, pos)
    m = _NAME_START.match(stripped)
    if m is None or m.group(0).split()[0] in NOT_NAMES:
        return None
    return m, at


# "Lindqvist’s crew chief, Ron Baptiste": a possessive, a role, the person.
_POSSESSED_ROLE = regex.compile(r"\s+((?:[\p{Ll}-]+\s+){0,3}[\p{Ll}-]+)(?=\s*(?:,|$))")


def _after_verb(stripped: str, pos: int, verb: regex.Match) -> Speaker | None:
    stripped, pos = _skip_titles(stripped, pos)
    m = _NAME_START.match(stripped)
    if m and regex.search(r"[’']s$", m.group(0)):
        # "said Lindqvist’s crew chief, Ron Baptiste": the possessor is not the
        # speaker; the person after the role is, or else the role itself.
        role = _POSSESSED_ROLE.match(stripped, m.end())
        if role:
            rest = stripped[role.end() :]
            appos = regex.match(r"\s*,\s*", rest)
            named = (
                _titled_name(rest[appos.end() :], pos + role.end() + appos.end()) if appos else None
            )
            if named:
                return Speaker("name", named[0].group(0), named[1], verb.group(0))
            return Speaker("phrase", stripped[: role.end()], pos, verb.group(0))
    if (
        m
        and m.group(0).split()[0] not in NOT_NAMES
        and not (
            m.group(0).isupper() and len(m.group(0)) <= 4 and _MODIFIER.match(stripped, m.end())
        )
    ):
        # "said MSNBC host Jo Doe", "said Clinton spokesman Jo Doe": an outlet or
        # employer, a role, then the person.
        role = _ROLE_THEN_NAME.match(stripped, m.end())
        if role and (is_person_noun(role.group(1).lower()) or len(role.group(2).split()) > 1):
            return Speaker("name", role.group(2), pos + role.start(2), verb.group(0))
        return Speaker("name", m.group(0), pos, verb.group(0))
    modifier = _MODIFIER.match(stripped, m.end()) if m else None
    if modifier and m.group(0).isupper() and len(m.group(0)) <= 4:
        # "said US officials": the capitalised word is part of a description.
        return Speaker("phrase", stripped[: modifier.end()], pos, verb.group(0))
    m = _NP_START.match(stripped)
    if m:
        after_np = stripped[m.end() :]
        appos = regex.match(r"\s*,\s*", after_np)
        if appos:
            # "said the museum’s curator of palaeontology, Dr. Owen Pryce"
            named = _titled_name(after_np[appos.end() :], pos + m.end() + appos.end())
            if named:
                return Speaker("name", named[0].group(0), named[1], verb.group(0))
        return Speaker("phrase", m.group(0), pos, verb.group(0))
    m = regex.match(r"(?i)(he|she|they)\b", stripped)
    if m:
        return Speaker("pronoun", m.group(1), pos, verb.group(0))
    # "said 9/11 widow Jane Doe": a lower-case description, then the name.
    # "of the", "for a" are no description: "said the president of the Royal
    # Society" is the president, not the society.
    m = regex.match(
        r"(?:(?!(?:of|the|for|at|in|from|with|on|by|to|and|a|an)\s)[\p{Ll}\d/’'-]+\s+){1,4}",
        stripped,
    )
    if m:
        # "said co-author Dr. Chiara Rossi": the description, titles, the name.
        named = _titled_name(stripped[m.end() :], pos + m.end())
        if named:
            name, at = named
            rest = stripped[at - pos + name.end() :]
            if not _MODIFIER.match(rest):
                return Speaker("name", name.group(0), at, verb.group(0))
    return None


def _subject_before(s: str, offset: int, anchored: bool) -> Speaker | None:
    """The speaker phrase that ends `s` (text just before a speech verb)."""
    s = _trim_end(s)
    lead = _NAME_START.match(s)
    if anchored and lead and s[lead.end() :].startswith(","):
        # "...," Doe, the attorney general of Oklahoma, one of the states, said.
        tokens = name_tokens(lead.group(0).split())
        if tokens and tokens[0] not in NOT_NAMES:
            name = " ".join(tokens)
            return Speaker("name", name, offset + lead.end() - len(name), None)
    appositive = None
    for _ in range(2):  # "Doe, the attorney general, one of the plaintiffs, said"
        if not s.endswith(","):
            break
        inner = s[:-1]
        comma = inner.rfind(",")
        if comma < 0 or len(inner) - comma > 90:
            return None
        appositive = (inner[comma + 1 :].strip(), offset + comma + 1)
        s = _trim_end(inner[:comma])
    # "Mr. Doe of the Sierra Club said": the speaker is Doe, not the club.
    of = _OF_TAIL.match(s)
    if of and _NAME_END.search(of.group(1)):
        s = of.group(1)
    found = _phrase_at_end(s, offset)
    if found is None:
        return None
    if (
        appositive
        and found.kind == "name"
        and regex.search(
            r"(?i)\b(?:at|of|for|with|from|in)\s+(?:the\s+)?$", s[: found.pos - offset]
        )
    ):
        # "Sato’s team principal at Kestrel, Bettina Kraus, chimed in": the name
        # after the role at the firm speaks, not the firm.
        name = _NAME_START.match(appositive[0])
        if name and name.group(0) == appositive[0] and name.group(0).split()[0] not in NOT_NAMES:
            return Speaker("name", name.group(0), appositive[1], None)
    # After a quote the speaker must come first: a title or a role may precede
    # the name ("Mr. Doe", "campaign spokesman Doe"), another clause may not.
    prefix = s[: found.pos - offset].strip(" —–-")
    if (
        anchored
        and prefix
        and not all(w.lower() in TITLES for w in prefix.split())
        and (len(prefix.split()) > 4 or regex.search(r"[,;:!?]", prefix))
    ):
        return None
    title_only = found.kind == "name" and found.phrase.lower().rstrip(".") in TITLES
    if (found.kind == "phrase" or title_only) and appositive:
        # "The local MP, Diane Holloway, said": a description (or a bare title
        # such as "MP") followed by the name it describes.
        name = _NAME_START.match(appositive[0])
        if name and name.group(0) == appositive[0]:
            return Speaker("name", name.group(0), appositive[1], None)
    return found


def _trim_end(s: str) -> str:
    s = s.rstrip()
    while True:
        trimmed = _PAREN_END.sub("", _TRAILING_WORDS.sub("", s)).rstrip()
        if trimmed == s:
            return s
        s = trimmed


def _phrase_at_end(s: str, offset: int) -> Speaker | None:
    m = _PRONOUN.search(s)
    if m:
        return Speaker("pronoun", m.group(1), offset + m.start(1), None)
    m = _NAME_END.search(s)
    if m:
        tokens = m.group(0).split()
        kept = name_tokens(tokens)
        start = m.start()
        for token in tokens[: len(tokens) - len(kept)]:
            start = s.index(token, start) + len(token)
        while start < len(s) and s[start].isspace():
            start += 1
        tokens = kept
        if tokens:
            before = s[:start].rstrip()
            role = _ROLE_FOR.search(before)
            if role and is_person_noun(role.group(1).lower()):
                # "a spokeswoman for the Coastal Agency": the person, described.
                return Speaker("phrase", s[role.start() :], offset + role.start(), None)
            # "the team's coach Doe" is a name; "Doe's coach" is not Doe.
            if not regex.search(r"[’']s$", tokens[-1]):
                return (
                    Speaker("name", " ".join(tokens), offset + start, None)
                    if (not before.endswith(("’s", "'s")))
                    else _np(s, offset)
                )
    return _np(s, offset)


def _np(s: str, offset: int) -> Speaker | None:
    m = _NP_END.search(s)
    if m and len(m.group(0).split()) <= 6:
        if regex.search(
            r"(?i)\b(?:through|in|on|at|from|to|of|for|with|into|by)\s+$", s[: m.start()]
        ):
            # "Protesters marching through the streets chanted": the streets
            # did not chant; the clause's subject did.
            return _clause_subject(s, offset)
        return Speaker("phrase", m.group(0), offset + m.start(), None)
    return None


__all__ = [
    "Speaker",
    "after_quote",
    "before_quote",
    "colon_speaker",
    "find_label",
    "is_fused",
    "woven_speaker",
]


# "Doe said she would meet the company next week." — reported speech whose
# verb takes a clause (not "said on Monday" alone, not a quote of its own).
_REPORTED_TAIL = regex.compile(
    r"(?i)\s+(?:(?:on|in|at|last|this|earlier)\s+[\w ]{1,20}?\s+)?(?:that\s+)?"
    r"(?:he|she|they|it|the|a|an|his|her|their|its|\p{Lu})"
)


# "After Doe said ...": the verb belongs to a clause inside the sentence.
_SUBORDINATE = regex.compile(r"(?i)\b(?:who|which|that|when|after|because|if)\b")


def reported_lead(text: str, q: QuoteSpan, sent: Span) -> Speaker | None:
    """The speaker of a quote with no attribution of its own that follows, in
    its paragraph, a sentence reporting what someone said: "The local MP, Doe,
    said she would meet the company. "I will be asking one question."" is
    Doe's. `sent` is that sentence; it must hold no quote of its own and open
    with the person who said it."""
    s = text[sent[0] : sent[1]]
    if any(c in s for c in '"“”') or text[sent[1] : q.open].strip():
        return None
    for v in CUE_RE.finditer(s):
        if not _verb_use(s, v) or v.group(0).lower().endswith("ing"):
            continue
        if not _REPORTED_TAIL.match(s, v.end()):
            return None
        head = s[: v.start()]
        if _SUBORDINATE.search(head):
            return None  # the verb of a clause inside the sentence, not its own
        found = _subject_before(head, sent[0], anchored=False)
        if found is None or found.kind == "pronoun":
            return None
        return Speaker(found.kind, found.phrase, found.pos, v.group(0))
    return None
