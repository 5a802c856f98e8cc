"""Slack adapter: an incoming webhook, or a bot token with the Web API.

Channel setup:
- options: `unfurl_links`, `unfurl_media`, `mrkdwn`, `max_length` (4000), `thread`;
  `channel_id` (a conversation id such as C0123456789) switches to the bot
  token, and `api` (default https://slack.com/api) moves the Web API (tests).
- secret: the webhook URL, https://hooks.slack.com/services/T.../B.../...; the
  path after /services/ is hidden in previews and logs. With `channel_id`:
  the bot token (xoxb-..., scopes chat:write and files:write), sent as a
  Bearer header and hidden likewise.

Slack answers a webhook with the plain-text body `ok` and no message ts, so the
parts of a thread are posted one after another as separate messages (threading
needs a bot token and chat.postMessage). Text is escaped the Slack way: only
`&`, `<` and `>`. Webhooks have no idempotency and no read-back: a lost answer
is an unknown outcome that `reconcile` cannot settle.

Media, webhook: an incoming webhook cannot take an upload. An image goes in
as a Block Kit `image` block (`image_url`, `alt_text` up to 2000 characters)
after a `section` block with the text, so Slack fetches it from the channel's
`media_base_url` (where the media folder is served publicly; Block Kit takes
an `image_url` of at most 3000 characters); without that option a post with
media is refused when queued. An image block shows no video, so a webhook
channel refuses video when it is queued.

Bot token (`channel_id`): text goes with chat.postMessage (JSON `channel`,
`text`), whose answer has the message `ts`, so later parts are real thread
replies (`thread_ts`). Files go up with Slack's external upload flow, no
public URL needed (docs.slack.dev, files.getUploadURLExternal and
files.completeUploadExternal):
1. files.getUploadURLExternal (form: `filename`, `length` in bytes, `alt_txt`;
   "alt_txt_too_large": at most 1000 characters) answers `upload_url` and
   `file_id`;
2. the bytes are POSTed to `upload_url` (raw bytes or multipart; HTTP 200
   means received);
3. files.completeUploadExternal (form: `files` as JSON `[{id, title}]`,
   `channel_id`, `initial_comment` = the first part's text) shares the files
   in one message with the text. Its answer names the files; the message ts,
   when Slack has filled in `shares` already, lets later parts thread under it,
   else they follow as plain messages.
Steps 1 and 2 publish nothing (an unshared upload stays private to the bot)
and repeat on a retry; step 3 posts and is never resent blindly. Images and
videos up to 1 GB (Slack's file limit), ten per message. Web API errors come
as HTTP 200 with `{"ok": false, "error": ...}`: `ratelimited` (HTTP 429,
Retry-After) and the server-side strings retry, `invalid_auth`,
`not_authed`, `token_revoked` and `account_inactive` are a refused
credential, the rest permanent.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict

from scheduler.compose.length import code_points
from scheduler.errors import CredentialRejected, PermanentError, RetryableError
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
from scheduler.publishers.ratelimit import header_retry_after
from scheduler.publishers.sending import json_body

# Strings Slack answers when the webhook itself is fine but the payload is not.
_PAYLOAD_ERRORS = ("no_text", "invalid_payload", "missing_text_or_fallback_or_attachments")
# Web API `error` strings that mean the token, not the request, is refused.
_TOKEN_ERRORS = {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
# ... and those where Slack itself failed: try again later.
_SERVER_ERRORS = {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}

WEBHOOK_RULES = MediaRules(
    max_items=1,
    max_image_bytes=50 * 1024 * 1024,
    alt_limit=2000,
    needs_url=True,
    no_video=(
        "a Slack incoming webhook shows images from a URL only, no video; "
        "set -o channel_id=C… and a bot token to upload video"
    ),
)
BOT_RULES = MediaRules(
    max_items=10,
    max_image_bytes=1024 * 1024 * 1024,
    video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
    max_video_bytes=1024 * 1024 * 1024,
    max_videos=10,
    mix_video=True,
    alt_limit=1000,
)


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def classify(response: httpx.Response) -> None:
    status = response.status_code
    body = " ".join(response.text.split())[:300] or response.reason_phrase
    if status < 300:
        return
    if status == 429 or status >= 500:
        raise RetryableError(
            f"HTTP {status}: {body}", status_code=status, retry_after=header_retry_after(response)
        )
    raise PermanentError(f"HTTP {status}: {body}", status_code=status)


def classify_api(response: httpx.Response) -> None:
    """A Web API answer: HTTP 200 carries `ok`; `ok: false` says why in `error`."""
    if response.status_code == 429 or response.status_code >= 500:
        raise RetryableError(
            f"Slack HTTP {response.status_code}",
            status_code=response.status_code,
            retry_after=header_retry_after(response),
        )
    body = json_body(response)
    if response.status_code < 300 and body.get("ok"):
        return
    error = str(body.get("error") or response.text.strip()[:200] or response.status_code)
    message = f"Slack: {error}"
    if error == "ratelimited":
        raise RetryableError(message, retry_after=header_retry_after(response))
    if error in _SERVER_ERRORS:
        raise RetryableError(message, status_code=response.status_code)
    if error in _TOKEN_ERRORS or response.status_code == 401:
        raise CredentialRejected(message, status_code=response.status_code)
    raise PermanentError(message, status_code=response.status_code)


def classify_upload(response: httpx.Response) -> None:
    """The upload URL answers plain text; only the status counts."""
    status = response.status_code
    if status < 300:
        return
    text = " ".join(response.text.split())[:200]
    if status == 429 or status >= 500:
        raise RetryableError(f"Slack upload HTTP {status}: {text}", status_code=status)
    raise PermanentError(f"Slack upload HTTP {status}: {text}", status_code=status)


class SlackPublisher(Publisher):
    platform: ClassVar[str] = "slack"
    display_name: ClassVar[str] = "Slack"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        unfurl_links: bool = True
        unfurl_media: bool = True
        mrkdwn: bool = True
        max_length: int = 4000
        thread: bool = False
        channel_id: str | None = None
        api: str = "https://slack.com/api"

    @property
    def bot(self) -> bool:
        return bool(self.options.channel_id)

    @property
    def media_rules(self) -> MediaRules:  # type: ignore[override]
        """A bot token uploads files; a webhook can only point at a public URL."""
        return BOT_RULES if self.bot else WEBHOOK_RULES

    @property
    def secret_label(self) -> str:  # type: ignore[override]
        return "bot token" if self.bot else "webhook URL"

    def measure(self, text: str) -> list[Measure]:
        # Slack's cut applies to the text as sent, escapes included.
        return [Measure("characters", code_points(escape(text)), self.options.max_length)]

    def _webhook(self) -> tuple[str, tuple[str, ...]]:
        url = (self.channel.secret or "").strip()
        if not url or url == REDACTED:  # previews get a placeholder, never the URL
            return "https://hooks.slack.com/services/<webhook>", ()
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https"):
            raise PermanentError("Slack secret must be the incoming-webhook URL")
        hidden = parsed.path.split("/services/", 1)[-1].strip("/")
        return url, (hidden,) if hidden else (url,)

    def message_request(self, text: str, media: tuple[MediaItem, ...] = ()) -> PreparedRequest:
        url, secrets = self._webhook()
        body: dict[str, Any] = {
            "text": escape(text),
            "unfurl_links": self.options.unfurl_links,
            "unfurl_media": self.options.unfurl_media,
        }
        if not self.options.mrkdwn:
            body["mrkdwn"] = False
        if media:
            kind = "mrkdwn" if self.options.mrkdwn else "plain_text"
            blocks: list[dict[str, Any]] = [
                {"type": "section", "text": {"type": kind, "text": body["text"]}}
            ]
            for item in media:
                if not item.url:
                    raise PermanentError(
                        "Slack webhooks fetch images from a public URL: set the channel option "
                        "media_base_url"
                    )
                blocks.append(
                    {"type": "image", "image_url": item.url, "alt_text": item.alt or "image"}
                )
            body["blocks"] = blocks
        return PreparedRequest("POST", url, json=body, secrets=secrets)

    # -- bot token: the Web API ------------------------------------------------------
    def _api_request(
        self, method: str, *, json_body: Any = None, form: dict[str, str] | None = None
    ) -> PreparedRequest:
        token = (self.channel.secret or "").strip()
        shown = token if token and token != REDACTED else "<bot token>"
        headers = {"Authorization": f"Bearer {shown}"}
        secrets = (token,) if token and token != REDACTED else ()
        url = f"{self.options.api.rstrip('/')}/{method}"
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = str(httpx.QueryParams(form)).encode()
            return PreparedRequest("POST", url, headers, content=body, secrets=secrets)
        headers["Content-Type"] = "application/json; charset=utf-8"
        return PreparedRequest("POST", url, headers, json=json_body, secrets=secrets)

    def post_message_request(self, text: str, thread_ts: str | None = None) -> PreparedRequest:
        body: dict[str, Any] = {
            "channel": self.options.channel_id,
            "text": escape(text),
            "unfurl_links": self.options.unfurl_links,
            "unfurl_media": self.options.unfurl_media,
        }
        if not self.options.mrkdwn:
            body["mrkdwn"] = False
        if thread_ts:
            body["thread_ts"] = thread_ts
        return self._api_request("chat.postMessage", json_body=body)

    @staticmethod
    def _filename(item: MediaItem) -> str:
        return f"{item.sha256[:16]}.{item.extension}"

    def upload_url_request(self, item: MediaItem) -> PreparedRequest:
        form = {"filename": self._filename(item), "length": str(item.size)}
        if item.alt:
            form["alt_txt"] = item.alt
        return self._api_request("files.getUploadURLExternal", form=form)

    @staticmethod
    def upload_bytes_request(upload_url: str, item: MediaItem) -> PreparedRequest:
        # The upload URL is itself the credential for this one file; it is not logged.
        data = item.read()
        return PreparedRequest(
            "POST",
            upload_url,
            {"Content-Type": "application/octet-stream"},
            content=data,
            secrets=(upload_url,) if upload_url.startswith("http") else (),
            note=f"{item.mime}, {len(data)} bytes, sha256 {item.sha256[:12]}",
        )

    def complete_request(self, file_ids: list[str], text: str) -> PreparedRequest:
        files = [
            {"id": file_id, "title": f"attachment {n}"} for n, file_id in enumerate(file_ids, 1)
        ]
        form = {
            "files": json.dumps(files),
            "channel_id": str(self.options.channel_id),
            "initial_comment": escape(text),
        }
        return self._api_request("files.completeUploadExternal", form=form)

    async def _upload(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        """Steps 1 and 2 of the external upload: the file's id, shared nowhere yet."""
        answer = json_body(
            await send_classified(
                client, self.upload_url_request(item), idempotent=True, classify=classify_api
            )
        )
        upload_url, file_id = answer.get("upload_url"), answer.get("file_id")
        if not upload_url or not file_id:
            raise PermanentError("Slack files.getUploadURLExternal answered without upload_url")
        await send_classified(
            client,
            self.upload_bytes_request(str(upload_url), item),
            idempotent=True,
            classify=classify_upload,
        )
        return str(file_id)

    @staticmethod
    def _shared_ts(answer: dict[str, Any], channel_id: str) -> str | None:
        for file in answer.get("files") or []:
            shares = (file or {}).get("shares") or {}
            for where in ("public", "private"):
                for share in (shares.get(where) or {}).get(channel_id) or []:
                    if share.get("ts"):
                        return str(share["ts"])
        return None

    async def _publish_bot(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        """The first part with its files (or alone), later parts as replies
        in its thread when its ts is known."""
        channel_id = str(self.options.channel_id)
        first, *rest = post.texts
        if post.media:
            file_ids = [await self._upload(client, item) for item in post.media]
            request = self.complete_request(file_ids, first)
        else:
            request = self.post_message_request(first)
        answer = json_body(
            await send_classified(client, request, idempotent=False, classify=classify_api)
        )
        first_ts = self._shared_ts(answer, channel_id) if post.media else answer.get("ts")
        first_ts = str(first_ts) if first_ts else None
        for text in rest:
            await send_classified(
                client,
                self.post_message_request(text, first_ts),
                idempotent=False,
                classify=classify_api,
            )
        return SendResult(
            remote_id=first_ts, detail={"parts": len(post.texts), "channel": channel_id}
        )

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        if self.bot:
            requests: list[PreparedRequest] = []
            if post.media:
                for n, item in enumerate(post.media, 1):
                    requests.append(self.upload_url_request(item))
                    requests.append(self.upload_bytes_request(f"<upload_url {n}>", item))
                ids = [f"<file_id {n}>" for n in range(1, len(post.media) + 1)]
                requests.append(self.complete_request(ids, post.texts[0]))
            rest = post.texts[1:] if post.media else post.texts
            for i, text in enumerate(rest):
                first = bool(post.media) or i > 0
                requests.append(
                    self.post_message_request(text, "<ts of part 1>" if first else None)
                )
            return requests
        return [
            self.message_request(text, post.media if i == 0 else ())
            for i, text in enumerate(post.texts)
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        return SendResult(detail={"answer": response.text.strip()[:100]})

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        if self.bot:
            return await self._publish_bot(client, post)
        for index, text in enumerate(post.texts):
            request = self.message_request(text, post.media if index == 0 else ())
            await send_classified(client, request, idempotent=False, classify=classify)
        return SendResult(detail={"parts": len(post.texts)})

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """Post an empty payload: a live webhook refuses it as `no_text` or
        `invalid_payload` without posting anything; a revoked one answers
        `no_service`, `channel_not_found` and the like. With a bot token:
        auth.test, which names the workspace and the bot."""
        if self.bot:
            if not (self.channel.secret or "").strip():
                raise PermanentError("Slack channel has no bot token (secret not set)")
            answer = json_body(
                await send_classified(
                    client,
                    self._api_request("auth.test", json_body={}),
                    idempotent=True,
                    classify=classify_api,
                )
            )
            return {
                "team": answer.get("team"),
                "bot": answer.get("user"),
                "channel": self.options.channel_id,
            }
        url, secrets = self._webhook()
        if not secrets:
            raise PermanentError("Slack channel has no webhook URL (secret not set)")
        request = PreparedRequest("POST", url, json={}, secrets=secrets)
        try:
            response = await client.send(request.to_httpx())
        except httpx.HTTPError as exc:
            raise PermanentError(f"cannot reach Slack: {request.hide(str(exc))}") from None
        answer = response.text.strip()
        if response.status_code == 400 and answer in _PAYLOAD_ERRORS:
            team = httpx.URL(url).path.split("/services/", 1)[-1].split("/", 1)[0]
            return {"webhook": "live", "team": team or None}
        raise PermanentError(f"Slack webhook refused: HTTP {response.status_code}: {answer}")

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        raise PermanentError(
            "Slack webhooks return no message id and cannot list messages; look in the "
            "channel, then mark the post sent or retry it"
        )
