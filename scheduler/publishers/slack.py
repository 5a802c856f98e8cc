"""Slack incoming-webhook adapter.

Channel setup:
- options: `unfurl_links`, `unfurl_media`, `mrkdwn`, `max_length` (4000), `thread`.
- secret: the webhook URL, https://hooks.slack.com/services/T.../B.../...; the
  path after /services/ is hidden in previews and logs.

Slack answers a webhook with the plain-text body `ok` and no message ts, so the
parts of a thread are posted one after another as separate messages (threading
needs a bot token and chat.postMessage). Text is escaped the Slack way: only
`&`, `<` and `>`. Webhooks have no idempotency and no read-back: a lost answer
is an unknown outcome that `reconcile` cannot settle.

Media: an incoming webhook cannot take an upload. An image goes in as a Block
Kit `image` block (`image_url`, `alt_text` up to 2000 characters) after a
`section` block with the text, so Slack fetches it from the channel's
`media_base_url` (where the media folder is served publicly; Block Kit takes
an `image_url` of at most 3000 characters); without that
option a post with media is refused when queued. (Slack's external upload flow,
files.getUploadURLExternal + files.completeUploadExternal, needs a bot token and
is not used by this webhook adapter.)
"""

from __future__ import annotations

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
from scheduler.publishers.ratelimit import header_retry_after

# Strings Slack answers when the webhook itself is fine but the payload is not.
_PAYLOAD_ERRORS = ("no_text", "invalid_payload", "missing_text_or_fallback_or_attachments")


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


class SlackPublisher(Publisher):
    platform: ClassVar[str] = "slack"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=1, max_image_bytes=50 * 1024 * 1024, alt_limit=2000, needs_url=True
    )
    display_name: ClassVar[str] = "Slack"
    secret_label: ClassVar[str] = "webhook URL"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        unfurl_links: bool = True
        unfurl_media: bool = True
        mrkdwn: bool = True
        max_length: int = 4000
        thread: bool = False

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

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        return [
            self.message_request(text, post.media if i == 0 else ())
            for i, text in enumerate(post.texts)
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        return SendResult(detail={"answer": response.text.strip()[:100]})

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        for index, text in enumerate(post.texts):
            request = self.message_request(text, post.media if index == 0 else ())
            await send_classified(client, request, idempotent=False, classify=classify)
        return SendResult(detail={"parts": len(post.texts)})

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """Post an empty payload: a live webhook refuses it as `no_text` or
        `invalid_payload` without posting anything; a revoked one answers
        `no_service`, `channel_not_found` and the like."""
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
