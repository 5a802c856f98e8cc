"""Video and the upload flows that need a peer which checks the sequence, not
only the last request: X's chunked upload (INIT, APPEND in order, FINALIZE,
STATUS until processed), Discord's multipart webhook (payload_json and
attachment ids against the file parts), Slack's external upload with a bot
token, Telegram's sendVideo and mixed albums, Mastodon's processing wait for a
video. Each peer is a real HTTP server on 127.0.0.1 (the conftest `stub`)
driven by a validator written from the platform's documentation; a request out
of order or malformed gets the platform's error, so the test fails on it. A
retry may repeat uploads, never the post."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from scheduler.errors import CredentialRejected, PermanentError, RetryableError
from scheduler.publishers import mastodon as mastodon_module
from scheduler.publishers import x as x_module
from scheduler.publishers.base import ChannelInfo, MediaItem
from scheduler.publishers.discord import DiscordPublisher
from scheduler.publishers.mastodon import MastodonPublisher
from scheduler.publishers.slack import SlackPublisher
from scheduler.publishers.telegram import TelegramPublisher
from scheduler.publishers.x import XPublisher
from tests.media.mp4 import mp4

from .conftest import Reply, Seen, channel, outgoing, run, with_client
from .test_media_adapters import form_parts, image


def video(tmp_path: Path, name: str = "clip", *, alt: str = "", payload: int = 2500, **kw):
    data = mp4(payload=payload, **kw)
    path = tmp_path / f"{name}.mp4"
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    return MediaItem(
        sha256=digest,
        mime="video/mp4",
        size=len(data),
        path=str(path),
        alt=alt,
        width=kw.get("width", 640),
        height=kw.get("height", 360),
        seconds=kw.get("seconds", 3.0),
    )


def with_media(post, *media):
    return dataclasses.replace(post, media=tuple(media))


# -- X: chunked upload ------------------------------------------------------------------


class XMediaPeer:
    """X's chunked upload as documented (x-api/media/quickstart/media-upload-chunked
    and the STATUS reference): INIT gives an id; APPENDs carry `segment_index`
    0, 1, 2... and together exactly `total_bytes`; FINALIZE after the last one
    answers `processing_info`; STATUS moves pending -> in_progress ->
    succeeded; a post may name only media that succeeded."""

    def __init__(self, *, fail_processing: bool = False, token: str = "user-token") -> None:
        self.uploads: dict[str, dict] = {}
        self.tweets: list[dict] = []
        self.next_id = 1880
        self.fail_processing = fail_processing
        self.token = token
        self.tweet_failures = 0
        self.errors: list[str] = []

    def refuse(self, why: str, status: int = 400) -> Reply:
        self.errors.append(why)
        return Reply(status, {"title": "Invalid Request", "detail": why, "type": "invalid-request"})

    def __call__(self, seen: Seen) -> Reply:
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return Reply(401, {"title": "Unauthorized", "detail": "Unauthorized", "status": 401})
        path = seen.path
        if path == "/2/media/upload/initialize" and seen.method == "POST":
            body = seen.json()
            if body.get("media_category") != "tweet_video" or body.get("media_type") != "video/mp4":
                return self.refuse(f"bad INIT {body}")
            if not isinstance(body.get("total_bytes"), int) or body["total_bytes"] <= 0:
                return self.refuse("total_bytes must be a positive integer")
            media_id = str(self.next_id)
            self.next_id += 1
            self.uploads[media_id] = {"total": body["total_bytes"], "chunks": [], "state": "init"}
            return Reply(200, {"data": {"id": media_id, "media_key": f"7_{media_id}"}})
        if path.startswith("/2/media/upload/") and path.endswith("/append"):
            upload = self.uploads.get(path.split("/")[4])
            if upload is None or upload["state"] != "init":
                return self.refuse("APPEND to an upload that is not open")
            parts = form_parts(seen.headers["content-type"], seen.body)
            if set(parts) != {"segment_index", "media"}:
                return self.refuse(f"APPEND parts {sorted(parts)}")
            index = int(parts["segment_index"][2])
            if index != len(upload["chunks"]):
                return self.refuse(f"segment {index} out of order")
            chunk = parts["media"][2]
            if not 0 < len(chunk) <= 5 * 1024 * 1024:
                return self.refuse("a chunk is 1 byte to 5 MB")
            upload["chunks"].append(chunk)
            return Reply(200, {"data": {"expires_at": 1_900_000_000}})
        if path.startswith("/2/media/upload/") and path.endswith("/finalize"):
            upload = self.uploads.get(path.split("/")[4])
            if upload is None or upload["state"] != "init":
                return self.refuse("FINALIZE of an upload that is not open")
            if sum(len(c) for c in upload["chunks"]) != upload["total"]:
                return self.refuse("the chunks do not add up to total_bytes")
            upload["state"] = "pending"
            info = {"state": "pending", "check_after_secs": 1}
            return Reply(200, {"data": {"id": path.split("/")[4], "processing_info": info}})
        if path == "/2/media/upload" and seen.method == "GET":
            if seen.query.get("command") != ["STATUS"]:
                return self.refuse("GET /2/media/upload needs command=STATUS")
            media_id = seen.query.get("media_id", [""])[0]
            upload = self.uploads.get(media_id)
            if upload is None or upload["state"] == "init":
                return self.refuse("STATUS before FINALIZE")
            step = {"pending": "in_progress", "in_progress": "succeeded"}
            if upload["state"] in step:
                upload["state"] = step[upload["state"]]
            if self.fail_processing and upload["state"] == "succeeded":
                upload["state"] = "failed"
            info: dict = {"state": upload["state"]}
            if upload["state"] == "in_progress":
                info |= {"check_after_secs": 2, "progress_percent": 40}
            if upload["state"] == "failed":
                info["error"] = {"code": 1, "name": "InvalidMedia", "message": "Unsupported video"}
            return Reply(200, {"data": {"id": media_id, "processing_info": info}})
        if path == "/2/tweets" and seen.method == "POST":
            body = seen.json()
            for media_id in (body.get("media") or {}).get("media_ids") or []:
                if (self.uploads.get(media_id) or {}).get("state") != "succeeded":
                    return self.refuse(f"media {media_id} is not ready")
            if self.tweet_failures:
                self.tweet_failures -= 1
                return Reply(503, {"title": "Service Unavailable"})
            self.tweets.append(body)
            return Reply(201, {"data": {"id": str(9000 + len(self.tweets)), "text": body["text"]}})
        return self.refuse(f"no route {seen.method} {path}", 404)

    def bytes_of(self, media_id: str) -> bytes:
        return b"".join(self.uploads[media_id]["chunks"])


@pytest.fixture
def fast_x(monkeypatch):
    monkeypatch.setattr(x_module, "CHUNK_BYTES", 1000)
    monkeypatch.setattr(x_module, "STATUS_WAIT_SCALE", 0.0)


def test_x_uploads_a_video_in_chunks_and_waits_for_processing(stub, tmp_path, fast_x):
    peer = XMediaPeer()
    stub.responder = peer
    publisher = XPublisher(channel("x", "user-token", api=stub.url))
    clip = video(tmp_path, alt="kept, not sent")
    result = run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Start"), clip))))
    assert peer.errors == []
    paths = [(r.method, r.path) for r in stub.requests]
    assert paths == [
        ("POST", "/2/media/upload/initialize"),
        *[("POST", "/2/media/upload/1880/append")] * 3,  # 2,5xx bytes in 1000-byte chunks
        ("POST", "/2/media/upload/1880/finalize"),
        ("GET", "/2/media/upload"),
        ("GET", "/2/media/upload"),
        ("POST", "/2/tweets"),
    ]
    assert peer.bytes_of("1880") == Path(clip.path).read_bytes()
    assert peer.tweets == [{"text": "Start", "media": {"media_ids": ["1880"]}}]
    assert result.remote_id == "9001"
    # No alt-text call for a video: X takes alt text on images only.
    assert not any(r.path == "/2/media/metadata" for r in stub.requests)
    # The dry run lists the same steps, the bytes named, not dumped.
    shown = [r.redacted() for r in publisher.build_requests(with_media(outgoing("Start"), clip))]
    assert [s["url"].removeprefix(stub.url) for s in shown] == [
        "/2/media/upload/initialize",
        *["/2/media/upload/<id of upload 1>/append"] * 3,
        "/2/media/upload/<id of upload 1>/finalize",
        "/2/tweets",
    ]
    assert shown[1]["body"].startswith("multipart form: segment_index='0'; media: segment-0")


def test_x_refuses_a_post_when_processing_fails(stub, tmp_path, fast_x):
    peer = XMediaPeer(fail_processing=True)
    stub.responder = peer
    publisher = XPublisher(channel("x", "user-token", api=stub.url))
    post = with_media(outgoing("Start"), video(tmp_path))
    with pytest.raises(PermanentError, match="could not process media 1880: Unsupported video"):
        run(with_client(lambda c: publisher.publish(c, post)))
    assert peer.tweets == [] and peer.errors == []


def test_a_retry_uploads_again_but_posts_once(stub, tmp_path, fast_x):
    peer = XMediaPeer()
    peer.tweet_failures = 1
    stub.responder = peer
    publisher = XPublisher(channel("x", "user-token", api=stub.url))
    post = with_media(outgoing("Start"), video(tmp_path))
    with pytest.raises(RetryableError, match="HTTP 503"):
        run(with_client(lambda c: publisher.publish(c, post)))
    again = run(with_client(lambda c: publisher.publish(c, dataclasses.replace(post, attempt=2))))
    assert len(peer.uploads) == 2  # the upload repeated under a new media id...
    assert peer.tweets == [
        {"text": "Start", "media": {"media_ids": ["1881"]}}
    ]  # ...the post did not
    assert again.remote_id == "9001" and peer.errors == []


class Tokens:
    """A connected channel's tokens: the first is refused, the refresh is good."""

    def __init__(self) -> None:
        self.refreshes = 0

    async def access_token(self) -> str:
        return "old-token" if not self.refreshes else "user-token"

    async def refreshed(self, rejected: str) -> str:
        self.refreshes += 1
        return "user-token"


