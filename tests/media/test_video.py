"""Video files: type, sides and length read from the MP4/MOV box tree (a tiny
writer of our own makes the files), checked against each platform's limits
before anything is queued, and shown in previews like images."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from PIL import Image

from scheduler.errors import MediaError
from scheduler.media.attach import attach_files
from scheduler.media.store import sniff, video_facts
from scheduler.publishers.base import ChannelInfo
from scheduler.publishers.registry import publisher_class

from .mp4 import mp4
from .test_media_queue import channels_db, ready  # noqa: F401 - fixtures


def publisher(platform: str, **options):
    cls = publisher_class(platform)
    return cls(ChannelInfo(name=f"v-{platform}", platform=platform, options=options))


def clip(tmp_path: Path, name: str = "clip.mp4", **kw) -> Path:
    path = tmp_path / name
    path.write_bytes(mp4(**kw))
    return path


def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.png"
    Image.new("RGB", (640, 360), (10, 20, 30)).save(path)
    return path


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({}, ("video/mp4", 640, 360, 3.0)),
        ({"version": 1, "seconds": 12.5}, ("video/mp4", 640, 360, 12.5)),
        ({"moov_last": True, "width": 720, "height": 1280}, ("video/mp4", 720, 1280, 3.0)),
        ({"brand": b"qt  ", "width": 1920, "height": 1080}, ("video/quicktime", 1920, 1080, 3.0)),
    ],
)
def test_sides_and_length_come_from_the_boxes(kw, want) -> None:
    data = mp4(**kw)
    mime, width, height = sniff(data)
    assert (mime, width, height, video_facts(data).seconds) == want


def test_a_cut_or_hollow_video_is_refused_in_one_line(tmp_path) -> None:
    whole = mp4()
    with pytest.raises(MediaError, match="box tree is cut short"):
        sniff(whole[:100])
    with pytest.raises(MediaError, match="no moov box"):
        sniff(whole[:24] + whole[-2056:])  # ftyp and mdat, no moov


def test_a_video_is_checked_against_each_platform(tmp_path) -> None:
    video = str(clip(tmp_path))
    media, warnings = attach_files(
        None,
        publisher("mastodon", instance="https://s.example"),
        [video],
        ["A rower at the start line"],
        store=False,
    )
    (item,) = media
    assert (item["mime"], item["width"], item["height"], item["seconds"]) == (
        "video/mp4",
        640,
        360,
        3.0,
    )
    assert warnings == []
    refusals = [
        (
            "bluesky",
            {"handle": "a.example"},
            [str(clip(tmp_path, "m.mov", brand=b"qt  "))],
            "Bluesky takes no video/quicktime video",
        ),
        ("bluesky", {"handle": "a.example"}, [video, str(photo(tmp_path))], "not both"),
        (
            "linkedin",
            {"author": "urn:li:person:a"},
            [str(clip(tmp_path, "li.mov", brand=b"qt  "))],
            "LinkedIn takes no video/quicktime video",
        ),
        ("linkedin", {"author": "urn:li:person:a"}, [video], "under the 76800 bytes"),
        ("slack", {}, [video], "incoming webhook shows images from a URL only"),
        ("mastodon", {"instance": "https://s.example"}, [video, video], "at most 1 video"),
        ("x", {}, [video, str(photo(tmp_path))], "a video or images in one post, not both"),
        ("x", {}, [str(clip(tmp_path, "long.mp4", seconds=150))], "150 s long, over X's 140 s"),
        ("x", {}, [str(clip(tmp_path, "big.mp4", width=1920, height=1080))], "1920 px"),
        (
            "discord",
            {},
            [str(clip(tmp_path, "heavy.mp4", payload=10 * 1024 * 1024 + 1))],
            "over Discord's 10485760 bytes",
        ),
        (
            "telegram",
            {"chat_id": 1},
            [str(clip(tmp_path, "m.mov", brand=b"qt  "))],
            "video/quicktime",
        ),
    ]
    for platform, options, files, message in refusals:
        with pytest.raises(MediaError, match=message):
            attach_files(
                None, publisher(platform, **options), files, ["alt"] * len(files), store=False
            )


def test_alt_text_on_a_video_where_it_is_not_shown_is_a_warning(tmp_path) -> None:
    video = str(clip(tmp_path))
    _, warnings = attach_files(None, publisher("x"), [video], ["A rower"], store=False)
    assert warnings == ["clip.mp4: X shows no alt text on videos; kept, not sent"]
    # ...and is not asked for there, while Mastodon asks for it.
    assert attach_files(None, publisher("x"), [video], [], store=False)[1] == [
        "clip.mp4: X shows no alt text on videos"
    ]
    with pytest.raises(MediaError, match="no alt text; add --alt"):
        attach_files(
            None, publisher("mastodon", instance="https://s.example"), [video], [], store=False
        )
    # A Slack bot token uploads video (the webhook cannot); Telegram mixes it with photos.
    attach_files(None, publisher("slack", channel_id="C1"), [video], ["A rower"], store=False)
    mixed, warned = attach_files(
        None, publisher("telegram", chat_id=1), [str(photo(tmp_path)), video], [], store=False
    )
    assert [m["mime"] for m in mixed] == ["image/png", "video/mp4"]
    assert all("Telegram shows no alt text" in w for w in warned)


def test_queue_add_takes_a_video_and_the_preview_lists_it(ready, tmp_path) -> None:  # noqa: F811
    video = clip(tmp_path, width=1280, height=720, seconds=8)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    added = ready(
        "queue",
        "add",
        "toots",
        "Race start",
        "--at",
        "+1h",
        "--media",
        str(video),
        "--alt",
        "The start: eight boats leave the pontoon",
        "--json",
    )
    assert added.code == 0, added.stderr
    assert added.json()["media"] == [
        {
            "path": f"{digest[:2]}/{digest}.mp4",
            "alt": "The start: eight boats leave the pontoon",
            "mime": "video/mp4",
            "width": 1280,
            "height": 720,
            "sha256": digest,
        }
    ]
    shown = ready("preview", "--json")
    assert shown.code == 0, shown.stderr
    (post,) = [p for p in shown.json() if p["channel"] == "toots"]
    (item,) = post["media"]
    assert (item["mime"], item["width"], item["height"], item["sha256"]) == (
        "video/mp4",
        1280,
        720,
        digest,
    )
    # The dry run builds the upload: the video goes to /api/v2/media, named not dumped.
    (upload, status) = post["requests"]
    assert upload["url"].endswith("/api/v2/media")
    assert f"video/mp4, {video.stat().st_size} bytes" in upload["body"]
    assert status["json"]["media_ids"] == ["<id of upload 1>"]
    # The terminal names the video with its sides; the page shows it as a file, not an <img>.
    text = ready("preview").stdout.replace("\n", "")
    assert f"(video/mp4, 1280x720, {video.stat().st_size} bytes)" in text
    page = tmp_path / "page.html"
    assert ready("preview", "--html", str(page)).code == 0
    html = page.read_text(encoding="utf-8")
    assert re.search(f'<div class="file">video/mp4 · [^<]*/{digest}.mp4</div>', html)
    assert "data:video/mp4" not in html
    # Bluesky refuses one over its 3 minutes when queued, in one line, and nothing is queued.
    long = clip(tmp_path, "long.mp4", seconds=200)
    refused = ready(
        "queue", "add", "sky", "Race start", "--at", "+1h", "--media", str(long), "--alt", "x"
    )
    assert refused.code != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "200 s long, over Bluesky's 180 s" in refused.stderr
