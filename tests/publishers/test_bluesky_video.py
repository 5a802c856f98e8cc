"""Bluesky video through a local video service (video_service.py) in front of
the real reference PDS: service tokens from the PDS checked by signature and
claims, the day's limits asked first, the upload stored as a real blob, the
job polled, and the post's `app.bsky.embed.video` written to and read back
from the PDS with its blob ref, alt text and aspect ratio. Failures are
classified like other errors, and a retry never makes a second post."""

from __future__ import annotations

import dataclasses
import hashlib
import time
from pathlib import Path

import httpx
import pytest

from scheduler.errors import PermanentError, RetryableError
from scheduler.media.attach import attach_files
from scheduler.publishers import bluesky as bluesky_module
from scheduler.publishers.base import ChannelInfo, MediaItem
from scheduler.publishers.bluesky import BlueskyPublisher
from tests.media.mp4 import mp4, mp4_item

from .conftest import LoseAnswers, channel, outgoing, run, with_client, with_transport
from .video_service import VideoService

pytestmark = pytest.mark.pds


@pytest.fixture
def video(pds, monkeypatch):
    monkeypatch.setattr(bluesky_module, "VIDEO_POLL_SECONDS", 0.0)
    service = VideoService(pds.url)
    yield service
    service.close()


def clip(tmp_path: Path, seed: int, alt: str = "A rower crossing the line", **kw) -> MediaItem:
    return mp4_item(tmp_path, 640, 360, 4.0, payload=4096, seed=seed, alt=alt, **kw)


def adapter(pds, video: VideoService) -> BlueskyPublisher:
    return BlueskyPublisher(
        channel(
            "bluesky", pds.password, service=pds.url, handle=pds.handle, video_service=video.url
        )
    )


def post_with(item: MediaItem, text: str, key: str):
    return dataclasses.replace(outgoing(text, key=key), media=(item,))


def _blob(pds, cid: str) -> bytes:
    response = httpx.get(
        f"{pds.url}/xrpc/com.atproto.sync.getBlob", params={"did": pds.did, "cid": cid}, timeout=10
    )
    response.raise_for_status()
    return response.content


def _posts_with(pds, text: str) -> list[dict]:
    return [r for r in pds.list_records(pds.did) if r["value"]["text"] == text]


