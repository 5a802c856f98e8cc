"""Media on each adapter, against real peers where one exists: the reference
Bluesky PDS (blobs, image and link-card embeds read back), Prism on Mastodon's
OpenAPI document (the upload and the status naming it), and local servers for
Telegram's sendPhoto (telegram-test-api has no sendPhoto) and Threads' IMAGE
container. A resend never makes a second post; an upload may repeat."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from email import policy
from email.parser import BytesParser
from pathlib import Path

import httpx
import pytest
from PIL import Image

from scheduler.errors import PermanentError
from scheduler.publishers import mastodon as mastodon_module
from scheduler.publishers.base import LinkCard, MediaItem
from scheduler.publishers.bluesky import BlueskyPublisher
from scheduler.publishers.mastodon import MastodonPublisher
from scheduler.publishers.telegram import TelegramPublisher
from scheduler.publishers.threads import ThreadsPublisher

from .conftest import Reply, channel, outgoing, run, with_client
from .peers import Recorder, through


def image(tmp_path: Path, name: str, size=(640, 360), colour=(30, 120, 200), alt="") -> MediaItem:
    path = tmp_path / f"{name}.png"
    Image.new("RGB", size, colour).save(path, format="PNG")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    return MediaItem(
        sha256=digest,
        mime="image/png",
        size=len(data),
        path=str(path),
        alt=alt,
        width=size[0],
        height=size[1],
        url=f"https://media.example/{digest[:2]}/{digest}.png",
    )


def with_media(post, *media, card=None):
    return dataclasses.replace(post, media=tuple(media), card=card)


def form_parts(content_type: str, body: bytes) -> dict[str, tuple[str | None, str, bytes]]:
    message = BytesParser(policy=policy.default).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(),
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


# -- Bluesky, on the reference PDS ------------------------------------------------------


def _blob(pds, cid: str) -> bytes:
    response = httpx.get(
        f"{pds.url}/xrpc/com.atproto.sync.getBlob", params={"did": pds.did, "cid": cid}, timeout=10
    )
    response.raise_for_status()
    return response.content


@pytest.mark.pds
def test_bluesky_images_carry_blob_refs_alt_and_aspect_ratio(pds, tmp_path):
    publisher = BlueskyPublisher(
        channel("bluesky", pds.password, service=pds.url, handle=pds.handle)
    )
    first = image(tmp_path, "a", (1200, 675), alt="A quote card, white on navy")
    second = image(tmp_path, "b", (400, 500), (200, 40, 40), alt="A red square")
    post = with_media(
        outgoing("Two pictures from the regatta", key="media-images-1"), first, second
    )
    result = run(with_client(lambda c: publisher.publish(c, post)))

    record = pds.get_record(result.remote_id)["value"]
    embed = record["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    assert [i["alt"] for i in embed["images"]] == ["A quote card, white on navy", "A red square"]
    assert [i["aspectRatio"] for i in embed["images"]] == [
        {"width": 1200, "height": 675},
        {"width": 400, "height": 500},
    ]
    for item, shown in zip((first, second), embed["images"], strict=True):
        assert shown["image"]["mimeType"] == "image/png"
        assert shown["image"]["size"] == item.size
        assert _blob(pds, shown["image"]["ref"]["$link"]) == Path(item.path).read_bytes()
    # A resend finds the record first: nothing new is posted, nothing re-uploaded.
    before = len(pds.list_records(pds.did))
    again = run(with_client(lambda c: publisher.publish(c, dataclasses.replace(post, attempt=2))))
    assert again.remote_id == result.remote_id
    assert len(pds.list_records(pds.did)) == before


@pytest.mark.pds
def test_bluesky_link_card_is_an_external_embed_with_a_thumbnail(pds, tmp_path):
    publisher = BlueskyPublisher(
        channel("bluesky", pds.password, service=pds.url, handle=pds.handle)
    )
    thumb = image(tmp_path, "thumb", (800, 420), (10, 160, 90))
    card = LinkCard(
        uri="https://riverpost.example/regatta",
        title="Rowers return to the lake",
        description="The spring regatta, in pictures and words.",
        thumb=thumb,
    )
    post = with_media(
        outgoing("Report: https://riverpost.example/regatta", key="card-1"), card=card
    )
    shown = [r.redacted() for r in publisher.build_requests(post)]
    assert shown[0]["url"].endswith("/xrpc/com.atproto.repo.uploadBlob")
    assert shown[0]["body"].startswith("image/png, ")  # named, not dumped as bytes
    result = run(with_client(lambda c: publisher.publish(c, post)))

    external = pds.get_record(result.remote_id)["value"]["embed"]
    assert external["$type"] == "app.bsky.embed.external"
    got = external["external"]
    assert (got["uri"], got["title"], got["description"]) == (
        card.uri,
        card.title,
        card.description,
    )
    assert _blob(pds, got["thumb"]["ref"]["$link"]) == Path(thumb.path).read_bytes()


# -- Mastodon ----------------------------------------------------------------------------


def test_mastodon_upload_and_status_validate_against_the_openapi_document(mastodon_prism, tmp_path):
    """The upload passes the document whole. The status naming the upload
    breaks one rule only, and that one is the document's: it offers a status
    with text (TextStatus) and one with media (MediaStatus) as a `oneOf`, so a
    body with both matches two schemas; Mastodon itself takes both together."""
    mastodon_prism.require_alive()
    MastodonPublisher._limits.pop(mastodon_prism.url, None)
    publisher = MastodonPublisher(channel("mastodon", "tok", instance=mastodon_prism.url))
    item = image(tmp_path, "card", alt="A quote card: “We rowed it” — Mira Kovalenko")
    post = with_media(outgoing("From the regatta", key="media-1"), item)
    recorder = Recorder()
    media_id = run(through(recorder, lambda c: publisher.upload(c, item)))

    recorder.assert_valid()
    (upload,) = recorder.seen
    assert recorder.paths() == ["POST /api/v2/media"] and upload.response.status_code == 200
    parts = form_parts(upload.request.headers["Content-Type"], upload.request.content)
    assert parts["file"][1:] == ("image/png", Path(item.path).read_bytes())
    assert parts["description"][2].decode() == item.alt
    assert media_id == upload.response.json()["id"]

    status = publisher.status_request(post, 0, None, [media_id])
    with httpx.Client(timeout=60) as client:
        answer = client.send(status.to_httpx())
    violations = json.loads(answer.headers.get("sl-violations") or "[]")
    assert [(v["code"], v["location"]) for v in violations] == [("oneOf", ["request", "body"])]
    body = json.loads(status.body_bytes())
    assert body["media_ids"] == [media_id] and body["status"] == "From the regatta"
    assert status.headers["Idempotency-Key"] == "media-1"


def test_mastodon_waits_for_processing_before_naming_the_media(stub, tmp_path, monkeypatch):
    monkeypatch.setattr(mastodon_module, "MEDIA_POLL_SECONDS", 0.01)
    MastodonPublisher._limits[stub.url] = (500, 23)
    stub.queue = [
        Reply(202, {"id": "77", "url": None}),
        Reply(206, {"id": "77", "url": None}),
        Reply(200, {"id": "77", "url": "https://files.example/77.png"}),
        Reply(200, {"id": "9001", "url": "https://social.example/@a/9001", "content": "x"}),
    ]
    publisher = MastodonPublisher(channel("mastodon", "tok", instance=stub.url))
    post = with_media(outgoing("Processing", key="slow-1"), image(tmp_path, "p", alt="x"))
    result = run(with_client(lambda c: publisher.publish(c, post)))
    assert [(r.method, r.path) for r in stub.requests] == [
        ("POST", "/api/v2/media"),
        ("GET", "/api/v1/media/77"),
        ("GET", "/api/v1/media/77"),
        ("POST", "/api/v1/statuses"),
    ]
    assert stub.requests[-1].json()["media_ids"] == ["77"]
    assert result.remote_id == "9001"


def test_a_dry_run_shows_the_upload_without_its_bytes(tmp_path):
    publisher = MastodonPublisher(channel("mastodon", "secret-token", instance="https://s.example"))
    item = image(tmp_path, "d", alt="alt words")
    shown = [r.redacted() for r in publisher.build_requests(with_media(outgoing("Hi"), item))]
    assert [r["url"] for r in shown] == [
        "https://s.example/api/v2/media",
        "https://s.example/api/v1/statuses",
    ]
    assert shown[0]["body"].startswith("multipart form: description='alt words'; file: ")
    assert f"sha256 {item.sha256[:12]}" in shown[0]["body"]
    assert shown[0]["headers"]["Authorization"] == "Bearer ***"
    assert shown[1]["json"]["media_ids"] == ["<id of upload 1>"]
    # The same upload is the same bytes every time (the boundary comes from the content).
    again = publisher.build_requests(with_media(outgoing("Hi"), item))[0]
    assert again.content == publisher.build_requests(with_media(outgoing("Hi"), item))[0].content


def test_a_file_changed_on_disk_is_refused_before_upload(tmp_path):
    item = image(tmp_path, "c", alt="x")
    Path(item.path).write_bytes(b"other bytes")
    publisher = MastodonPublisher(channel("mastodon", "tok", instance="https://s.example"))
    with pytest.raises(PermanentError, match="changed since it was queued"):
        publisher.build_requests(with_media(outgoing("Hi"), item))


# -- Telegram, Threads --------------------------------------------------------------------


def test_telegram_sends_the_photo_with_the_text_as_caption(stub, tmp_path):
    stub.responder = lambda seen: Reply(
        200, {"ok": True, "result": {"message_id": 5, "chat": {"id": -100, "username": "club"}}}
    )
    publisher = TelegramPublisher(
        channel("telegram", "123:abc", api=stub.url, chat_id=-100, disable_notification=True)
    )
    item = image(tmp_path, "t")
    result = run(with_client(lambda c: publisher.publish(c, with_media(outgoing("5 < 6"), item))))
    (seen,) = stub.requests
    assert seen.path == "/bot123:abc/sendPhoto"
    parts = form_parts(seen.headers["content-type"], seen.body)
    assert parts["photo"][1:] == ("image/png", Path(item.path).read_bytes())
    assert parts["caption"][2].decode() == "5 &lt; 6"
    assert parts["parse_mode"][2] == b"HTML" and parts["chat_id"][2] == b"-100"
    assert result.remote_url == "https://t.me/club/5"
    with pytest.raises(PermanentError, match="media caption: 1100 code points > 1024"):
        run(with_client(lambda c: publisher.publish(c, with_media(outgoing("x" * 1100), item))))
    assert len(stub.requests) == 1


def test_threads_image_container_names_the_public_url_and_alt_text(stub, tmp_path):
    answers = iter(
        [
            Reply(200, {"config": {"quota_total": 250}, "data": [{"quota_usage": 0}]}),
            Reply(200, {"id": "c1"}),
            Reply(200, {"status": "FINISHED", "id": "c1"}),
            Reply(200, {"id": "m1"}),
            Reply(200, {"permalink": "https://threads.example/p/m1", "id": "m1"}),
        ]
    )
    stub.responder = lambda seen: next(answers)
    publisher = ThreadsPublisher(
        channel(
            "threads",
            "tok",
            api=stub.url,
            media_base_url="https://media.example",
            poll_interval=0.01,
        )
    )
    item = image(tmp_path, "th", alt="Rowers at dawn")
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Dawn"), item))))
    container = next(r for r in stub.requests if r.path.endswith("/threads") and r.method == "POST")
    form = container.form()
    assert form["media_type"] == "IMAGE"
    assert form["image_url"] == f"https://media.example/{item.sha256[:2]}/{item.sha256}.png"
    assert form["alt_text"] == "Rowers at dawn"


# -- Discord, Slack, webhook, X: local servers --------------------------------------------


def test_discord_sends_files_with_payload_json_and_descriptions(stub, tmp_path):
    from scheduler.publishers.discord import DiscordPublisher

    stub.responder = lambda seen: Reply(200, {"id": "9", "channel_id": "3", "guild_id": "1"})
    publisher = DiscordPublisher(channel("discord", f"{stub.url}/api/webhooks/1/tok"))
    first, second = image(tmp_path, "a", alt="First"), image(tmp_path, "b", (300, 300), alt="2nd")
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Two"), first, second))))
    (seen,) = stub.requests
    assert seen.path == "/api/webhooks/1/tok" and seen.query["wait"] == ["true"]
    parts = form_parts(seen.headers["content-type"], seen.body)
    payload = json.loads(parts["payload_json"][2])
    assert payload["content"] == "Two"
    assert [(a["id"], a["description"]) for a in payload["attachments"]] == [
        (0, "First"),
        (1, "2nd"),
    ]
    assert parts["files[0]"][0] == payload["attachments"][0]["filename"]
    assert parts["files[1]"][2] == Path(second.path).read_bytes()


def test_slack_webhook_shows_the_image_from_its_public_url(stub, tmp_path):
    from scheduler.publishers.slack import SlackPublisher

    stub.responder = lambda seen: Reply(200, "ok")
    publisher = SlackPublisher(
        channel("slack", f"{stub.url}/services/T/B/x", media_base_url="https://media.example/")
    )
    item = image(tmp_path, "s", alt="Rowers & boats")
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("A < B"), item))))
    body = stub.requests[0].json()
    assert body["blocks"] == [
        {"type": "section", "text": {"type": "mrkdwn", "text": "A &lt; B"}},
        {"type": "image", "image_url": item.url, "alt_text": "Rowers & boats"},
    ]


def test_webhook_carries_the_bytes_or_the_url(stub, tmp_path):
    import base64

    from scheduler.publishers.webhook import WebhookPublisher

    stub.responder = lambda seen: Reply(200, {"id": "r1"})
    item = image(tmp_path, "w", alt="A card")
    inline = dataclasses.replace(item, url=None)
    publisher = WebhookPublisher(channel("webhook", None, url=f"{stub.url}/hook"))
    shown = publisher.build_requests(with_media(outgoing("Hi"), inline))[0].redacted()
    assert f'"data": "<{item.size} bytes>"' in shown["body"]
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Hi"), inline))))
    (sent,) = stub.requests[0].json()["media"]
    assert base64.b64decode(sent["data"]) == Path(item.path).read_bytes()
    assert (sent["sha256"], sent["alt"], sent["width"]) == (item.sha256, "A card", 640)
    run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Hi"), item))))
    (by_url,) = stub.requests[1].json()["media"]
    assert by_url["url"] == item.url and "data" not in by_url


def test_x_uploads_sets_alt_text_then_names_the_media(stub, tmp_path):
    import base64

    from scheduler.publishers.x import XPublisher

    stub.queue = [
        Reply(200, {"data": {"id": "1880", "media_key": "3_1880"}}),
        Reply(200, {"data": {"id": "1880"}}),
        Reply(201, {"data": {"id": "555", "text": "Race"}}),
    ]
    publisher = XPublisher(channel("x", "user-token", api=stub.url))
    item = image(tmp_path, "x", alt="A quote card")
    result = run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Race"), item))))
    upload, alt, tweet = stub.requests
    assert (upload.path, alt.path, tweet.path) == (
        "/2/media/upload",
        "/2/media/metadata",
        "/2/tweets",
    )
    assert base64.b64decode(upload.json()["media"]) == Path(item.path).read_bytes()
    assert upload.json()["media_category"] == "tweet_image"
    assert alt.json() == {"id": "1880", "metadata": {"alt_text": {"text": "A quote card"}}}
    assert tweet.json() == {"text": "Race", "media": {"media_ids": ["1880"]}}
    assert result.remote_id == "555"


def test_telegram_sends_several_images_as_one_album(stub, tmp_path):
    stub.responder = lambda seen: Reply(
        200, {"ok": True, "result": [{"message_id": 8, "chat": {"id": -100}}, {"message_id": 9}]}
    )
    publisher = TelegramPublisher(channel("telegram", "123:abc", api=stub.url, chat_id=-100))
    first, second = image(tmp_path, "a"), image(tmp_path, "b", colour=(1, 2, 3))
    post = with_media(outgoing("Both <crews>"), first, second)
    result = run(with_client(lambda c: publisher.publish(c, post)))
    (seen,) = stub.requests
    assert seen.path == "/bot123:abc/sendMediaGroup"
    parts = form_parts(seen.headers["content-type"], seen.body)
    assert json.loads(parts["media"][2]) == [
        {
            "type": "photo",
            "media": "attach://photo0",
            "caption": "Both &lt;crews&gt;",
            "parse_mode": "HTML",
        },
        {"type": "photo", "media": "attach://photo1"},
    ]
    assert parts["photo1"][2] == Path(second.path).read_bytes()
    assert result.remote_id == "8"


def test_linkedin_initializes_puts_the_bytes_then_names_the_image(stub, tmp_path):
    from scheduler.publishers.linkedin import LinkedInPublisher

    stub.queue = [
        Reply(200, {"value": {"uploadUrl": f"{stub.url}/upload/abc", "image": "urn:li:image:C1"}}),
        Reply(201, None),
        Reply(201, None, headers={"x-restli-id": "urn:li:share:77"}),
    ]
    publisher = LinkedInPublisher(
        channel("linkedin", "tok", api=stub.url, author="urn:li:person:abc")
    )
    item = image(tmp_path, "li", alt="Crews at the start")
    result = run(with_client(lambda c: publisher.publish(c, with_media(outgoing("Go"), item))))
    init, put, create = stub.requests
    assert (init.path, init.query["action"]) == ("/rest/images", ["initializeUpload"])
    assert init.json() == {"initializeUploadRequest": {"owner": "urn:li:person:abc"}}
    assert (put.method, put.path, put.body) == ("PUT", "/upload/abc", Path(item.path).read_bytes())
    assert put.headers["authorization"] == "Bearer tok"
    assert create.json()["content"] == {
        "media": {"id": "urn:li:image:C1", "altText": "Crews at the start"}
    }
    assert result.remote_id == "urn:li:share:77"