def test_a_refused_token_on_an_upload_is_refreshed_once(stub, tmp_path, fast_x):
    peer = XMediaPeer()
    stub.responder = peer
    tokens = Tokens()
    info = ChannelInfo(
        name="x", platform="x", options={"api": stub.url}, secret=None, tokens=tokens
    )
    publisher = XPublisher(info)
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Go"), video(tmp_path)))))
    assert tokens.refreshes == 1
    assert stub.requests[0].headers["authorization"] == "Bearer old-token"
    assert [r.path for r in stub.requests].count("/2/media/upload/initialize") == 2
    assert len(peer.tweets) == 1


# -- Discord: multipart webhook ---------------------------------------------------------


class DiscordWebhookPeer:
    """Execute Webhook with files, as Discord documents it ("Uploading Files",
    the attachment request structure): multipart/form-data with one
    `payload_json` part; each `attachments[i].id` is the n of a `files[n]`
    part and every `files[n]` is named in `attachments`; the filename matches;
    `description` (alt text) is at most 1024 characters; `content` at most
    2000; at most 10 files. A breach answers 400 `Invalid Form Body` (code 50035)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def __call__(self, seen: Seen) -> Reply:
        if seen.query.get("wait") != ["true"]:
            return self.refuse("always wait=true")
        ctype = seen.headers.get("content-type", "")
        if ctype.startswith("application/json"):
            payload, files = json.loads(seen.body), {}
        elif ctype.startswith("multipart/form-data"):
            parts = form_parts(ctype, seen.body)
            if "payload_json" not in parts:
                return self.refuse("payload_json is missing")
            payload = json.loads(parts.pop("payload_json")[2])
            files = parts
        else:
            return self.refuse(f"content type {ctype}")
        if len(payload.get("content") or "") > 2000:
            return self.refuse("content over 2000")
        attachments = payload.get("attachments") or []
        named = {f"files[{a.get('id')}]": a for a in attachments}
        if len(files) > 10 or set(named) != set(files):
            return self.refuse(f"attachments {sorted(named)} against parts {sorted(files)}")
        for key, attachment in named.items():
            if attachment.get("filename") != files[key][0]:
                return self.refuse(f"{key}: filename differs")
            if len(attachment.get("description") or "") > 1024:
                return self.refuse(f"{key}: description over 1024")
        self.messages.append({"payload": payload, "files": files})
        shown = [
            {
                "id": str(100 + i),
                "filename": files[k][0],
                "content_type": files[k][1],
                "size": len(files[k][2]),
                "description": named[k].get("description"),
            }
            for i, k in enumerate(sorted(files))
        ]
        return Reply(200, {"id": "555", "channel_id": "3", "guild_id": "1", "attachments": shown})

    @staticmethod
    def refuse(why: str) -> Reply:
        return Reply(400, {"code": 50035, "message": f"Invalid Form Body: {why}"})


def test_discord_sends_a_video_and_an_image_the_way_the_peer_checks(stub, tmp_path):
    peer = DiscordWebhookPeer()
    stub.responder = peer
    publisher = DiscordPublisher(channel("discord", f"{stub.url}/api/webhooks/1/tok"))
    still = image(tmp_path, "still", alt="The finish line")
    clip = video(tmp_path, alt="Boats crossing the line")
    result = run(
        with_client(lambda c: publisher.publish(c, with_media(outgoing("Finish"), still, clip)))
    )
    (message,) = peer.messages
    assert [a["description"] for a in message["payload"]["attachments"]] == [
        "The finish line",
        "Boats crossing the line",
    ]
    assert message["files"]["files[1]"][1:] == ("video/mp4", Path(clip.path).read_bytes())
    assert result.remote_id == "555"


def test_the_discord_peer_refuses_attachments_that_do_not_match_their_files(stub, tmp_path):
    """The validator can fail: an attachment id with no files[n] part is refused."""
    peer = DiscordWebhookPeer()
    stub.responder = peer
    publisher = DiscordPublisher(channel("discord", f"{stub.url}/api/webhooks/1/tok"))
    request = publisher.message_request(
        "Hi", first_part=True, thread_id=None, media=(video(tmp_path, alt="x"),)
    )
    broken = request.content.replace(b'"id": 0', b'"id": 7')
    assert broken != request.content
    request.content = broken
    with pytest.raises(PermanentError, match="Invalid Form Body: attachments"):
        run(with_client(lambda c: _send(c, request)))
    assert peer.messages == []


async def _send(client, request):
    from scheduler.publishers.base import send_classified
    from scheduler.publishers.discord import classify

    return await send_classified(client, request, idempotent=False, classify=classify)


# -- Slack: bot token, external upload --------------------------------------------------


class SlackWebApiPeer:
    """Slack's Web API for a bot token, as its method pages describe them:
    files.getUploadURLExternal (form: filename, length, alt_txt at most 1000)
    answers an upload URL and file id; the bytes POSTed there must be
    `length` long; files.completeUploadExternal (form: files JSON, channel_id,
    initial_comment) names only uploaded files; chat.postMessage answers a ts,
    and a thread_ts must be one it gave. Errors are HTTP 200 with ok: false."""

    def __init__(self, token: str = "xoxb-test") -> None:
        self.token = token
        self.files: dict[str, dict] = {}
        self.messages: list[dict] = []
        self.url = ""

    @staticmethod
    def error(code: str) -> Reply:
        return Reply(200, {"ok": False, "error": code})

    def __call__(self, seen: Seen) -> Reply:
        if seen.path.startswith("/upload/"):
            file = self.files.get(seen.path.rsplit("/", 1)[-1])
            if file is None or len(seen.body) != file["length"]:
                return Reply(400, "bad upload")
            file["data"] = seen.body
            return Reply(200, f"OK - {len(seen.body)}")
        if seen.headers.get("authorization") != f"Bearer {self.token}":
            return self.error("invalid_auth")
        method = seen.path.removeprefix("/api/")
        if method == "files.getUploadURLExternal":
            form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
            if not form.get("filename") or not form.get("length", "").isdigit():
                return self.error("invalid_arguments")
            if len(form.get("alt_txt", "")) > 1000:
                return self.error("alt_txt_too_large")
            file_id = f"F{len(self.files) + 1:04d}"
            self.files[file_id] = {"length": int(form["length"]), "alt": form.get("alt_txt")}
            return Reply(
                200, {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
            )
        if method == "files.completeUploadExternal":
            form = {k: v[0] for k, v in parse_qs(seen.body.decode()).items()}
            files = json.loads(form.get("files", "[]"))
            if not files or any("data" not in self.files.get(f["id"], {}) for f in files):
                return self.error("file_not_found")
            ts = self._post(
                form["channel_id"], form.get("initial_comment", ""), None, [f["id"] for f in files]
            )
            shares = {"public": {form["channel_id"]: [{"ts": ts}]}}
            return Reply(
                200, {"ok": True, "files": [{"id": f["id"], "shares": shares} for f in files]}
            )
        if method == "chat.postMessage":
            body = seen.json()
            thread = body.get("thread_ts")
            if thread and thread not in [m["ts"] for m in self.messages]:
                return self.error("thread_not_found")
            ts = self._post(body["channel"], body["text"], thread, [])
            return Reply(200, {"ok": True, "channel": body["channel"], "ts": ts})
        return self.error("unknown_method")

    def _post(self, channel_id, text, thread, files) -> str:
        ts = f"1700000000.{len(self.messages) + 1:06d}"
        self.messages.append(
            {"channel": channel_id, "text": text, "thread_ts": thread, "files": files, "ts": ts}
        )
        return ts


def test_slack_bot_uploads_files_and_threads_the_rest(stub, tmp_path):
    peer = SlackWebApiPeer()
    peer.url = stub.url
    stub.responder = peer
    publisher = SlackPublisher(
        channel("slack", "xoxb-test", channel_id="C0123", api=f"{stub.url}/api")
    )
    still = image(tmp_path, "s", alt="Rowers & boats")
    clip = video(tmp_path, alt="The start")
    post = with_media(outgoing("Race <1>\n\nPart two", "Race <1>", "Part two"), still, clip)
    result = run(with_client(lambda c: publisher.publish(c, post)))
    first, second = peer.messages
    assert first["text"] == "Race &lt;1&gt;" and first["files"] == ["F0001", "F0002"]
    assert second == {**second, "text": "Part two", "thread_ts": first["ts"]}
    assert peer.files["F0002"]["data"] == Path(clip.path).read_bytes()
    assert peer.files["F0001"]["alt"] == "Rowers & boats"
    assert result.remote_id == first["ts"]
    # The upload URL carries no token header; the Web API calls carry the bot token.
    upload = next(r for r in stub.requests if r.path.startswith("/upload/"))
    assert "authorization" not in upload.headers
    shown = [r.redacted() for r in publisher.build_requests(post)]
    assert [s["url"].rsplit("/", 1)[-1] for s in shown] == [
        "files.getUploadURLExternal",
        "<upload_url 1>",
        "files.getUploadURLExternal",
        "<upload_url 2>",
        "files.completeUploadExternal",
        "chat.postMessage",
    ]
    assert all(s["headers"].get("Authorization", "Bearer ***") == "Bearer ***" for s in shown)


def test_slack_bot_text_threads_under_its_first_message(stub):
    peer = SlackWebApiPeer()
    stub.responder = peer
    publisher = SlackPublisher(
        channel("slack", "xoxb-test", channel_id="C9", api=f"{stub.url}/api")
    )
    run(
        with_client(
            lambda c: publisher.publish(c, outgoing("One Two Three", "One", "Two", "Three"))
        )
    )
    first, *rest = peer.messages
    assert first["thread_ts"] is None and [m["thread_ts"] for m in rest] == [first["ts"]] * 2


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        ("invalid_auth", CredentialRejected),
        ("ratelimited", RetryableError),
        ("internal_error", RetryableError),
        ("channel_not_found", PermanentError),
    ],
)
def test_slack_web_api_errors_are_classified(stub, error, kind):
    stub.responder = lambda seen: Reply(200, {"ok": False, "error": error})
    publisher = SlackPublisher(
        channel("slack", "xoxb-test", channel_id="C9", api=f"{stub.url}/api")
    )
    with pytest.raises(kind, match=f"Slack: {error}"):
        run(with_client(lambda c: publisher.publish(c, outgoing("One"))))


# -- Telegram, Mastodon -------------------------------------------------------------------


def test_telegram_sends_a_video_with_its_sides_and_length(stub, tmp_path):
    stub.responder = lambda seen: Reply(
        200, {"ok": True, "result": {"message_id": 6, "chat": {"id": -100}}}
    )
    publisher = TelegramPublisher(channel("telegram", "123:abc", api=stub.url, chat_id=-100))
    clip = video(tmp_path, width=1280, height=720, seconds=7.6)
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Go"), clip))))
    (seen,) = stub.requests
    assert seen.path == "/bot123:abc/sendVideo"
    parts = form_parts(seen.headers["content-type"], seen.body)
    assert parts["video"][1:] == ("video/mp4", Path(clip.path).read_bytes())
    got = {k: parts[k][2].decode() for k in ("width", "height", "duration", "supports_streaming")}
    assert got == {"width": "1280", "height": "720", "duration": "8", "supports_streaming": "true"}
    assert parts["caption"][2] == b"Go"


def test_telegram_album_mixes_photos_and_videos(stub, tmp_path):
    stub.responder = lambda seen: Reply(200, {"ok": True, "result": [{"message_id": 8}]})
    publisher = TelegramPublisher(channel("telegram", "123:abc", api=stub.url, chat_id=-100))
    still, clip = image(tmp_path, "p"), video(tmp_path)
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Both"), still, clip))))
    (seen,) = stub.requests
    assert seen.path == "/bot123:abc/sendMediaGroup"
    parts = form_parts(seen.headers["content-type"], seen.body)
    media = json.loads(parts["media"][2])
    assert [(m["type"], m["media"]) for m in media] == [
        ("photo", "attach://photo0"),
        ("video", "attach://video1"),
    ]
    assert media[1]["width"] == 640 and media[1]["duration"] == 3
    assert parts["video1"][2] == Path(clip.path).read_bytes()


def test_mastodon_waits_for_a_video_to_be_processed(stub, tmp_path, monkeypatch):
    monkeypatch.setattr(mastodon_module, "MEDIA_POLL_SECONDS", 0.0)
    MastodonPublisher._limits[stub.url] = (500, 23)
    stub.queue = [
        Reply(202, {"id": "88", "type": "video", "url": None}),
        Reply(206, {"id": "88", "type": "video", "url": None}),
        Reply(206, {"id": "88", "type": "video", "url": None}),
        Reply(200, {"id": "88", "type": "video", "url": "https://files.example/88.mp4"}),
        Reply(200, {"id": "9002", "url": "https://social.example/@a/9002", "content": "x"}),
    ]
    publisher = MastodonPublisher(channel("mastodon", "tok", instance=stub.url))
    clip = video(tmp_path, alt="The start, from the bank")
    result = run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Go"), clip))))
    upload = stub.requests[0]
    parts = form_parts(upload.headers["content-type"], upload.body)
    assert parts["file"][1:] == ("video/mp4", Path(clip.path).read_bytes())
    assert parts["description"][2].decode() == "The start, from the bank"
    assert [r.path for r in stub.requests[1:4]] == ["/api/v1/media/88"] * 3
    assert stub.requests[4].json()["media_ids"] == ["88"]
    assert result.remote_id == "9002"


def test_threads_video_container_names_the_public_url_and_waits(stub, tmp_path):
    from scheduler.publishers.threads import ThreadsPublisher

    answers = iter(
        [
            Reply(200, {"config": {"quota_total": 250}, "data": [{"quota_usage": 0}]}),
            Reply(200, {"id": "c2"}),
            Reply(200, {"status": "IN_PROGRESS", "id": "c2"}),
            Reply(200, {"status": "FINISHED", "id": "c2"}),
            Reply(200, {"id": "m2"}),
            Reply(200, {"permalink": "https://threads.example/p/m2", "id": "m2"}),
        ]
    )
    stub.responder = lambda seen: next(answers)
    publisher = ThreadsPublisher(
        channel(
            "threads", "tok", api=stub.url, media_base_url="https://media.example", poll_interval=0
        )
    )
    clip = dataclasses.replace(video(tmp_path, alt="The start"), url=None)
    item = dataclasses.replace(
        clip, url=f"https://media.example/{clip.sha256[:2]}/{clip.sha256}.mp4"
    )
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Start"), item))))
    container = next(r for r in stub.requests if r.path.endswith("/threads") and r.method == "POST")
    form = container.form()
    assert (form["media_type"], form["video_url"], form["alt_text"]) == (
        "VIDEO",
        item.url,
        "The start",
    )
    assert "image_url" not in form
    polls = [r for r in stub.requests if r.method == "GET" and r.path.endswith("/c2")]
    assert len(polls) == 2  # IN_PROGRESS, then FINISHED before threads_publish
