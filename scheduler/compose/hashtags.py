"""Hashtags from an article's subject, spelled as people write them.

Only names the article itself establishes become tags: the people extraction
found speaking or as a milestone's subject, names of several capitalised words
the article repeats mid-sentence (a series, a team: "ARCA Menards Series"), and
acronyms it uses again and again ("NASCAR"). A capitalised word on its own
("Eventually", "Berlin's") never does: no tag is better than a wrong one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import regex

from scheduler.compose.filters import hashtag

MAX_TAGS = 3
_NAME_WORD = regex.compile(r"^\p{Lu}[\p{L}'’\-.]*$")
# Two or more capitalised words in a row ("Pan American Championships").
_PHRASE = regex.compile(r"(?<![\p{L}\p{N}'’])(?:\p{Lu}[\p{L}\p{N}'’\-]*\s+)+\p{Lu}[\p{L}\p{N}\-]*")
_ACRONYM = regex.compile(r"(?<![\p{L}\p{N}])\p{Lu}{4,8}(?![\p{L}\p{N}])")
# Words that start a capitalised run without belonging to a name.
_NOT_IN_NAME = frozenset(
    [
        "The",
        "A",
        "An",
        "In",
        "On",
        "At",
        "By",
        "For",
        "From",
        "With",
        "And",
        "But",
        "Or",
        "Of",
        "To",
        "As",
        "Her",
        "His",
        "Their",
        "Its",
        "Our",
        "My",
        "This",
        "That",
        "These",
        "Those",
        "When",
        "While",
        "After",
        "Before",
        "Since",
        "During",
        "Monday",
        "Tuesday",
        "Wednesday",
        "Thursday",
        "Friday",
        "Saturday",
        "Sunday",
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
        "Mr",
        "Mrs",
        "Ms",
        "Dr",
        "I",
        "We",
        "You",
        "She",
        "He",
        "They",
        "It",
    ]
)


def _is_name(name: str) -> bool:
    words = name.split()
    return 2 <= len(words) <= 4 and all(_NAME_WORD.match(w) for w in words)


def _mid_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return bool(before) and before[-1] not in '.!?"”“:\n'


def _repeated_names(text: str) -> Counter[str]:
    """Capitalised runs seen at least twice, at least once mid-sentence."""
    seen: Counter[str] = Counter()
    inside: set[str] = set()
    for m in _PHRASE.finditer(text):
        words = m.group(0).split()
        while words and words[0].strip("'’") in _NOT_IN_NAME:
            words.pop(0)
        while words and words[-1] in _NOT_IN_NAME:
            words.pop()
        if len(words) < 2 or any(w.endswith(("'s", "’s")) for w in words[:-1]):
            continue
        phrase = " ".join(words)
        seen[phrase] += 1
        if _mid_sentence(text, m.start()):
            inside.add(phrase)
    return Counter({p: n for p, n in seen.items() if n >= 2 and p in inside})


def subject_hashtags(text: str, people: Iterable[str | None]) -> list[str]:
    """At most three tags for the article: its people (most mentioned first),
    then the names and acronyms it repeats."""
    tags: list[str] = []
    names: list[str] = []

    def add(name: str) -> None:
        tag = hashtag(name.replace("’", "").replace("'", ""))
        if tag and tag not in tags and len(tags) < MAX_TAGS:
            tags.append(tag)
            names.append(name)

    counted = Counter(p.strip() for p in people if p and _is_name(p.strip()))
    for person, _ in sorted(
        counted.items(), key=lambda kv: (-text.count(kv[0].split()[-1]), -kv[1], kv[0])
    ):
        add(person)
    people_words = {w for n in names for w in n.split()}
    for phrase, _ in _repeated_names(text).most_common():
        if not people_words & set(phrase.split()):
            add(phrase)
    acronyms = Counter(_ACRONYM.findall(text))
    for word, count in acronyms.most_common():
        if count >= 3 and not any(word in n.split() for n in names):
            add(word)
    return tags