def test_a_video_post_lands_on_the_pds_with_its_blob_alt_and_aspect_ratio(pds, video, tmp_path):
    item = clip(tmp_path, 1)
    post = post_with(item, "Finish line, in motion", "video-1")
    result = run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    record = pds.get_record(result.remote_id)["value"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.video"
    assert embed["alt"] == "A rower crossing the line"
    assert embed["aspectRatio"] == {"width": 640, "height": 360}
    blob = embed["video"]
    assert (blob["mimeType"], blob["size"]) == ("video/mp4", item.size)
    assert _blob(pds, blob["ref"]["$link"]) == Path(item.path).read_bytes()
    # Limits first, then the upload, then the job until it completed (2 polls in process).
    assert video.calls() == [
        "app.bsky.video.getUploadLimits",
        "app.bsky.video.uploadVideo",
        *["app.bsky.video.getJobStatus"] * 3,
    ]
    assert video.verified == 2  # both service tokens' signatures held
    # A resend finds the record at its key: no upload, no second post.
    again = run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert again.remote_id == result.remote_id
    assert len(video.calls()) == 5
    assert len(_posts_with(pds, "Finish line, in motion")) == 1


def test_a_failed_upload_is_retryable_and_the_retry_posts_once(pds, video, tmp_path):
    item = clip(tmp_path, 2)
    post = post_with(item, "Second heat, on video", "video-2")
    video.fail_uploads = [503]
    with pytest.raises(RetryableError, match="HTTP 503"):
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert _posts_with(pds, "Second heat, on video") == []
    result = run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert pds.get_record(result.remote_id)["value"]["embed"]["video"]["size"] == item.size
    assert len(_posts_with(pds, "Second heat, on video")) == 1


def test_an_upload_whose_answer_was_lost_is_found_processed_on_the_retry(pds, video, tmp_path):
    item = clip(tmp_path, 3)
    post = post_with(item, "Third heat, on video", "video-3")
    lose = LoseAnswers(lambda r: r.url.path.endswith("/app.bsky.video.uploadVideo"))
    with pytest.raises(RetryableError) as lost:
        run(with_transport(lose, lambda c: adapter(pds, video).publish(c, post)))
    assert lost.value.maybe_delivered  # the service got it; only the answer was lost
    assert len(lose.lost) == 1
    # The retry uploads again; the service says already_exists and names the job.
    result = run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    uploads = [s for m, n, s in video.log if n == "app.bsky.video.uploadVideo"]
    assert uploads == [200, 409]
    assert len(video.jobs) == 1
    embed = pds.get_record(result.remote_id)["value"]["embed"]
    assert _blob(pds, embed["video"]["ref"]["$link"]) == Path(item.path).read_bytes()
    assert len(_posts_with(pds, "Third heat, on video")) == 1


def test_slow_processing_is_retried_and_posts_once(pds, video, tmp_path, monkeypatch):
    monkeypatch.setattr(bluesky_module, "VIDEO_POLLS", 3)
    video.polls = 4  # the job completes on its 5th status: in the second try
    item = clip(tmp_path, 4)
    post = post_with(item, "Fourth heat, on video", "video-4")
    with pytest.raises(RetryableError, match="still processing"):
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert _posts_with(pds, "Fourth heat, on video") == []
    result = run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert result.remote_id
    # One job: the retry's upload was `already_exists`, and its job was asked after.
    assert len(video.jobs) == 1
    assert [s for _, n, s in video.log if n == "app.bsky.video.uploadVideo"] == [200, 409]
    assert len(_posts_with(pds, "Fourth heat, on video")) == 1


def test_a_video_the_service_cannot_process_is_retryable_with_its_reason(pds, video, tmp_path):
    item = clip(tmp_path, 5)
    broken = Path(item.path).read_bytes()
    broken = broken[:4] + b"junk" + broken[8:]  # no ftyp box: not an MP4 to the service
    Path(item.path).write_bytes(broken)
    item = dataclasses.replace(item, sha256=hashlib.sha256(broken).hexdigest())
    post = post_with(item, "Fifth heat, on video", "video-5")
    with pytest.raises(RetryableError, match="could not process the video: video processing"):
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert _posts_with(pds, "Fifth heat, on video") == []


def test_the_days_limits_are_asked_before_anything_is_uploaded(pds, video, tmp_path):
    item = clip(tmp_path, 6)
    post = post_with(item, "Sixth heat, on video", "video-6")
    video.videos_left = 0
    with pytest.raises(RetryableError, match="daily video allowance is used up"):
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    video.videos_left, video.refusal = 25, ("unconfirmed_email", "Confirm your email first")
    with pytest.raises(PermanentError, match="refuses uploads: Confirm your email first"):
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert "app.bsky.video.uploadVideo" not in video.calls()
    assert _posts_with(pds, "Sixth heat, on video") == []


def test_the_service_refuses_tokens_that_do_not_fit(pds, video, tmp_path):
    """The local service's checks, so the tests above could fail: a token for
    another method, audience or issuer, an expired or tampered one."""

    def token(aud: str, lxm: str, exp: int | None = None) -> str:
        response = httpx.get(
            f"{pds.url}/xrpc/com.atproto.server.getServiceAuth",
            params={"aud": aud, "lxm": lxm, "exp": exp or int(time.time()) + 600},
            headers={"Authorization": f"Bearer {pds.access_jwt}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()["token"]

    def limits(bearer: str) -> httpx.Response:
        return httpx.get(
            f"{video.url}/xrpc/app.bsky.video.getUploadLimits",
            headers={"Authorization": f"Bearer {bearer}"},
            timeout=10,
        )

    good = token(video.did, "app.bsky.video.getUploadLimits")
    assert limits(good).status_code == 200
    assert limits(token(video.did, "app.bsky.video.uploadVideo")).json()["error"] == (
        "BadJwtLexiconMethod"
    )
    assert limits(token("did:web:elsewhere.example", "app.bsky.video.getUploadLimits")).json()[
        "error"
    ] == ("BadJwtAudience")
    head, payload, signature = good.split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    assert limits(f"{head}.{payload}.{flipped}").json()["error"] == "BadJwtSignature"
    other = pds.create_account("other-uploader.test")
    upload = token(video.pds_did, "com.atproto.repo.uploadBlob")
    answer = httpx.post(
        f"{video.url}/xrpc/app.bsky.video.uploadVideo",
        params={"did": other["did"], "name": "x.mp4"},
        content=mp4(),
        headers={"Authorization": f"Bearer {upload}", "Content-Type": "video/mp4"},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]) == (401, "InvalidToken")
    answer = httpx.post(
        f"{video.url}/xrpc/app.bsky.video.uploadVideo",
        params={"did": pds.did, "name": "x.webm"},
        content=b"\x1a\x45\xdf\xa3",
        headers={"Authorization": f"Bearer {upload}", "Content-Type": "video/webm"},
        timeout=10,
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "InvalidRequest")


def test_a_refused_service_token_fails_the_post_without_pausing_the_channel(pds, video, tmp_path):
    item = clip(tmp_path, 7)
    post = post_with(item, "Seventh heat, on video", "video-7")
    video.did = "did:web:another.example"  # the service now expects another audience
    with pytest.raises(PermanentError, match="refused the service token") as refused:
        run(with_client(lambda c: adapter(pds, video).publish(c, post)))
    assert type(refused.value) is PermanentError  # not CredentialRejected: no pause
    assert _posts_with(pds, "Seventh heat, on video") == []


def test_the_dry_run_shows_the_upload_to_the_video_service_without_a_token(pds, video, tmp_path):
    item = clip(tmp_path, 8)
    post = post_with(item, "Eighth heat, on video", "video-8")
    upload, create = adapter(pds, video).build_requests(post)
    shown = upload.redacted()
    assert shown["url"].startswith(f"{video.url}/xrpc/app.bsky.video.uploadVideo?did=")
    assert shown["headers"]["Authorization"] == "Bearer <service token>"
    assert shown["body"] == f"video/mp4, {item.size} bytes, sha256 {item.sha256[:12]}"
    embed = create.json["record"]["embed"]
    assert embed["$type"] == "app.bsky.embed.video"
    assert embed["video"]["ref"] == {"$link": "<cid of upload 1>"}
    assert video.log == []


def test_bluesky_takes_one_mp4_video_within_its_limits_when_queued(tmp_path):
    sky = BlueskyPublisher(
        ChannelInfo("v", "bluesky", {"handle": "a.example"}, secret=None, timezone="UTC")
    )
    ok = tmp_path / "ok.mp4"
    ok.write_bytes(mp4(1280, 720, 30.0))
    media, warnings = attach_files(None, sky, [str(ok)], ["A rower"], store=False)
    assert (media[0]["mime"], media[0]["seconds"], warnings) == ("video/mp4", 30.0, [])
    long = tmp_path / "long.mp4"
    long.write_bytes(mp4(1280, 720, 200.0))
    mov = tmp_path / "m.mov"
    mov.write_bytes(mp4(brand=b"qt  "))
    for files, alts, message in [
        ([str(long)], ["x"], "200 s long, over Bluesky's 180 s"),
        ([str(mov)], ["x"], "takes no video/quicktime video"),
        ([str(ok), str(ok)], ["x", "y"], "at most 1 video"),
        ([str(ok)], ["é" * 1001], "1001 characters, over Bluesky's 1000 for a video"),
    ]:
        with pytest.raises(Exception, match=message):
            attach_files(None, sky, files, alts, store=False)


def test_the_daemon_retries_a_failed_video_upload_and_posts_once(pds, video, tmp_path, monkeypatch):
    """Through the real daemon pass on a real SQLite file: the video queued
    with its checks, the first upload refused with a 503 (the post waits for
    its retry), the second pass posting it once, with its blob."""
    import asyncio
    import datetime as dt

    from sqlmodel import Session

    from scheduler.accounts.channels import add_channel
    from scheduler.config import load_settings
    from scheduler.delivery.dispatcher import Dispatcher
    from scheduler.delivery.lanes import make_client
    from scheduler.desk.posts import add_by_hand
    from scheduler.storage import database

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SCHEDULER_MEDIA_DIR", str(tmp_path / "media"))
    monkeypatch.setenv("SKY_PASSWORD", pds.password)
    url = f"sqlite:///{tmp_path / 'test.db'}"
    engine = database.make_engine(url)
    database.init_database(engine)
    options = {"service": pds.url, "handle": pds.handle, "video_service": video.url}
    with Session(engine) as session:
        add_channel(
            session, "sky", "bluesky", options=options, secret_env="SKY_PASSWORD",
            timezone="UTC", slots="mon-sun 09:00",
        )  # fmt: skip
        session.commit()
    item = clip(tmp_path, 9)
    text = "Ninth heat, from the daemon"
    with database.session_scope(engine) as session:
        add_by_hand(session, "sky", text, "now", [item.path], ["The ninth heat's finish"])
    settings = load_settings(db=url, grace_seconds=3600.0, retry_base_seconds=5.0)
    video.fail_uploads = [503]

    async def pass_at(now: dt.datetime) -> list:
        async with make_client(10.0) as client:
            return await Dispatcher(engine, settings, client=client).run_due(now=now)

    start = dt.datetime.now(dt.UTC)
    (first,) = asyncio.run(pass_at(start))
    assert first.status == "retry" and "HTTP 503" in first.error
    assert _posts_with(pds, text) == []
    (second,) = asyncio.run(pass_at(start + dt.timedelta(hours=1)))
    assert second.status == "sent"
    # A third pass finds nothing due; the PDS holds the post once, with its video.
    assert asyncio.run(pass_at(start + dt.timedelta(hours=2))) == []
    engine.dispose()
    (record,) = _posts_with(pds, text)
    embed = record["value"]["embed"]
    assert record["uri"] == second.remote_id
    assert (embed["alt"], embed["video"]["size"]) == ("The ninth heat's finish", item.size)
    assert _blob(pds, embed["video"]["ref"]["$link"]) == Path(item.path).read_bytes()
