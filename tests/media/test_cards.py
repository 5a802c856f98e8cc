"""Quote cards: drawn with Pillow from the bundled layout and font, text sized
to fit and never cut, refusals for what cannot be drawn, same bytes for the
same inputs, alt text within a platform's limit."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from scheduler.errors import MediaError
from scheduler.media.cards import CardText, alt_text, render_card
from scheduler.media.layout import FONTS, find_layout, load_layout
from scheduler.resources import templates_dir

CARD = CardText(
    quote="The lake was glass at dawn and we rowed it like it owed us nothing.",
    speaker="Mira Kovalenko",
    outlet="riverpost.example",
    date=dt.date(2026, 3, 4),
)


@pytest.fixture(scope="module")
def layout():
    return load_layout(find_layout([templates_dir()]))


def _image(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_a_card_is_a_png_of_the_platform_size_with_text_drawn(layout) -> None:
    png = render_card(CARD, layout, "bluesky")
    image = _image(png)
    assert image.format == "PNG" and image.size == (1200, 675)
    # More than the background colour: the quote and attribution are drawn.
    assert len(image.getcolors(maxcolors=100000) or []) > 20
    assert _image(render_card(CARD, layout, "threads")).size == (1080, 1080)


def test_same_inputs_same_bytes_across_processes(layout) -> None:
    first = render_card(CARD, layout, "mastodon")
    assert render_card(CARD, layout, "mastodon") == first
    code = (
        "import datetime as dt, hashlib\n"
        "from scheduler.media.cards import CardText, render_card\n"
        "from scheduler.media.layout import find_layout, load_layout\n"
        "from scheduler.resources import templates_dir\n"
        f"card = CardText({CARD.quote!r}, {CARD.speaker!r}, {CARD.outlet!r}, dt.date(2026, 3, 4))\n"
        "png = render_card(card, load_layout(find_layout([templates_dir()])), 'mastodon')\n"
        "print(hashlib.sha256(png).hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == hashlib.sha256(first).hexdigest()
    # A different quote is a different card.
    other = CardText("Another morning.", CARD.speaker, CARD.outlet, CARD.date)
    assert render_card(other, layout, "mastodon") != first


def test_long_quotes_get_smaller_text_and_too_long_ones_are_refused(layout) -> None:
    short = _image(render_card(CardText("Yes.", "Mira Kovalenko"), layout, "x"))
    words = " ".join(["steady"] * 60)
    long = _image(render_card(CardText(words, "Mira Kovalenko"), layout, "x"))

    def ink(image: Image.Image) -> Image.Image:
        return image.convert("L").point(lambda v: 255 if v > 200 else 0)

    def ink_rows(image: Image.Image) -> int:
        grey = ink(image)
        return sum(
            1 for y in range(image.height) if grey.crop((0, y, image.width, y + 1)).getbbox()
        )

    # The long quote fills more rows of the card, yet stays inside the padding.
    assert ink_rows(long) > ink_rows(short)
    assert ink(long).crop((0, 0, long.width, 40)).getbbox() is None
    assert ink(long).crop((long.width - 40, 0, long.width, long.height)).getbbox() is None
    with pytest.raises(MediaError, match="does not fit a 1200x675 card even at 22 px"):
        render_card(CardText(" ".join(["steady"] * 400), "Mira Kovalenko"), layout, "x")
    with pytest.raises(MediaError, match="does not fit"):
        render_card(CardText("x" * 300, "Mira Kovalenko"), layout, "x")


@pytest.mark.parametrize(
    ("quote", "reason"),
    [
        ("\u05d6\u05d4 \u05d4\u05d9\u05d4 \u05d9\u05d5\u05dd \u05d8\u05d5\u05d1", "right-to-left"),
        ("\u0647\u0630\u0627 \u064a\u0648\u0645 \u062c\u0645\u064a\u0644", "right-to-left"),
        ("We won \U0001f3c6 tonight", "emoji"),
        ("Heart \u2764\ufe0f always", "emoji"),
        ("Kanji \u6f22\u5b57 here", "no glyph"),
    ],
)
def test_text_the_card_cannot_draw_is_refused_with_the_reason(layout, quote, reason) -> None:
    with pytest.raises(MediaError, match=reason):
        render_card(CardText(quote, "Mira Kovalenko"), layout, "bluesky")


def test_accents_and_typographic_marks_render(layout) -> None:
    card = CardText("Ça va très bien — naïve façade, 1½ km", "Zoë Ångström-Ñúñez")
    assert _image(render_card(card, layout, "bluesky")).size == (1200, 675)


def test_alt_text_is_the_quote_and_attribution_within_the_limit() -> None:
    full = alt_text(CARD, 1500)
    assert full == (
        "“The lake was glass at dawn and we rowed it like it owed us nothing.” — "
        "Mira Kovalenko, riverpost.example, 4 March 2026"
    )
    long = CardText(" ".join(["steady"] * 400), "Mira Kovalenko", "riverpost.example")
    short = alt_text(long, 1000)
    assert len(short) <= 1000
    assert short.endswith("…” — Mira Kovalenko, riverpost.example")


def test_a_user_layout_overrides_sizes_colours_font_and_logo(tmp_path: Path) -> None:
    logo = tmp_path / "logo.png"
    Image.new("RGBA", (40, 20), (255, 0, 0, 255)).save(logo)
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "mine.ttf").write_bytes((FONTS / "DejaVuSans-Bold.ttf").read_bytes())
    (tmp_path / "quote_card.toml").write_text(
        '[size]\ndefault = [800, 400]\n[colours]\nbackground = "#000000"\n'
        '[text]\nfont = "fonts/mine.ttf"\n[logo]\nfile = "logo.png"\nheight = 40\n',
        encoding="utf-8",
    )
    mine = load_layout(find_layout([tmp_path, templates_dir()]))
    image = _image(render_card(CARD, mine, "bluesky")).convert("RGB")
    assert image.size == (800, 400)
    assert image.getpixel((2, 2)) == (0, 0, 0)
    # The logo sits in the bottom right corner, inside the padding.
    assert image.getpixel((800 - 64 - 10, 400 - 64 - 10)) == (255, 0, 0)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[size]\ndefault = [300, 200]\n", "at least 600x300"),
        ('[colours]\nquote = "blurple"\n', "not a colour"),
        ('[text]\nfont = "missing.ttf"\n', "no file at"),
        ("[text\n", "not valid TOML"),
        ("[shadow]\nblur = 2\n", "shadow"),
    ],
)
def test_a_bad_layout_is_one_clear_error(tmp_path: Path, toml: str, message: str) -> None:
    (tmp_path / "quote_card.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(MediaError, match=message):
        layout = load_layout(tmp_path / "quote_card.toml")
        render_card(CARD, layout, "bluesky")
