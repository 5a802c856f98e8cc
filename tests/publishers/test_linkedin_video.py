"""LinkedIn video through a local LinkedIn (linkedin_videos.py) that checks the
Videos API's sequence: initializeUpload, every part to its own pre-signed
URL, finalizeUpload with the ETags in order, the status until AVAILABLE, then
the post naming the video. Failures are classified like other errors, and a
retry never makes a second post."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from scheduler.errors import MediaError, PermanentError, RetryableError
from scheduler.media.attach import attach_files
from scheduler.publishers import linkedin as linkedin_module
from scheduler.publishers.base import MediaItem
from scheduler.publishers.linkedin import LinkedInPublisher
from tests.media.mp4 import mp4, mp4_item

from .conftest import channel, outgoing, run, with_client
from .linkedin_videos import LinkedInVideos

TOKEN = "AQV-member-token"
AUTHOR = "urn:li:person:abc123"
PART = 30_000


@pytest.fixture
def linkedin(monkeypatch):
    monkeypatch.setattr(linkedin_module, "VIDEO_POLL_SECONDS", 0.0)
    server = LinkedInVideos(TOKEN, AUTHOR, part_size=PART)
    yield server
    server.close()


def clip(tmp_path: Path, seed: int = 0, payload: int = 80_000) -> MediaItem:
    return mp4_item(tmp_path, 1280, 720, 12.0, payload=payload, seed=seed)


def adapter(server: LinkedInVideos) -> LinkedInPublisher:
    return LinkedInPublisher(channel("linkedin", TOKEN, api=server.url, author=AUTHOR))


def with_video(item: MediaItem, text: str):
    return dataclasses.replace(outgoing(text), media=(item,))


def test_a_video_goes_up_in_parts_and_the_post_names_it(linkedin, tmp_path):
    item = clip(tmp_path)
    result = run(with_client(lambda c: adapter(linkedin).publish(c, with_video(item, "Heat one"))))
    (video,) = linkedin.videos.values()
    parts = len(video.parts)
    assert parts == -(-item.size // PART) == 3
    assert linkedin.calls() == [
        "POST /rest/videos",  # initializeUpload
        *[f"PUT /upload/{video.urn}/{n}" for n in range(parts)],
        "POST /rest/videos",  # finalizeUpload
        *[f"GET /rest/videos/{quote(video.urn, safe='')}"] * 2,  # PROCESSING, AVAILABLE
        "POST /rest/posts",
    ]
    assert b"".join(video.uploaded[n][0] for n in range(parts)) == Path(item.path).read_bytes()
    posted = linkedin.posts[result.remote_id]
    # The video is named; LinkedIn shows no alt text on a video, so none is sent.
    assert posted["content"] == {"media": {"id": video.urn}}
    assert posted["commentary"] == "Heat one"
    assert result.remote_url == f"https://www.linkedin.com/feed/update/{result.remote_id}/"


def test_a_one_part_video_finalizes_with_an_empty_upload_token(linkedin, tmp_path):
    linkedin.part_size = 10 * 1024 * 1024
    item = clip(tmp_path, 1)
    result = run(with_client(lambda c: adapter(linkedin).publish(c, with_video(item, "Heat two"))))
    (video,) = linkedin.videos.values()
    assert (len(video.parts), video.token) == (1, "")
    assert result.remote_id in linkedin.posts


def test_a_failed_part_is_retryable_and_the_retry_posts_once(linkedin, tmp_path):
    item = clip(tmp_path, 2)
    post = with_video(item, "Heat three")
    linkedin.fail_parts = [503]
    with pytest.raises(RetryableError, match="HTTP 503"):
        run(with_client(lambda c: adapter(linkedin).publish(c, post)))
    assert linkedin.posts == {}
    run(with_client(lambda c: adapter(linkedin).publish(c, post)))
    assert len(linkedin.posts) == 1
    assert len(linkedin.videos) == 2  # the retry uploaded again; that posts nothing


def test_a_post_that_landed_behind_an_error_is_not_posted_again(linkedin, tmp_path):
    item = clip(tmp_path, 3)
    post = with_video(item, "Heat four")
    linkedin.fail_posts, linkedin.taken = [500], True
    with pytest.raises(RetryableError, match="HTTP 500"):
        run(with_client(lambda c: adapter(linkedin).publish(c, post)))
    (first,) = linkedin.posts
    result = run(with_client(lambda c: adapter(linkedin).publish(c, post)))
    # LinkedIn answers the second post DUPLICATE_POST with the first's URN.
    assert (result.remote_id, result.detail["duplicate"]) == (first, True)
    assert len(linkedin.posts) == 1


def test_a_video_linkedin_cannot_process_is_retryable_with_the_reason(linkedin, tmp_path):
    item = clip(tmp_path, 4)
    broken = Path(item.path).read_bytes()
    broken = broken[:4] + b"junk" + broken[8:]
    Path(item.path).write_bytes(broken)
    item = dataclasses.replace(item, sha256=hashlib.sha256(broken).hexdigest())
    with pytest.raises(RetryableError, match=r"could not process video .*not a playable MP4"):
        run(with_client(lambda c: adapter(linkedin).publish(c, with_video(item, "Heat five"))))
    assert linkedin.posts == {}


def test_slow_processing_is_retried_without_a_post(linkedin, tmp_path, monkeypatch):
    monkeypatch.setattr(linkedin_module, "VIDEO_POLLS", 2)
    linkedin.polls = 10
    item = clip(tmp_path, 5)
    with pytest.raises(RetryableError, match="still processing"):
        run(with_client(lambda c: adapter(linkedin).publish(c, with_video(item, "Heat six"))))
    (video,) = linkedin.videos.values()
    assert video.reads == 3  # VIDEO_POLLS + 1 reads, then the send gives up for now
    assert linkedin.posts == {}


def test_upload_instructions_that_miss_bytes_send_nothing():
    parts = LinkedInPublisher.parts
    ok = [
        {"uploadUrl": "https://u/0", "firstByte": 0, "lastByte": 9},
        {"uploadUrl": "https://u/1", "firstByte": 10, "lastByte": 14},
    ]
    assert parts(ok, 15) == [("https://u/0", 0, 9), ("https://u/1", 10, 14)]
    with pytest.raises(PermanentError, match="cover 15 of the video's 20 bytes"):
        parts(ok, 20)
    with pytest.raises(PermanentError, match="do not cover the video in order"):
        parts(list(reversed(ok)), 15)
    with pytest.raises(PermanentError, match="no uploadInstructions"):
        parts([], 15)


def test_the_dry_run_names_the_steps_without_the_token(linkedin, tmp_path):
    item = clip(tmp_path, 6)
    requests = adapter(linkedin).build_requests(with_video(item, "Heat seven"))
    init, part, final, post = (r.redacted() for r in requests)
    assert init["json"]["initializeUploadRequest"]["fileSizeBytes"] == item.size
    assert "Authorization" not in part["headers"]
    assert part["body"].startswith(f"part 1 of video/mp4, {item.size} bytes")
    assert final["json"]["finalizeUploadRequest"]["uploadedPartIds"] == ["<ETag of each part>"]
    assert post["json"]["content"] == {"media": {"id": "<video urn>"}}
    assert TOKEN not in str([init, final, post])
    assert linkedin.log == []


def test_the_local_linkedin_refuses_steps_out_of_order(linkedin, tmp_path):
    """The server's own checks, so the tests above could fail."""
    rest = {
        "Authorization": f"Bearer {TOKEN}",
        "LinkedIn-Version": "202610",
        "X-Restli-Protocol-Version": "2.0.0",
    }
    init = httpx.post(
        f"{linkedin.url}/rest/videos?action=initializeUpload",
        json={"initializeUploadRequest": {"owner": AUTHOR, "fileSizeBytes": 40_000}},
        headers=rest,
    ).json()["value"]
    first, second = init["uploadInstructions"]
    final = {"video": init["video"], "uploadToken": init["uploadToken"]}
    # Finalizing before the parts are up, or with an ETag missing, is refused.
    answer = httpx.post(
        f"{linkedin.url}/rest/videos?action=finalizeUpload",
        json={"finalizeUploadRequest": {**final, "uploadedPartIds": []}},
        headers=rest,
    )
    assert answer.status_code == 400
    # A part with the wrong byte count, or with a token on the pre-signed URL, is refused.
    assert httpx.put(first["uploadUrl"], content=b"x" * 10).status_code == 400
    assert httpx.put(first["uploadUrl"], content=b"x" * PART, headers=rest).status_code == 400
    etag = httpx.put(first["uploadUrl"], content=b"x" * PART).headers["etag"]
    answer = httpx.post(
        f"{linkedin.url}/rest/videos?action=finalizeUpload",
        json={"finalizeUploadRequest": {**final, "uploadedPartIds": [etag]}},
        headers=rest,
    )
    assert answer.status_code == 400
    last = httpx.put(second["uploadUrl"], content=b"y" * (40_000 - PART)).headers["etag"]
    # A post naming the video before it is AVAILABLE is refused.
    body = {
        "author": AUTHOR,
        "commentary": "x",
        "visibility": "PUBLIC",
        "distribution": {},
        "lifecycleState": "PUBLISHED",
        "content": {"media": {"id": init["video"]}},
    }
    assert httpx.post(f"{linkedin.url}/rest/posts", json=body, headers=rest).status_code == 422
    answer = httpx.post(
        f"{linkedin.url}/rest/videos?action=finalizeUpload",
        json={"finalizeUploadRequest": {**final, "uploadedPartIds": [last, etag]}},
        headers=rest,
    )
    assert answer.status_code == 400  # out of order
    without_version = {k: v for k, v in rest.items() if k != "LinkedIn-Version"}
    answer = httpx.get(f"{linkedin.url}/rest/videos/{init['video']}", headers=without_version)
    assert answer.status_code == 426


