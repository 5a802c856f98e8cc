"""Mastodon adapter (and its forks): statuses with the Idempotency-Key header.

Channel setup:
- options: `instance` (base URL, e.g. https://mastodon.social), `visibility`,
  `language`, `spoiler_text` (content warning), `sensitive`, `thread`, and
  `max_characters` only for an instance that does not report its limit.
- secret: a user access token with the `write:statuses` scope (Bearer). Tokens do
  not expire. Or none: `scheduler channels connect NAME` registers an app on
  the instance, runs the OAuth flow and stores the token encrypted.

Length is counted as Mastodon does: graphemes of content warning + text, every
http(s) URL as the instance's `characters_reserved_per_url`, `@user@domain` as
`@user`; the limit is read from GET /api/v2/instance and cached per instance.

Media: up to four images or one video on the first part (MP4, MOV or WebM,
up to 99 MB by default). Each file goes up
with POST /api/v2/media (multipart `file` and `description`, the alt text,
which Mastodon shows on videos too); a 202 with `url: null` means the server
is still processing it (always so for a video), so the adapter polls
GET /api/v1/media/:id, 206 while processing, until it answers 200 before the status names it in
`media_ids` (attaching unprocessed media is a 422). Uploads are made on each
attempt; an unused upload is harmless, and the status itself keeps its key.
The token needs `write:media` as well.

Exactly once: every part carries an Idempotency-Key derived from the post's key
(part 1 the key itself, later parts `key/2`, `key/3`...). Mastodon returns the
original status for a key it saw within the hour, so retries are safe and a
half-sent thread continues under the right parent. The server forgets keys after
an hour, so a retry more than 50 minutes after the due time first looks for the
post among the account's recent statuses.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
from typing import Any, ClassVar, Literal

import httpx
import regex
from pydantic import ConfigDict, field_validator

from scheduler.compose.length import mastodon_length, replace_urls
from scheduler.errors import PermanentError, PublishError, RetryableError
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
    whole_thread,
)
from scheduler.publishers.ratelimit import first, header_retry_after, until_epoch, until_iso
from scheduler.publishers.sending import by_status, json_body, multipart

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_LENGTH = 23
# Polls of an upload still processing (202), this far apart, before giving up.
MEDIA_POLLS = 30
MEDIA_POLL_SECONDS = 1.0
# Mastodon keeps an Idempotency-Key for an hour; a retry later than this after
# the due time looks for the post first instead of trusting the key.
KEY_TRUST = dt.timedelta(minutes=50)


def classify(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    reset = response.headers.get("x-ratelimit-reset")
    # Mastodon sends ISO 8601; a few servers and mocks send epoch seconds.
    wait = first(until_iso(reset), until_epoch(reset), header_retry_after(response))
    raise by_status(response, wait=wait)


class MastodonPublisher(Publisher):
    platform: ClassVar[str] = "mastodon"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=4,
        max_image_bytes=16 * 1024 * 1024,
        video_types=frozenset({"video/mp4", "video/quicktime", "video/webm"}),
        max_video_bytes=99 * 1024 * 1024,
        alt_limit=1500,
    )
    display_name: ClassVar[str] = "Mastodon"
    secret_label: ClassVar[str] = "access token"
    idempotent: ClassVar[bool] = True
    needs_secret: ClassVar[bool] = True

    #: instance URL -> (max_characters, characters_reserved_per_url)
    _limits: ClassVar[dict[str, tuple[int, int]]] = {}

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        instance: str
        visibility: Literal["public", "unlisted", "private", "direct"] = "public"
        language: str | None = None
        spoiler_text: str | None = None
        sensitive: bool = False
        thread: bool = False
        max_characters: int | None = None

        @field_validator("instance")
        @classmethod
        def _url(cls, value: str) -> str:
            try:
                scheme = httpx.URL(value).scheme
            except httpx.InvalidURL as exc:
                raise ValueError(f"not a usable URL ({exc})") from None
            if scheme not in ("http", "https"):
                raise ValueError("must be the instance's https:// URL")
            return value.rstrip("/")

    @property
    def instance(self) -> str:
        return self.options.instance

    # -- text ---------------------------------------------------------------------
    def limits(self) -> tuple[int, int]:
        """(max characters, characters per URL): read from the instance when
        `prepare` has run, else the channel option, else Mastodon's defaults."""
        cached = self._limits.get(self.instance)
        if cached:
            return cached
        return (self.options.max_characters or DEFAULT_MAX_CHARACTERS, DEFAULT_URL_LENGTH)

    def measure(self, text: str) -> list[Measure]:
        limit, per_url = self.limits()
        count = mastodon_length(
            text, spoiler_text=self.options.spoiler_text or "", url_length=per_url
        )
        return [Measure("characters", count, limit)]

    async def prepare(self, client: httpx.AsyncClient, post: OutgoingPost | None = None) -> None:
        """Read the instance's text limits (once per process and instance)."""
        if self.instance in self._limits:
            return
        request = PreparedRequest("GET", f"{self.instance}/api/v2/instance")
        try:
            response = await send_classified(client, request, idempotent=True, classify=classify)
        except PublishError:
            return  # keep the defaults; the server still enforces its own limit
        statuses = (json_body(response).get("configuration") or {}).get("statuses") or {}
        limit = statuses.get("max_characters")
        per_url = statuses.get("characters_reserved_per_url")
        if isinstance(limit, int) and limit > 0:
            self._limits[self.instance] = (
                limit,
                per_url if isinstance(per_url, int) and per_url >= 0 else DEFAULT_URL_LENGTH,
            )

    # -- requests -------------------------------------------------------------------
    def _headers(self) -> tuple[dict[str, str], tuple[str, ...]]:
        token = self.bearer() or ""
        return {"Authorization": f"Bearer {token}"}, (token,) if token else ()

    @staticmethod
    def part_key(post: OutgoingPost, index: int) -> str:
        return post.idempotency_key if index == 0 else f"{post.idempotency_key}/{index + 1}"

    def upload_request(self, item: MediaItem) -> PreparedRequest:
        headers, secrets = self._headers()
        return multipart(
            f"{self.instance}/api/v2/media",
            fields={"description": item.alt} if item.alt else {},
            files=[("file", f"{item.sha256[:16]}.{item.extension}", item.read(), item.mime)],
            headers=headers,
            secrets=secrets,
        )

    async def upload(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        """Upload one file and wait until the server has processed it; its id."""
        response = await self.send_authorised(
            client, lambda: self.upload_request(item), idempotent=True, classify=classify
        )
        data = json_body(response)
        media_id = str(data.get("id") or "")
        if not media_id:
            raise PermanentError("Mastodon media upload answered without an id")
        polls = 0
        # 202 after the upload, 206 from the check: still processing.
        while response.status_code in (202, 206):
            polls += 1
            if polls > MEDIA_POLLS:
                raise RetryableError(f"Mastodon is still processing media {media_id}")
            await asyncio.sleep(MEDIA_POLL_SECONDS)
            headers, secrets = self._headers()
            check = PreparedRequest(
                "GET", f"{self.instance}/api/v1/media/{media_id}", headers, secrets=secrets
            )
            response = await send_classified(client, check, idempotent=True, classify=classify)
        return media_id

    def status_request(
        self,
        post: OutgoingPost,
        index: int,
        in_reply_to_id: str | None,
        media_ids: list[str] | None = None,
    ) -> PreparedRequest:
        headers, secrets = self._headers()
        headers["Idempotency-Key"] = self.part_key(post, index)
        body: dict[str, Any] = {"status": post.texts[index], "visibility": self.options.visibility}
        if media_ids:
            body["media_ids"] = media_ids
        if in_reply_to_id:
            body["in_reply_to_id"] = in_reply_to_id
        if self.options.language:
            body["language"] = self.options.language
        if self.options.spoiler_text:
            body["spoiler_text"] = self.options.spoiler_text
        if self.options.sensitive:
            body["sensitive"] = True
        return PreparedRequest(
            "POST", f"{self.instance}/api/v1/statuses", headers, json=body, secrets=secrets
        )

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        uploads = [self.upload_request(item) for item in post.media]
        placeholders = [f"<id of upload {i + 1}>" for i in range(len(uploads))]
        return uploads + [
            self.status_request(
                post, i, f"<id of part {i}>" if i else None, placeholders if i == 0 else None
            )
            for i in range(len(post.texts))
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        data = json_body(response)
        if "scheduled_at" in data and "content" not in data:
            # A ScheduledStatus: the server holds it; it has no public URL yet.
            return SendResult(
                remote_id=str(data.get("id")), detail={"scheduled_at": data["scheduled_at"]}
            )
        return SendResult(remote_id=str(data.get("id")), remote_url=data.get("url"))

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        await self.prepare(client)
        for text in post.texts:
            (m,) = self.measure(text)
            if not m.ok:
                too_long = f"{m.count} {m.unit} > {m.limit}"
                raise PermanentError(f"too long for {self.instance}: {too_long}")
        if post.attempt > 1 and dt.datetime.now(dt.UTC) - post.due_at > KEY_TRUST:
            landed = await self.reconcile(client, post)
            if landed is not None:
                return landed
        media_ids = [await self.upload(client, item) for item in post.media]
        results: list[SendResult] = []
        for index in range(len(post.texts)):
            parent = results[-1].remote_id if results else None
            first_media = media_ids if index == 0 else None
            response = await self.send_authorised(
                client,
                lambda: self.status_request(post, index, parent, first_media),  # noqa: B023 - called at once
                idempotent=True,
                classify=classify,
            )
            results.append(self.parse_response(response))
        return SendResult.thread(results)

    async def _get(self, client: httpx.AsyncClient, path: str, **params: Any) -> Any:
        query = f"?{httpx.QueryParams(params)}" if params else ""

        def request() -> PreparedRequest:
            headers, secrets = self._headers()
            return PreparedRequest(
                "GET", f"{self.instance}{path}{query}", headers=headers, secrets=secrets
            )

        response = await self.send_authorised(client, request, idempotent=True, classify=classify)
        return response.json()

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        await self.prepare(client)
        account = await self._get(client, "/api/v1/accounts/verify_credentials")
        limit, per_url = self.limits()
        return {
            "instance": self.instance,
            "id": account.get("id"),
            "acct": account.get("acct") or account.get("username"),
            "display_name": account.get("display_name"),
            "url": account.get("url"),
            "max_characters": limit,
            "characters_reserved_per_url": per_url,
        }

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """Look for the post among the account's recent statuses (created no
        earlier than 10 minutes before it was due), each part replying to the
        previous one."""
        account = await self._get(client, "/api/v1/accounts/verify_credentials")
        statuses = await self._get(
            client, f"/api/v1/accounts/{account['id']}/statuses", limit=40, exclude_reblogs="true"
        )
        since = post.due_at - dt.timedelta(minutes=10)
        found: list[dict[str, Any]] = []
        for index, text in enumerate(post.texts):
            want = comparable(text)
            match = next(
                (
                    s
                    for s in statuses
                    if comparable(html_to_text(s.get("content") or "")) == want
                    and _created(s) >= since
                    and (index == 0 or str(s.get("in_reply_to_id")) == str(found[-1]["id"]))
                ),
                None,
            )
            if match is None:
                break
            found.append(match)
        if not whole_thread(len(found), post, self.instance):
            return None
        return SendResult(
            remote_id=str(found[0]["id"]),
            remote_url=found[0].get("url"),
            detail={"ids": [str(s["id"]) for s in found], "urls": [s.get("url") for s in found]},
        )


_TAG = regex.compile(r"<[^>]+>")
_BREAK = regex.compile(r"<br\s*/?>|</p>\s*<p[^>]*>", regex.IGNORECASE)
_SPACE = regex.compile(r"\s+")
_REMOTE = regex.compile(r"(@[\w.-]+)@[\w.-]+\.\w+")


def html_to_text(content: str) -> str:
    """Mastodon's HTML `content` back to the text that was posted."""
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", content)))


def comparable(text: str) -> str:
    """Text reduced to what survives Mastodon's rendering: URLs as such, remote
    mentions without their domain, whitespace collapsed."""
    text = replace_urls(text, "<url>")
    text = _REMOTE.sub(lambda m: m.group(1), text)
    return _SPACE.sub(" ", text).strip()


def _created(status: dict[str, Any]) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(status.get("created_at")).replace("Z", "+00:00"))
    except ValueError:
        return dt.datetime.max.replace(tzinfo=dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
