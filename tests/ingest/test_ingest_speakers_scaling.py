"""Extraction work grows linearly with the text, and one article's cost is capped.

Work is counted, never timed: every Python line executed inside the ingest
package while extracting (a deterministic count on any machine). Doubling the
input must not much more than double it; a quadratic step would quadruple it.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import scheduler.ingest
from scheduler.errors import IngestError
from scheduler.ingest import extract
from scheduler.ingest.extraction import MAX_CHARS

_PACKAGE = str(Path(scheduler.ingest.__file__).parent)
_GIVEN = ["Ana", "Bruno", "Carmen", "Dmitri", "Elif", "Farid", "Greta", "Hugo"]
_FAMILY = ["Lopez", "Okafor", "Varga", "Lindqvist", "Moreau", "Tanaka", "Quispe", "Novak"]


def _article(n: int, *, one_paragraph: bool = False) -> str:
    """n short quoted lines with speech verbs, a new person every few lines."""
    lines = ["Mayor Rhea Castellano opened the hearing on the harbour plan."]
    for i in range(n):
        name = f"{_GIVEN[i % 8]} {_FAMILY[(i // 8) % 8]}{'' if i < 64 else i // 64}"
        shape = i % 4
        if shape == 0:
            lines.append(f"\u201cWe will keep pushing on item {i},\u201d {name} said.")
        elif shape == 1:
            lines.append(f"{name} told the council: \u201cThe budget for step {i} is fine.\u201d")
        elif shape == 2:
            lines.append(f"\u201cThat is settled for now, point {i},\u201d she added.")
        else:
            lines.append(f"\u201cWe have heard enough about case {i},\u201d the mayor said.")
    return (" " if one_paragraph else "\n").join(lines)


def _work(text: str) -> tuple[int, int]:
    lines = 0

    def tracer(frame, event, arg):
        nonlocal lines
        if not frame.f_code.co_filename.startswith(_PACKAGE):
            return None
        if event == "line":
            lines += 1
        return tracer

    sys.settrace(tracer)
    try:
        result = extract(text)
    finally:
        sys.settrace(None)
    return lines, len(result.quotes)


@pytest.mark.parametrize("one_paragraph", [False, True])
def test_doubling_the_quotes_about_doubles_the_work(one_paragraph: bool) -> None:
    small, small_quotes = _work(_article(400, one_paragraph=one_paragraph))
    large, large_quotes = _work(_article(800, one_paragraph=one_paragraph))
    assert small_quotes == 400 and large_quotes == 800
    assert large <= 2.3 * small, (small, large)


def test_speakers_stay_right_at_scale() -> None:
    quotes = extract(_article(200)).quotes
    assert quotes[0].speaker == "Ana Lopez"
    assert quotes[1].speaker == "Bruno Lopez"
    # "the mayor", however far from "Mayor Rhea Castellano", is still her.
    assert quotes[3].speaker == quotes[199].speaker == "Rhea Castellano"


def test_an_article_over_the_cap_is_refused_with_one_line() -> None:
    text = "Nothing quoted here. " * (MAX_CHARS // 21 + 1)
    assert len(text) > MAX_CHARS
    with pytest.raises(IngestError, match=r"too long to extract: \d+ characters") as info:
        extract(text)
    assert "\n" not in str(info.value)