def test_linkedin_takes_one_mp4_within_its_limits_when_queued(tmp_path):
    from scheduler.publishers.base import ChannelInfo

    li = LinkedInPublisher(ChannelInfo("v", "linkedin", {"author": AUTHOR}, secret=None))
    ok = tmp_path / "ok.mp4"
    ok.write_bytes(mp4(1280, 720, 30.0, payload=80_000))
    media, warnings = attach_files(None, li, [str(ok)], ["A rower"], store=False)
    assert media[0]["seconds"] == 30.0
    assert warnings == ["ok.mp4: LinkedIn shows no alt text on videos; kept, not sent"]
    short = tmp_path / "short.mp4"
    short.write_bytes(mp4(1280, 720, 2.0, payload=80_000))
    long = tmp_path / "long.mp4"
    long.write_bytes(mp4(1280, 720, 1801.0, payload=80_000))
    small = tmp_path / "small.mp4"
    small.write_bytes(mp4(1280, 720, 10.0, payload=1000))
    for path, message in [
        (short, "2 s long, under the 3 s LinkedIn takes"),
        (long, "1801 s long, over LinkedIn's 1800 s"),
        (small, "under the 76800 bytes LinkedIn takes for a video"),
    ]:
        with pytest.raises(MediaError, match=message):
            attach_files(None, li, [str(path)], [""], store=False)
