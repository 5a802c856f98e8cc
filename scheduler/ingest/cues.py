"""Speech verbs ("cues") in every inflection, for finding who said a quote."""

from __future__ import annotations

import regex

from scheduler.ingest.text import word_set

# Lemmas whose inflections follow the regular spelling rules.
_REGULAR = word_set(
    """
add acknowledge admit advise affirm agree announce answer argue ask assert boast caution
chant claim comment complain concede conclude confess confide confirm continue counter cry
declare deny describe emphasise emphasize enthuse exclaim explain gush insist interject
joke lament laugh maintain marvel mention muse mutter murmur note observe offer plead
pledge point post predict promise quip recall recount reflect remark remember remind reply
report respond retort reveal say scream shout sigh sing smile snap state stress suggest
tell testify tweet urge vow warn whisper wonder write yell
allege assure blast brag charge chide cite contend declare deflect demand email fume groan
grumble growl holler insist interrupt object opine posit protest rage rail rant
reason recite repeat retweet scoff scold sneer thunder wail concur
"""
)

_IRREGULAR = {
    "say": ["say", "says", "said", "saying"],
    "tell": ["tell", "tells", "told", "telling"],
    "write": ["write", "writes", "wrote", "written", "writing"],
    "sing": ["sing", "sings", "sang", "sung", "singing"],
    "admit": ["admit", "admits", "admitted", "admitting"],
    "quip": ["quip", "quips", "quipped", "quipping"],
    "snap": ["snap", "snaps", "snapped", "snapping"],
    "testify": ["testify", "testifies", "testified", "testifying"],
    "reply": ["reply", "replies", "replied", "replying"],
    "cry": ["cry", "cries", "cried", "crying"],
    "speak": ["speak", "speaks", "spoke", "spoken", "speaking"],
    "read": ["read", "reads", "reading"],
    "begin": ["begin", "begins", "began", "begun", "beginning"],
    "rebut": ["rebut", "rebuts", "rebutted", "rebutting"],
    "chat": ["chat", "chats", "chatted", "chatting"],
}


def _inflect(lemma: str) -> list[str]:
    if lemma in _IRREGULAR:
        return _IRREGULAR[lemma]
    if lemma.endswith("e"):
        return [lemma, lemma + "s", lemma + "d", lemma[:-1] + "ing"]
    plural = lemma + ("es" if lemma.endswith(("sh", "ch", "ss", "x")) else "s")
    return [lemma, plural, lemma + "ed", lemma + "ing"]


# Bare forms that are far more often nouns or adjectives next to a name
# ("state Sen. Doe", "the state"): their inflections stay cues.
_NOUN_FORMS = {"state"}

CUE_FORMS: frozenset[str] = frozenset(
    form
    for lemma in {*_REGULAR, *_IRREGULAR}
    for form in _inflect(lemma)
    if form not in _NOUN_FORMS
)

# Multi-word cues; "went on" and "pointed out" need their particle to be speech.
_PHRASES = [
    r"(?:go|goes|went|going|gone)\s+on",
    r"(?:point|points|pointed|pointing)\s+out",
    r"(?:shoot|shoots|shot|fire|fires|fired|hit|hits)\s+back",
    r"(?:chime|chimes|chimed|chiming|weigh|weighs|weighed|weighing|pipe|pipes|piped)\s+in",
    r"(?:sum|sums|summed|summing|pipe|pipes|piped|speak|speaks|spoke)\s+up",
    r"(?:swipe|swipes|swiped|swiping|lash|lashes|lashed|lashing)\s+(?:out\s+)?at",
    # "As Doe put it, "..."", "Doe put it this way:": "put" alone is no speech.
    r"(?:put|puts|putting)\s+it(?:\s+this\s+way)?",
]
_single = sorted(CUE_FORMS, key=len, reverse=True)
CUE = r"(?:" + "|".join([*_PHRASES, *_single]) + r")"
CUE_RE = regex.compile(rf"\b{CUE}\b", regex.IGNORECASE)
