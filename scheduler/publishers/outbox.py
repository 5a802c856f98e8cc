"""Outbox: "publishes" by appending each post to a local JSON Lines file.

For trying the whole path offline (the demo uses it) and for piping posts into
other tools. A key already in the file is not written again, so a retry after a
crash cannot duplicate a line. Media are listed by their stored path, hash and
alt text (the bytes stay in the media folder).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import ConfigDict

from scheduler.compose.length import graphemes
from scheduler.errors import PermanentError
from scheduler.publishers.base import (
    Measure,
    MediaOptions,
    MediaRules,
    OutgoingPost,
    PreparedRequest,
    Publisher,
    SendResult,
)


class OutboxPublisher(Publisher):
    platform: ClassVar[str] = "outbox"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=4, max_image_bytes=50 * 1024 * 1024, alt_limit=2000
    )
    idempotent: ClassVar[bool] = True
    needs_secret: ClassVar[bool] = False

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        path: str = "outbox.jsonl"
        max_length: int = 500

    @property
    def path(self) -> Path:
        return Path(self.options.path).expanduser().resolve()

    def measure(self, text: str) -> list[Measure]:
        return [Measure("graphemes", graphemes(text), self.options.max_length)]

    def record(self, post: OutgoingPost) -> dict[str, Any]:
        record: dict[str, Any] = {
            "key": post.idempotency_key,
            "post_id": post.post_id,
            "channel": self.channel.name,
            "text": post.text,
            "parts": list(post.texts),
            "due_at": post.due_at.astimezone(dt.UTC).isoformat(),
        }
        if post.media:
            record["media"] = [
                {
                    "path": m.path,
                    "sha256": m.sha256,
                    "mime": m.mime,
                    "width": m.width,
                    "height": m.height,
                    "alt": m.alt,
                }
                for m in post.media
            ]
        return record

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        return [PreparedRequest("APPEND", self.path.as_uri(), {}, json=self.record(post))]

    def parse_response(self, response: httpx.Response) -> SendResult:  # pragma: no cover
        raise NotImplementedError("the outbox does not use HTTP")

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        (request,) = self.build_requests(post)
        line = json.dumps(request.json, ensure_ascii=False)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if post.idempotency_key in self._keys():
                return SendResult(remote_id=post.idempotency_key, remote_url=request.url)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise PermanentError(f"cannot write outbox {self.path}: {exc.strerror}") from None
        return SendResult(remote_id=post.idempotency_key, remote_url=request.url)

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        return {"path": str(self.path), "writable": os.access(self.path.parent, os.W_OK)}

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        if post.idempotency_key in self._keys():
            return SendResult(remote_id=post.idempotency_key, remote_url=self.path.as_uri())
        return None

    def _keys(self) -> set[str]:
        if not self.path.exists():
            return set()
        keys = set()
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    keys.add(json.loads(line)["key"])
                except (ValueError, KeyError, TypeError):
                    continue
        return keys
