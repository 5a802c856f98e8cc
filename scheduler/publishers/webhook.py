"""Generic JSON webhook: POSTs each post to a URL the user controls.

Follows Standard Webhooks: `webhook-id` (the post's idempotency key, the same on
every retry) and, when the channel has a secret, an HMAC-SHA256
`webhook-signature` over the exact bytes sent. `Idempotency-Key` carries the
same key for receivers that follow the IETF draft instead. Media go in `media`:
hash, type, size, dimensions, alt text, and the public `url` (channel option
`media_base_url`) or else the bytes in base64 (`data`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict, field_validator

from scheduler.compose.length import graphemes
from scheduler.errors import PermanentError
from scheduler.publishers.base import (
    Measure,
    MediaItem,
    MediaOptions,
    MediaRules,
    OutgoingPost,
    PreparedRequest,
    Publisher,
    SendResult,
    error_message,
)


class WebhookPublisher(Publisher):
    platform: ClassVar[str] = "webhook"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=4, max_image_bytes=5 * 1024 * 1024, alt_limit=2000
    )
    idempotent: ClassVar[bool] = True
    needs_secret: ClassVar[bool] = False

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        url: str
        max_length: int = 10_000

        @field_validator("url")
        @classmethod
        def _http_only(cls, value: str) -> str:
            try:
                scheme = httpx.URL(value).scheme
            except httpx.InvalidURL as exc:
                raise ValueError(f"not a usable URL ({exc})") from None
            if scheme not in ("http", "https"):
                raise ValueError("must be an http:// or https:// URL")
            return value

    def measure(self, text: str) -> list[Measure]:
        return [Measure("graphemes", graphemes(text), self.options.max_length)]

    def payload(self, post: OutgoingPost, inline: bool = True) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "type": "post.publish",
            "post_id": post.post_id,
            "channel": self.channel.name,
            "text": post.text,
            "parts": list(post.texts),
            "link": post.link,
            "due_at": post.due_at.astimezone(dt.UTC).isoformat(),
        }
        if post.media:
            payload["media"] = [_media(m, inline) for m in post.media]
        return payload

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        body = json.dumps(self.payload(post), ensure_ascii=False, separators=(",", ":")).encode()
        # Inline bytes are named in previews, not printed.
        note = (
            json.dumps(self.payload(post, inline=False), ensure_ascii=False)
            if any(m.url is None for m in post.media)
            else None
        )
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": post.idempotency_key,
            "webhook-id": post.idempotency_key,
            "webhook-timestamp": timestamp,
        }
        secrets: tuple[str, ...] = ()
        if self.channel.secret:
            signature = sign(self.channel.secret, post.idempotency_key, timestamp, body)
            headers["webhook-signature"] = signature
            secrets = (signature.removeprefix("v1,"),)
        return [
            PreparedRequest(
                "POST", self.options.url, headers, content=body, secrets=secrets, note=note
            )
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        remote_id = None
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("id") is not None:
            remote_id = str(data["id"])
        return SendResult(remote_id=remote_id, detail={"status": response.status_code})

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        from scheduler.publishers.base import send_classified

        (request,) = self.build_requests(post)
        response = await send_classified(client, request, idempotent=self.idempotent)
        if 300 <= response.status_code < 400:
            # Standard Webhooks: a redirect is a failure and is not followed.
            raise PermanentError(
                f"HTTP {response.status_code}: webhook redirected; not followed",
                status_code=response.status_code,
            )
        return self.parse_response(response)

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        try:
            response = await client.request("HEAD", self.options.url)
        except httpx.HTTPError as exc:
            raise PermanentError(f"cannot reach {self.options.url}: {exc}") from None
        if response.status_code in (405, 501):
            # Many receivers take POST only; a HEAD refused as a method still
            # shows the receiver is there (a test POST would publish).
            return {"url": self.options.url, "status": response.status_code, "note": "POST only"}
        if response.status_code >= 500:
            raise PermanentError(f"HTTP {response.status_code}: {error_message(response)}")
        return {"url": self.options.url, "status": response.status_code}


def sign(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks v1 signature: base64 HMAC-SHA256 of `id.timestamp.body`."""
    key = (
        base64.b64decode(secret.removeprefix("whsec_"))
        if secret.startswith("whsec_")
        else secret.encode()
    )
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def _media(item: MediaItem, inline: bool) -> dict[str, Any]:
    """One attachment: its public URL when the channel has `media_base_url`,
    else its bytes in base64 (`data`)."""
    shown: dict[str, Any] = {
        "sha256": item.sha256,
        "mime": item.mime,
        "size": item.size,
        "width": item.width,
        "height": item.height,
        "alt": item.alt,
    }
    if item.url:
        shown["url"] = item.url
    else:
        shown["data"] = base64.b64encode(item.read()).decode() if inline else f"<{item.size} bytes>"
    return shown
