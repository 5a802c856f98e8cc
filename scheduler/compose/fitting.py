"""Rendering a post so it fits its channel, counted the channel's own way.

A template marks what may be shortened with the `quoted` and `fit` filters
(the quote, the article's sentence); everything else (the attribution, the
credit, the link) is kept. The post is rendered whole first; when the channel's
publisher says it is too long, it is rendered again with less room for the
marked pieces, found by halving, so the limit and the counting are the
publisher's (`Publisher.fits`: graphemes, weighted length, bytes...), never a
number written in a template. A channel that posts threads gets the whole text:
the thread splitter cuts it between sentences instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from scheduler.compose.environment import render
from scheduler.compose.length import graphemes
from scheduler.compose.shortening import BUDGET, CUTS


@dataclass(frozen=True)
class Fitted:
    text: str
    #: Some marked piece was shortened (a shortened quote is not verbatim).
    shortened: bool
    #: The text passes the channel's limit (False: too long even at its shortest).
    fits: bool


def _render(
    env: jinja2.Environment, name: str, context: Mapping[str, Any], budget: int | None
) -> tuple[str, bool]:
    cuts: list[str] = []
    budget_token, cuts_token = BUDGET.set(budget), CUTS.set(cuts)
    try:
        return render(env, name, context), bool(cuts)
    finally:
        BUDGET.reset(budget_token)
        CUTS.reset(cuts_token)


def render_to_fit(
    env: jinja2.Environment,
    name: str,
    context: Mapping[str, Any],
    fits: Callable[[str], bool] | None = None,
    *,
    thread: bool = False,
) -> Fitted:
    """The post's text, shortened at sentence or clause boundaries only as much
    as `fits` (the channel's rule) needs; unchanged when it fits, when there is
    no rule, or when the channel makes a thread of a long post."""
    text, _ = _render(env, name, context, None)
    if fits is None or thread or fits(text):
        return Fitted(text, False, True if fits is None else fits(text) or thread)
    # The largest room for the marked pieces with which the whole post fits.
    low, high = 0, graphemes(text)
    best: tuple[str, bool] | None = None
    while low <= high:
        mid = (low + high) // 2
        candidate, cut = _render(env, name, context, mid)
        if fits(candidate):
            best = (candidate, cut)
            low = mid + 1
        else:
            high = mid - 1
    if best is None:
        shortest, cut = _render(env, name, context, 0)
        return Fitted(shortest, cut, False)
    return Fitted(best[0], best[1], True)
