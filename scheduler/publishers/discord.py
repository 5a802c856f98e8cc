"""Discord webhook adapter: execute webhook with `wait=true`.

Channel setup:
- options: `username`, `avatar_url` (override the webhook's), `thread_id` (post
  into an existing thread), `thread_name` (forum/media channels: start a thread),
  `allow_mentions` (off by default: nobody is pinged), `suppress_embeds`,
  `thread`.
- secret: the webhook URL, https://discord.com/api/webhooks/{id}/{token}. The
  token part is hidden in previews and logs.

`wait=true` makes Discord answer with the saved message (and report a failure
that would otherwise be silent). Webhooks cannot reply, so a thread's parts are
posted one after another: into `thread_id`, or, when `thread_name` starts a new
forum thread, the later parts go into the thread the first one created.
Media: up to ten files on the first part, sent as multipart/form-data with
the message in `payload_json` and each file as `files[n]`, named in
`attachments` with its alt text as `description` (at most 1024 characters:
the attachment request structure of Discord's message reference, "description
(alt text) for the file (max 1024 characters)"). Each `attachments[i].id`
must equal the `n` of its `files[n]` part. A video is an attachment like an
image (Discord plays MP4, WebM and MOV inline), with its alt text too.
Webhook uploads are at most 10 MiB per file unless the server is boosted.
Webhooks have no idempotency and cannot list messages: a lost answer is an
unknown outcome that `reconcile` cannot settle.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict

from scheduler.compose.length import code_points
from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers.base import (
    REDACTED,
    Measure,
    MediaItem,
    MediaOptions,
    MediaRules,
    OutgoingPost,
    PreparedRequest,
    Publisher,
    SendResult,
    send_classified,
)
from scheduler.publishers.ratelimit import first, header_retry_after, seconds
from scheduler.publishers.sending import by_status, json_body, multipart

MAX_CONTENT = 2000
SUPPRESS_EMBEDS = 1 << 2
UNKNOWN_WEBHOOK = 10015


def classify(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    body = json_body(response)
    message = body.get("message")
    if body.get("code") is not None and message:
        message = f"{message} (code {body['code']})"
    if body.get("code") == UNKNOWN_WEBHOOK:
        # Repeated 404s get the client restricted: never retry a deleted webhook.
        raise PermanentError(
            f"HTTP {response.status_code}: {message}; the webhook was deleted, "
            "disable this channel",
            status_code=response.status_code,
        )
    if response.status_code == 429:
        wait = first(
            seconds(body.get("retry_after")),
            header_retry_after(response),
            seconds(response.headers.get("x-ratelimit-reset-after")),
        )
        scope = response.headers.get("x-ratelimit-scope")
        text = f"HTTP 429: {message or 'rate limited'}" + (f" (scope {scope})" if scope else "")
        raise RetryableError(text, status_code=429, retry_after=wait)
    raise by_status(response, message)


class DiscordPublisher(Publisher):
    platform: ClassVar[str] = "discord"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=10,
        max_image_bytes=10 * 1024 * 1024,
        video_types=frozenset({"video/mp4", "video/webm", "video/quicktime"}),
        max_video_bytes=10 * 1024 * 1024,
        max_videos=10,
        mix_video=True,
        alt_limit=1024,
    )
    display_name: ClassVar[str] = "Discord"
    secret_label: ClassVar[str] = "webhook URL"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        username: str | None = None
        avatar_url: str | None = None
        thread_id: str | None = None
        thread_name: str | None = None
        allow_mentions: bool = False
        suppress_embeds: bool = False
        thread: bool = False

    def measure(self, text: str) -> list[Measure]:
        return [Measure("code points", code_points(text), MAX_CONTENT)]

    def _webhook(self) -> tuple[str, tuple[str, ...]]:
        url = (self.channel.secret or "").strip()
        if not url or url == REDACTED:  # previews get a placeholder, never the URL
            return "https://discord.com/api/webhooks/<id>/<token>", ()
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or "/webhooks/" not in parsed.path:
            raise PermanentError(
                "Discord secret must be the webhook URL (.../api/webhooks/ID/TOKEN)"
            )
        token = parsed.path.rstrip("/").rsplit("/", 1)[-1]
        return str(parsed.copy_with(query=None)).rstrip("/"), (token,)

    def message_request(
        self,
        text: str,
        *,
        first_part: bool,
        thread_id: str | None,
        media: tuple[MediaItem, ...] = (),
    ):
        url, secrets = self._webhook()
        params = {"wait": "true"}
        if thread_id:
            params["thread_id"] = thread_id
        body: dict[str, Any] = {"content": text}
        if self.options.username:
            body["username"] = self.options.username
        if self.options.avatar_url:
            body["avatar_url"] = self.options.avatar_url
        if not self.options.allow_mentions:
            body["allowed_mentions"] = {"parse": []}
        if self.options.suppress_embeds:
            body["flags"] = SUPPRESS_EMBEDS
        if first_part and self.options.thread_name and not thread_id:
            body["thread_name"] = self.options.thread_name
        if media:
            names = [f"{m.sha256[:16]}.{m.extension}" for m in media]
            body["attachments"] = [
                {"id": i, "filename": name, "description": m.alt}
                for i, (m, name) in enumerate(zip(media, names, strict=True))
            ]
            return multipart(
                f"{url}?{httpx.QueryParams(params)}",
                fields={"payload_json": json.dumps(body, ensure_ascii=False)},
                files=[
                    (f"files[{i}]", name, m.read(), m.mime)
                    for i, (m, name) in enumerate(zip(media, names, strict=True))
                ],
                secrets=secrets,
            )
        return PreparedRequest(
            "POST", f"{url}?{httpx.QueryParams(params)}", json=body, secrets=secrets
        )

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        requests = []
        for i, text in enumerate(post.texts):
            thread_id = self.options.thread_id
            if i and not thread_id and self.options.thread_name:
                thread_id = "<thread created by part 1>"
            media = post.media if i == 0 else ()
            requests.append(
                self.message_request(text, first_part=i == 0, thread_id=thread_id, media=media)
            )
        return requests

    def parse_response(self, response: httpx.Response) -> SendResult:
        data = json_body(response)
        message_id = data.get("id")
        url = None
        if data.get("guild_id") and data.get("channel_id") and message_id:
            url = (
                f"https://discord.com/channels/{data['guild_id']}/{data['channel_id']}/{message_id}"
            )
        return SendResult(
            remote_id=str(message_id) if message_id else None,
            remote_url=url,
            detail={"channel_id": data.get("channel_id")},
        )

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        results: list[SendResult] = []
        thread_id = self.options.thread_id
        for index, text in enumerate(post.texts):
            media = post.media if index == 0 else ()
            request = self.message_request(
                text, first_part=index == 0, thread_id=thread_id, media=media
            )
            response = await send_classified(client, request, idempotent=False, classify=classify)
            result = self.parse_response(response)
            if index == 0 and not thread_id and self.options.thread_name:
                # The first message started a forum thread: its channel is the thread.
                thread_id = result.detail.get("channel_id")
            results.append(result)
        return SendResult.thread(results, channel_id=results[0].detail.get("channel_id"))

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        url, secrets = self._webhook()
        if not secrets:
            raise PermanentError("Discord channel has no webhook URL (secret not set)")
        request = PreparedRequest("GET", url, secrets=secrets)
        data = json_body(await send_classified(client, request, idempotent=True, classify=classify))
        return {
            "webhook": data.get("name"),
            "id": data.get("id"),
            "channel_id": data.get("channel_id"),
            "guild_id": data.get("guild_id"),
        }

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        raise PermanentError(
            "Discord webhooks cannot list messages; look in the channel, then mark the "
            "post sent or retry it"
        )
