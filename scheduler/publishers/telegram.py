"""Telegram Bot API adapter: sendMessage to a channel, group or chat.

Channel setup:
- options: `chat_id` (an integer id or `@channelusername`; the bot must be an
  admin of a channel), `parse_mode` (`HTML` by default, `MarkdownV2`, or none),
  `disable_link_preview`, `disable_notification`, `message_thread_id` (a forum
  topic), `thread`, `api` (default https://api.telegram.org; a local Bot API
  server also works).
- secret: the bot token from @BotFather. It goes in the URL path, so every
  request lists it for redaction.

Posts are plain text: with a parse mode the text is escaped for it, so what the
reader sees is exactly the text, and its length is counted in code points as
Telegram counts it after parsing (4096).

Media: one image goes out with sendPhoto (multipart upload, at most 10 MB),
one video with sendVideo (MP4, at most 50 MB: "Bots can currently send video
files of up to 50 MB", Bot API sendVideo; with its width, height, duration
and supports_streaming), two to ten, photos and videos mixed, as an album
with sendMediaGroup (`attach://` names in `media`),
the post's first part as the (first photo's) caption (at most 1024 characters after parsing;
a longer first part is refused before sending). Telegram shows no alt text.
(telegram-test-api, the local test server, has neither sendPhoto nor sendVideo;
the tests use a small server of their own for them.)

Telegram has no idempotency and no way for a bot to list what it sent, so a lost
answer is an unknown outcome and `reconcile` cannot settle it.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar, Literal

import httpx
from pydantic import ConfigDict

from scheduler.compose.length import code_points
from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers.base import (
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
from scheduler.publishers.sending import json_body, multipart

MAX_TEXT = 4096
MAX_CAPTION = 1024
_MARKDOWN_V2_SPECIAL = set("_*[]()~`>#+-=|{}.!\\")


def escape_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_markdown_v2(text: str) -> str:
    return "".join("\\" + ch if ch in _MARKDOWN_V2_SPECIAL else ch for ch in text)


def classify(response: httpx.Response) -> None:
    body = json_body(response)
    if response.status_code < 300 and body.get("ok", True):
        return
    code = body.get("error_code") or response.status_code
    description = body.get("description") or response.reason_phrase or "no description"
    parameters = body.get("parameters") or {}
    message = f"Telegram {code}: {description}"
    if parameters.get("migrate_to_chat_id"):
        raise PermanentError(
            f"{message} (the group is now supergroup {parameters['migrate_to_chat_id']}: "
            "set the channel's chat_id to it)",
            status_code=response.status_code,
        )
    if code == 429 or response.status_code == 429 or response.status_code >= 500:
        wait = first(seconds(parameters.get("retry_after")), header_retry_after(response))
        raise RetryableError(message, status_code=response.status_code, retry_after=wait)
    raise PermanentError(message, status_code=response.status_code)


class TelegramPublisher(Publisher):
    platform: ClassVar[str] = "telegram"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=10,
        max_image_bytes=10 * 1024 * 1024,
        video_types=frozenset({"video/mp4"}),
        max_video_bytes=50 * 1024 * 1024,
        max_videos=10,
        mix_video=True,
        alt_limit=None,
    )
    display_name: ClassVar[str] = "Telegram"
    secret_label: ClassVar[str] = "bot token"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        chat_id: int | str
        parse_mode: Literal["HTML", "MarkdownV2"] | None = "HTML"
        disable_link_preview: bool = False
        disable_notification: bool = False
        message_thread_id: int | None = None
        thread: bool = False
        api: str = "https://api.telegram.org"

    def measure(self, text: str) -> list[Measure]:
        return [Measure("code points", code_points(text), MAX_TEXT)]

    def formatted(self, text: str) -> str:
        """The text escaped for the parse mode, so it displays exactly as written."""
        if self.options.parse_mode == "HTML":
            return escape_html(text)
        if self.options.parse_mode == "MarkdownV2":
            return escape_markdown_v2(text)
        return text

    def _url(self, method: str) -> tuple[str, tuple[str, ...]]:
        token = self.channel.secret or "<bot token>"
        secrets = (self.channel.secret,) if self.channel.secret else ()
        return f"{self.options.api.rstrip('/')}/bot{token}/{method}", secrets

    def message_request(self, text: str, reply_to: int | str | None) -> PreparedRequest:
        body: dict[str, Any] = {"chat_id": self.options.chat_id, "text": self.formatted(text)}
        if self.options.parse_mode:
            body["parse_mode"] = self.options.parse_mode
        if self.options.disable_link_preview:
            body["link_preview_options"] = {"is_disabled": True}
        if self.options.disable_notification:
            body["disable_notification"] = True
        if self.options.message_thread_id is not None:
            body["message_thread_id"] = self.options.message_thread_id
        if reply_to is not None:
            body["reply_parameters"] = {"message_id": reply_to}
        url, secrets = self._url("sendMessage")
        return PreparedRequest("POST", url, json=body, secrets=secrets)

    @staticmethod
    def _video_fields(item: MediaItem) -> dict[str, Any]:
        """What Telegram is told of a video besides its bytes: its sides and
        length (read when queued) and that it can be played while loading."""
        fields: dict[str, Any] = {"supports_streaming": True}
        if item.width and item.height:
            fields |= {"width": item.width, "height": item.height}
        if item.seconds:
            fields["duration"] = max(1, round(item.seconds))
        return fields

    def photo_request(self, item: MediaItem, caption: str) -> PreparedRequest:
        """sendPhoto, or sendVideo for a video: one file with the caption."""
        fields = {"chat_id": str(self.options.chat_id), "caption": self.formatted(caption)}
        if self.options.parse_mode:
            fields["parse_mode"] = self.options.parse_mode
        if self.options.disable_notification:
            fields["disable_notification"] = "true"
        if self.options.message_thread_id is not None:
            fields["message_thread_id"] = str(self.options.message_thread_id)
        video = item.kind == "video"
        if video:
            fields |= {
                k: str(v).lower() if isinstance(v, bool) else str(v)
                for k, v in self._video_fields(item).items()
            }
        url, secrets = self._url("sendVideo" if video else "sendPhoto")
        name = f"{item.sha256[:16]}.{item.extension}"
        field = "video" if video else "photo"
        return multipart(
            url, fields=fields, files=[(field, name, item.read(), item.mime)], secrets=secrets
        )

    def album_request(self, items: tuple[MediaItem, ...], caption: str) -> PreparedRequest:
        """sendMediaGroup: photos and videos in one album, each `attach://`
        naming its part of the form."""
        media: list[dict[str, Any]] = []
        files = []
        for i, item in enumerate(items):
            kind = "video" if item.kind == "video" else "photo"
            entry: dict[str, Any] = {"type": kind, "media": f"attach://{kind}{i}"}
            if kind == "video":
                entry |= self._video_fields(item)
            if i == 0:
                entry["caption"] = self.formatted(caption)
                if self.options.parse_mode:
                    entry["parse_mode"] = self.options.parse_mode
            media.append(entry)
            name = f"{item.sha256[:16]}.{item.extension}"
            files.append((f"{kind}{i}", name, item.read(), item.mime))
        fields = {"chat_id": str(self.options.chat_id), "media": json.dumps(media)}
        if self.options.disable_notification:
            fields["disable_notification"] = "true"
        if self.options.message_thread_id is not None:
            fields["message_thread_id"] = str(self.options.message_thread_id)
        url, secrets = self._url("sendMediaGroup")
        return multipart(url, fields=fields, files=files, secrets=secrets)

    def _request(self, post: OutgoingPost, index: int, reply_to: Any) -> PreparedRequest:
        """Part `index`: the photo with its caption first, then plain messages."""
        text = post.texts[index]
        if index == 0 and post.media:
            if code_points(text) > MAX_CAPTION:
                raise PermanentError(
                    f"too long for a Telegram media caption: {code_points(text)} code points "
                    f"> {MAX_CAPTION}"
                )
            if len(post.media) > 1:
                return self.album_request(post.media, text)
            return self.photo_request(post.media[0], text)
        return self.message_request(text, reply_to)

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        return [
            self._request(post, i, f"<message_id of part {i}>" if i else None)
            for i in range(len(post.texts))
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        message = json_body(response).get("result") or {}
        if isinstance(message, list):  # an album: its first message stands for it
            message = message[0] if message else {}
        message_id = message.get("message_id")
        chat = message.get("chat") or {}
        url = None
        if chat.get("username") and message_id is not None:
            url = f"https://t.me/{chat['username']}/{message_id}"
        return SendResult(
            remote_id=str(message_id) if message_id is not None else None,
            remote_url=url,
            detail={"chat_id": chat.get("id")},
        )

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        results: list[SendResult] = []
        for index in range(len(post.texts)):
            reply_to = int(results[-1].remote_id) if results else None
            request = self._request(post, index, reply_to)
            response = await send_classified(client, request, idempotent=False, classify=classify)
            results.append(self.parse_response(response))
        return SendResult.thread(results)

    async def _call(self, client: httpx.AsyncClient, method: str, **body: Any) -> Any:
        url, secrets = self._url(method)
        request = PreparedRequest("POST", url, json=body, secrets=secrets)
        response = await send_classified(client, request, idempotent=True, classify=classify)
        return json_body(response).get("result") or {}

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        self.require_secret()
        bot = await self._call(client, "getMe")
        chat = await self._call(client, "getChat", chat_id=self.options.chat_id)
        return {
            "bot": bot.get("username"),
            "bot_id": bot.get("id"),
            "chat_id": chat.get("id"),
            "chat": chat.get("title") or chat.get("username") or chat.get("first_name"),
            "chat_type": chat.get("type"),
        }

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        raise PermanentError(
            "Telegram bots cannot list the messages they sent; look in the chat, then "
            "mark the post sent or retry it"
        )
