"""WebM video: sides and length read from the EBML element tree (a tiny
writer of our own makes the files; a real encoder's files are read too where
an ffmpeg is at hand), held against each platform's limits before anything
is queued, and listed by the preview like any video."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from scheduler.errors import MediaError
from scheduler.media.attach import attach_files
from scheduler.media.ebml import ebml_facts
from scheduler.media.store import sniff, video_facts

from .test_media_queue import channels_db, ready  # noqa: F401 - fixtures
from .test_video import publisher
from .webm import webm


def clip(tmp_path: Path, name: str = "clip.webm", **kw) -> Path:
    path = tmp_path / name
    path.write_bytes(webm(**kw))
    return path


@pytest.mark.parametrize(
    ("kw", "want"),
    [
        ({}, ("video/webm", 640, 360, 3.0)),
        ({"double": True, "seconds": 12.5}, ("video/webm", 640, 360, 12.5)),
        ({"scale": None, "seconds": 7.25}, ("video/webm", 640, 360, 7.25)),
        ({"scale": 1_000, "seconds": 2.0}, ("video/webm", 640, 360, 2.0)),
        ({"audio_first": False, "width": 720, "height": 1280}, ("video/webm", 720, 1280, 3.0)),
        # A recorder's file: Segment and Cluster of unknown size, no Duration.
        ({"live": True, "width": 1920, "height": 1080}, ("video/webm", 1920, 1080, None)),
    ],
)
def test_sides_and_length_come_from_the_elements(kw, want) -> None:
    data = webm(**kw)
    mime, width, height = sniff(data)
    seconds = video_facts(data).seconds
    assert (mime, width, height, seconds and round(seconds, 6)) == want


def test_a_cut_damaged_or_hollow_webm_is_refused_in_one_line() -> None:
    whole = webm()
    with pytest.raises(MediaError, match="EBML tree is cut short"):
        sniff(whole[:-100])
    segment = whole.index(b"\x18\x53\x80\x67")
    damaged = bytearray(whole)
    damaged[segment + 4 + 8] = 0  # the Segment's first child: no ID starts with a zero byte
    with pytest.raises(MediaError, match="EBML tree is damaged"):
        sniff(bytes(damaged))
    header_only = whole[:segment]
    with pytest.raises(MediaError, match="no Segment"):
        sniff(header_only)
    no_video = webm().replace(b"\x83\x81\x01", b"\x83\x81\x11")  # the video track made type 17
    with pytest.raises(MediaError, match="no video track"):
        sniff(no_video)
    with pytest.raises(MediaError, match=r"Matroska \(\.mkv\) video: no platform here takes it"):
        sniff(webm(doc_type="matroska"))
    with pytest.raises(MediaError, match="type 'bogus'"):
        sniff(webm(doc_type="bogus"))
    assert ebml_facts(webm(doc_type="matroska")).width == 640  # read, then refused by type


def test_a_webm_is_checked_against_each_platform(tmp_path) -> None:
    video = str(clip(tmp_path, seconds=42.0))
    media, warnings = attach_files(
        None,
        publisher("mastodon", instance="https://s.example"),
        [video],
        ["A rower at the start line"],
        store=False,
    )
    (item,) = media
    assert (item["mime"], item["width"], item["height"], item["seconds"], warnings) == (
        "video/webm",
        640,
        360,
        42.0,
        [],
    )
    heavy = str(clip(tmp_path, "heavy.webm", payload=10 * 1024 * 1024 + 1))
    refusals = [
        ("x", {}, [video], "X takes no video/webm video"),
        ("telegram", {"chat_id": 1}, [video], "video/webm"),
        ("bluesky", {"handle": "a.example"}, [video], "Bluesky takes no video/webm video"),
        ("threads", {"media_base_url": "https://m.example"}, [video], "video/webm"),
        ("discord", {}, [heavy], "over Discord's 10485760 bytes"),
        ("mastodon", {"instance": "https://s.example"}, [video, video], "at most 1 video"),
    ]
    for platform, options, files, message in refusals:
        with pytest.raises(MediaError, match=message):
            attach_files(
                None, publisher(platform, **options), files, ["alt"] * len(files), store=False
            )
    # Discord takes it whole, beside an MP4 even (it mixes files).
    discord, _ = attach_files(None, publisher("discord"), [video], ["A rower"], store=False)
    assert discord[0]["seconds"] == 42.0


def test_queue_add_takes_a_webm_and_the_preview_lists_its_sides(ready, tmp_path) -> None:  # noqa: F811
    video = clip(tmp_path, width=1280, height=720, seconds=8.0)
    digest = hashlib.sha256(video.read_bytes()).hexdigest()
    added = ready(
        "queue", "add", "toots", "Race start", "--at", "+1h", "--media", str(video),
        "--alt", "The start: eight boats leave the pontoon", "--json",
    )  # fmt: skip
    assert added.code == 0, added.stderr
    (item,) = added.json()["media"]
    assert (item["path"], item["mime"], item["width"], item["height"]) == (
        f"{digest[:2]}/{digest}.webm",
        "video/webm",
        1280,
        720,
    )
    text = ready("preview").stdout.replace("\n", "")
    assert f"(video/webm, 1280x720, {video.stat().st_size} bytes)" in text
    # An .mkv is refused in one line, and nothing is queued.
    mkv = clip(tmp_path, "clip.mkv", doc_type="matroska")
    refused = ready(
        "queue", "add", "toots", "Race", "--at", "+2h", "--media", str(mkv), "--alt", "x"
    )
    assert refused.code != 0 and "Traceback" not in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "Matroska (.mkv)" in refused.stderr
    assert len(ready("queue", "list", "--json").json()["posts"]) == 1


def _ffmpeg() -> str | None:
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError:
        return None
    return imageio_ffmpeg.get_ffmpeg_exe()


@pytest.mark.skipif(_ffmpeg() is None, reason="no ffmpeg here (PATH or imageio-ffmpeg)")
@pytest.mark.parametrize(
    ("args", "want"),
    [
        (["-c:v", "libvpx-vp9", "-f", "webm"], ("webm", 320, 180, 2.5)),
        (["-c:v", "libvpx", "-f", "webm", "-live", "1"], ("webm", 320, 180, None)),
        (["-c:v", "libvpx", "-f", "matroska"], ("matroska", 320, 180, 2.5)),
    ],
)
def test_a_real_encoders_files_read_the_same(tmp_path, args, want) -> None:
    """The reader on files an encoder wrote, not only on our writer's."""
    out = tmp_path / "real.bin"
    subprocess.run(
        [
            *(_ffmpeg(), "-hide_banner", "-loglevel", "error", "-f", "lavfi"),
            *("-i", "testsrc=size=320x180:rate=10", "-t", "2.5", "-b:v", "40k", *args, str(out)),
        ],
        check=True,
        timeout=120,
    )
    facts = ebml_facts(out.read_bytes())
    seconds = facts.seconds and round(facts.seconds, 1)
    assert (facts.doc_type, facts.width, facts.height, seconds) == want
