"""The HTML preview shows each image inside its post's card, embedded in the
page (no file beside it), with its alt text: checked in headless Chromium, by
the pixels of a screenshot and by the DOM it built."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from scheduler.previews.html import render_page
from scheduler.previews.preview import PostPreview

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium(tmp_path: Path, name: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={tmp_path / name}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (`.ci/install-chromium.sh`)")
def test_the_page_shows_the_image_and_its_alt_text(tmp_path: Path) -> None:
    picture = tmp_path / "card.png"
    Image.new("RGB", (600, 300), (255, 0, 0)).save(picture)
    data = picture.read_bytes()
    item = PostPreview(
        id=3,
        channel="club",
        platform="mastodon",
        status="queued",
        due_local="2030-05-01 09:00 CDT",
        due_utc="2030-05-01T14:00:00+00:00",
        text="Race day",
        lengths=[],
        over_limit=False,
        day_local="2030-05-01",
        parts=["Race day"],
        media=[
            {
                "path": str(picture),
                "alt": "A red card & a <b>tag</b>",
                "mime": "image/png",
                "width": 600,
                "height": 300,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
            }
        ],
    )
    page = tmp_path / "page.html"
    page.write_text(render_page([item], generated=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)))
    picture.unlink()  # embedded: the page needs no file beside it

    shot = tmp_path / "shot.png"
    proc = _chromium(
        tmp_path, "a", "--window-size=1280,1400", f"--screenshot={shot}", page.as_uri()
    )
    assert shot.exists(), proc.stderr[-2000:]
    with Image.open(shot) as screen:
        red = sum(
            count
            for count, (r, g, b, *_) in screen.convert("RGB").getcolors(2**24) or []
            if r > 240 and g < 15 and b < 15
        )
    # The image is drawn (scaled to the card's width at most, never hidden).
    assert red > 40_000, red

    dom = _chromium(tmp_path, "b", "--dump-dom", page.as_uri()).stdout
    (img,) = re.findall(r"<img [^>]*>", dom)
    assert 'src="data:image/png;base64,' in img
    assert (
        'alt="A red card &amp; a <b>tag</b>"' in img
        or 'alt="A red card &amp; a &lt;b&gt;tag&lt;/b&gt;"' in img
    )
    assert re.search(r'<article[^>]*data-post-id="3".*<img .*</article>', dom, flags=re.S)
    assert "A red card &amp; a &lt;b&gt;tag&lt;/b&gt;" in dom  # the caption, escaped
