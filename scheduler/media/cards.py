"""Quote cards: a PNG showing a quote, its speaker, the outlet and the date,
drawn with Pillow in the user's layout (`media.layout`), and the alt text that
says the same words.

The quote is set as large as fits and wrapped on word boundaries; a quote that
does not fit at the layout's smallest size is refused, never cut. Text the
renderer cannot draw faithfully is refused with the reason: right-to-left
scripts (Pillow's basic layout does not reorder them, and the complex layout
depends on the machine's FriBiDi), emoji (no colour emoji font ships), and
any character the font has no glyph for (it would show as an empty box).
The basic layout engine is used on purpose: the same inputs give the same
bytes on every machine with the same Pillow, so previews, tests and sends agree.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import regex
from PIL import Image, ImageColor, ImageDraw, ImageFont

from scheduler.compose.filters import date_format
from scheduler.compose.length import graphemes
from scheduler.errors import MediaError
from scheduler.media.layout import CardLayout

_EMOJI = regex.compile(r"\p{Emoji_Presentation}|\uFE0F")
_SPACE = regex.compile(r"\s+")
_IGNORABLE = {"\u200d", "\ufe0e", "\u00ad"}
BAR = 8  # the accent bar's width; the text starts 4 bars to its right
#: zlib level 1: a card is about 80 KB instead of 72 KB at level 6, and is
#: encoded in half the time (encoding is most of a card's cost).
PNG_LEVEL = 1


@dataclass(frozen=True)
class CardText:
    """What a card says."""

    quote: str
    speaker: str
    outlet: str = ""
    date: dt.date | None = None

    @property
    def byline(self) -> str:
        """The outlet and date line under the speaker."""
        return " · ".join(p for p in (self.outlet, show_date(self.date)) if p)


def show_date(day: dt.date | None) -> str:
    return date_format(day) if day else ""


def outlet_of(url: str | None, fallback: str = "") -> str:
    """The outlet a card names: the layout's `outlet`, else the article's host."""
    if fallback:
        return fallback
    host = urlsplit(url or "").hostname or ""
    return host.removeprefix("www.")


def alt_text(card: CardText, limit: int | None) -> str:
    """The card's words as alt text: the quote, then who said it, where and
    when. Over `limit` characters the quote is shortened at a word (with …);
    the attribution is always kept whole."""
    tail = f" — {card.speaker}" + "".join(
        f", {p}" for p in (card.outlet, show_date(card.date)) if p
    )
    quote = _SPACE.sub(" ", card.quote).strip()
    full = f"“{quote}”{tail}"
    if limit is None or graphemes(full) <= limit:
        return full
    room = limit - graphemes(tail) - 3  # the quote marks and the ellipsis
    if room < 10:
        return full[:limit]
    words, kept = quote.split(" "), ""
    for word in words:
        trial = f"{kept} {word}" if kept else word
        if graphemes(trial) > room:
            break
        kept = trial
    return f"“{kept or quote[:room]}…”{tail}"


@functools.lru_cache(maxsize=8)
def _glyphs(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont, TTLibError

    try:
        with TTFont(str(path), lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except (OSError, TTLibError, AssertionError) as exc:
        raise MediaError(f"card font {path} cannot be read: {exc}") from None


@functools.lru_cache(maxsize=256)
def _font(path: Path, size: int) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(str(path), size, layout_engine=ImageFont.Layout.BASIC)
    except OSError as exc:
        raise MediaError(f"card font {path} cannot be used: {exc}") from None


def refuse_unshowable(text: str, font: Path, what: str = "quote") -> None:
    """Raise MediaError naming the first character the card cannot draw."""
    glyphs = _glyphs(font)
    for char in text:
        if char in _IGNORABLE or char.isspace():
            continue
        if unicodedata.bidirectional(char) in ("R", "AL"):
            raise MediaError(
                f"the {what} is right-to-left text ({unicodedata.name(char, f'U+{ord(char):04X}')}); "
                "quote cards lay out left-to-right text only: post it without a card"
            )
        if _EMOJI.match(char):
            raise MediaError(
                f"the {what} has an emoji (U+{ord(char):04X}); quote cards have no emoji font: "
                "post it without a card or without the emoji"
            )
        if ord(char) not in glyphs:
            raise MediaError(
                f"the card font {font.name} has no glyph for {char!r} (U+{ord(char):04X}) in the "
                f"{what}; set text.font in quote_card.toml to a font that has it"
            )


def _wrap(words: list[str], font: ImageFont.FreeTypeFont, width: float) -> list[str] | None:
    """Greedy word wrap; None when a single word is wider than `width`. Words
    are measured once each and added up; every line is then measured whole,
    and if one comes out wider (kerning), the slow exact wrap decides."""
    sizes = [font.getlength(word) for word in words]
    if max(sizes) > width:
        return None
    space = font.getlength(" ")
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for word, size in zip(words, sizes, strict=True):
        extra = size + (space if current else 0.0)
        if current and used + extra > width:
            lines.append(" ".join(current))
            current, used = [word], size
        else:
            current.append(word)
            used += extra
    lines.append(" ".join(current))
    if all(font.getlength(line) <= width for line in lines):
        return lines
    return _wrap_exact(words, font, width)


def _wrap_exact(words: list[str], font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    current = ""
    for word in words:
        trial = f"{current} {word}" if current else word
        if current and font.getlength(trial) > width:
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    return lines


def _fit_line(
    text: str, path: Path, size: int, smallest: int, width: float
) -> ImageFont.FreeTypeFont:
    """The font at the largest size (from `size` down) that shows `text` on one line."""
    for each in range(size, smallest - 1, -1):
        font = _font(path, each)
        if font.getlength(text) <= width:
            return font
    raise MediaError(f"{text[:40]!r} is too wide for the card even at {smallest} px")


def render_card(card: CardText, layout: CardLayout, platform: str) -> bytes:
    """The card as PNG bytes: the same inputs give the same bytes."""
    quote = _SPACE.sub(" ", card.quote).strip()
    if not quote or not card.speaker.strip():
        raise MediaError("a quote card needs the quote and its speaker")
    regular, bold = layout.font_path(), layout.font_path(bold=True)
    refuse_unshowable(quote, regular)
    refuse_unshowable(card.speaker, bold, "speaker's name")
    refuse_unshowable(card.byline, regular, "outlet")

    width, height = layout.size_for(platform)
    pad, text = layout.margins.padding, layout.text
    left = pad + BAR * 4
    inner = width - left - pad
    if inner < 100 or height - 2 * pad < 100:
        raise MediaError(f"card {width}x{height} leaves no room inside padding {pad}")

    logo = _logo(layout)
    beside_logo = inner - (logo.width + pad // 2 if logo else 0)
    speaker_font = _fit_line(card.speaker, bold, text.attribution_size, text.min_size, beside_logo)
    byline_size = max(text.min_size, round(speaker_font.size * 0.8))
    byline_font = (
        _fit_line(card.byline, regular, byline_size, min(byline_size, text.min_size), beside_logo)
        if card.byline
        else None
    )
    attribution_height = round(speaker_font.size * 1.3) + (
        round(byline_font.size * 1.3) if byline_font else 0
    )
    room = height - 2 * pad - attribution_height - pad // 2

    words = f"“{quote}”".split(" ")

    def setting(size: int) -> list[str] | None:
        """The quote's lines at `size` px, or None when they do not fit."""
        lines = _wrap(words, _font(regular, size), inner)
        step = round(size * text.line_spacing)
        return lines if lines is not None and step * (len(lines) - 1) + size <= room else None

    # The largest size that fits, by bisection (a larger font never needs fewer
    # lines); whatever size is chosen was checked to fit, so nothing is cut.
    low, high, best = text.min_size, text.max_size, None
    while low <= high:
        middle = (low + high) // 2
        found = setting(middle)
        if found is not None:
            best, low = (middle, found), middle + 1
        else:
            high = middle - 1
    if best is None:
        raise MediaError(
            f"the quote ({graphemes(quote)} characters) does not fit a {width}x{height} card "
            f"even at {text.min_size} px; shorten it, or lower text.min_size or enlarge the card "
            "in quote_card.toml"
        )
    size, lines = best
    font = _font(regular, size)
    step = round(size * text.line_spacing)

    colours = layout.colours
    image = Image.new("RGB", (width, height), ImageColor.getrgb(colours.background))
    draw = ImageDraw.Draw(image)
    block = step * (len(lines) - 1) + size
    top = pad + (room - block) // 2
    draw.rectangle((pad, top, pad + BAR - 1, top + block), fill=ImageColor.getrgb(colours.accent))
    for index, line in enumerate(lines):
        draw.text((left, top + index * step), line, font=font, fill=colours.quote, anchor="lt")
    y = height - pad - attribution_height
    draw.text((left, y), card.speaker, font=speaker_font, fill=colours.attribution, anchor="lt")
    if byline_font:
        y += round(speaker_font.size * 1.3)
        draw.text((left, y), card.byline, font=byline_font, fill=colours.attribution, anchor="lt")
    if logo:
        image.paste(logo, (width - pad - logo.width, height - pad - logo.height), logo)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=PNG_LEVEL)
    return out.getvalue()


def _logo(layout: CardLayout) -> Image.Image | None:
    path = layout.logo_path()
    if path is None:
        return None
    try:
        with Image.open(path) as opened:
            logo = opened.convert("RGBA")
    except (OSError, Image.DecompressionBombError) as exc:
        raise MediaError(f"card logo {path} is not an image Pillow reads: {exc}") from None
    scale = layout.logo.height / logo.height
    return logo.resize((max(1, round(logo.width * scale)), layout.logo.height), Image.LANCZOS)
