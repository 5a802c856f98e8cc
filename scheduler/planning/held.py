"""Drafts held for a person: what planning cannot finish and must not send.

A quote nobody is known to have said is never posted as if someone had; a
fragment the narrator's sentence carries (`called the run "the best stretch
..."`) says nothing alone. Planning still makes their posts, so they are shown
rather than dropped, but as drafts whose `reason` starts with `HELD` and, for
a quote, with `UNKNOWN_SPEAKER` where the name would be. Approving refuses a
held draft until a person has edited it (`desk.editing` then rewrites the
reason), and refuses any text that still shows `UNKNOWN_SPEAKER`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scheduler.planning.whole_quotes import WholeQuote

#: A held draft's `reason` starts with this.
HELD = "held for review: "
#: Stands where a held quote's speaker would be, for the editor to replace.
UNKNOWN_SPEAKER = "[speaker unknown]"


def held_because(whole: WholeQuote) -> str | None:
    """Why a quote's post needs a person before it may go, or None."""
    if not whole.speaker:
        return (
            "speaker unknown: the article does not say who said this; put the name in "
            "with `queue edit`, or reject it"
        )
    if whole.text[:1].islower():
        return (
            "a fragment of the narrator's sentence, not a whole quote: write the post "
            "around it with `queue edit`, or reject it"
        )
    return None


def is_held(reason: str | None) -> bool:
    return reason is not None and reason.startswith(HELD)


def what_is_missing(reason: str) -> str:
    """The short cause in a held draft's reason ("speaker unknown")."""
    return reason[len(HELD) :].split(":", 1)[0].strip()
