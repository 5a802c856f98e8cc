"""Quote card rendering: cards per second and memory, beside Pillow drawing
the same text on the same canvas without the layout work (no fitting, no
wrapping search, no glyph check), in the same run.

    python -m benchmarks.cards [--cards 200]

  scheduler   `render_card` on varied quotes (short to long) with the bundled
              layout: glyph check, attribution fitting, the size search, PNG
  plain       Pillow alone: one fixed font size, the text drawn as one wrapped
              block (textwrap at a fixed width), the same PNG encoding
  memory      peak traced allocations (tracemalloc, on a separate pass of 20
              cards so tracing does not slow the timed one), and the
              process's peak RSS after both
Both encode PNG at the same compression level, so the gap is the layout work.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import resource
import textwrap
import time
import tracemalloc

from PIL import Image, ImageDraw, ImageFont

from benchmarks._common import rate, report
from scheduler.media.cards import PNG_LEVEL, CardText, render_card
from scheduler.media.layout import find_layout, load_layout
from scheduler.resources import templates_dir

WORDS = [
    "the",
    "lake",
    "was",
    "glass",
    "at",
    "dawn",
    "and",
    "we",
    "rowed",
    "it",
    "like",
    "it",
    "owed",
    "us",
    "nothing",
    "every",
    "stroke",
    "is",
    "a",
    "small",
    "promise",
    "you",
    "keep",
    "borrowed",
    "boats",
    "are",
    "honest",
    "they",
    "never",
    "flatter",
    "you",
]


def quotes(count: int) -> list[CardText]:
    out = []
    for i in range(count):
        length = 6 + (i * 7) % 48  # 6 to 53 words
        words = [WORDS[(i + j) % len(WORDS)] for j in range(length)]
        out.append(
            CardText(
                " ".join(words).capitalize() + ".",
                "Mira Kovalenko",
                "riverpost.example",
                dt.date(2026, 3, 1 + i % 28),
            )
        )
    return out


def plain(card: CardText, font: ImageFont.FreeTypeFont, small: ImageFont.FreeTypeFont) -> bytes:
    image = Image.new("RGB", (1200, 675), "#10243e")
    draw = ImageDraw.Draw(image)
    draw.multiline_text((96, 64), textwrap.fill(card.quote, 38), font=font, fill="#ffffff")
    draw.text((96, 560), card.speaker, font=small, fill="#a9c8ee")
    draw.text((96, 600), card.byline, font=small, fill="#a9c8ee")
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


def measure(fn, cards: list[CardText]) -> tuple[float, int]:
    """Seconds for all cards (untraced: tracemalloc slows every allocation),
    then the peak traced allocation over a second, shorter pass."""
    start = time.perf_counter()
    for card in cards:
        fn(card)
    seconds = time.perf_counter() - start
    tracemalloc.start()
    for card in cards[:20]:
        fn(card)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=200)
    args = parser.parse_args()
    layout = load_layout(find_layout([templates_dir()]))
    cards = quotes(args.cards)
    font = ImageFont.truetype(str(layout.font_path()), 40, layout_engine=ImageFont.Layout.BASIC)
    small = ImageFont.truetype(
        str(layout.font_path(bold=True)), 28, layout_engine=ImageFont.Layout.BASIC
    )
    render_card(cards[0], layout, "bluesky")  # warm the font caches for both
    plain(cards[0], font, small)
    ours, ours_peak = measure(lambda c: render_card(c, layout, "bluesky"), cards)
    theirs, theirs_peak = measure(lambda c: plain(c, font, small), cards)
    figures = {
        "cards": args.cards,
        "scheduler_cards_per_s": round(rate(args.cards, ours), 1),
        "plain_pillow_cards_per_s": round(rate(args.cards, theirs), 1),
        "layout_cost_ms_per_card": round((ours - theirs) / args.cards * 1000, 2),
        "scheduler_peak_traced_mb": round(ours_peak / 2**20, 2),
        "plain_peak_traced_mb": round(theirs_peak / 2**20, 2),
        "process_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    for key, value in figures.items():
        print(f"{key:>28}: {value}")
    report("cards", figures)


if __name__ == "__main__":
    main()
