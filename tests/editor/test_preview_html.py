"""`scheduler preview --html`: one self-contained page, checked in headless
Chromium (screenshot + the DOM it built): every post is on it, with its text,
its over-limit warning and its day on the timeline."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from scheduler.previews.html import render_page
from scheduler.previews.preview import PostPreview

from .conftest import add_outbox, add_webhook
from .test_preview import LONG

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / f"chromium-profile-{len(list(tmp_path.glob('chromium-profile-*')))}"
    return subprocess.run(
        [CHROMIUM or "chromium", *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def page_text(dom: str) -> str:
    """The visible text of a DOM dump, whitespace collapsed."""
    body = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", dom, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


@pytest.mark.chromium
@pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (`.ci/install-chromium.sh`)")
def test_html_preview_in_headless_chromium(cli, seeded, tmp_path: Path) -> None:
    add_outbox(cli, "club")
    add_webhook(cli, "hook")
    cli.run("plan", str(seeded["article"]), "-c", "hook", "--kinds", "quote,milestone")
    cli.run("channels", "calendar", "club", "--countdown", "1", "--throwback", "thu 12:00")
    cli.run("plan", "--recurring", "--until", "2027-03-20T00:00Z")
    csv = (
        "channel,text,at,link\n"
        f'club,"{LONG}",2030-05-01T09:00,\n'
        'club,"Fish & chips <after> the race #Rowing",2030-05-02T09:00,https://example.org/r\n'
    )
    cli.run("queue", "import", "-", stdin=csv)
    page = tmp_path / "preview.html"
    items = cli.json("preview", "--limit", "500", "--html", str(page))
    assert len(items) >= 8
    source = page.read_text(encoding="utf-8")
    # Self-contained: no scripts, nothing fetched from elsewhere.
    assert "<script" not in source
    assert not re.search(r"""(src|href)=["']?(https?:)?//(?!example\.org)""", source)

    shot = tmp_path / "preview.png"
    proc = chromium(tmp_path, "--window-size=1280,2200", f"--screenshot={shot}", page.as_uri())
    assert shot.exists(), proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one

    proc = chromium(tmp_path, "--dump-dom", page.as_uri())
    dom = proc.stdout
    assert "</html>" in dom, proc.stderr[-2000:]
    text = page_text(dom)
    for item in items:
        assert f'data-post-id="{item["id"]}"' in dom, item["id"]
        card = re.search(rf'<article[^>]*data-post-id="{item["id"]}".*?</article>', dom, flags=re.S)
        assert card, item["id"]
        card_text = page_text(card.group(0))
        for part in item["parts"]:
            assert " ".join(part.split()) in card_text, (item["id"], part)
        assert item["due_local"] in card_text
        assert f'id="day-{item["day_local"]}"' in dom
        if item["over_limit"]:
            assert "Over the limit" in card_text
        if item["source"]:
            assert item["source"]["words"] in card_text
    assert "Fish & chips <after> the race" in text  # escaped, shown as written
    assert "1 over the limit." in text
    days = sorted({i["day_local"] for i in items})
    assert len(re.findall(r'<section class="day"', dom)) == len(days)
    # Keep the screenshot next to the test run for people to look at.
    print(f"screenshot: {shot}")


def test_thread_parts_render_as_a_thread() -> None:
    item = PostPreview(
        id=7,
        channel="club",
        platform="bluesky",
        status="queued",
        due_local="2030-05-01 09:00 CDT",
        due_utc="2030-05-01T14:00:00+00:00",
        text="one two",
        lengths=[
            {"unit": "graphemes", "count": 28, "limit": 300, "ok": True, "part": 1},
            {"unit": "graphemes", "count": 25, "limit": 300, "ok": True, "part": 2},
        ],
        over_limit=False,
        day_local="2030-05-01",
        parts=["First part of the thread 1/2", "Second part with #Tag 2/2"],
        hashtags=["#Tag"],
    )
    page = render_page([item], generated=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert 'data-part="1/2"' in page and 'data-part="2/2"' in page
    assert '<span class="tag">#Tag</span>' in page
    assert "platform-bluesky" in page
    assert "28 / 300 graphemes (part 1)" in page and "25 / 300 graphemes (part 2)" in page
    assert json.dumps("x")  # the module imports cleanly without a database
