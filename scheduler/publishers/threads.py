"""Threads (Meta) adapter: a media container, then threads_publish.

Channel setup:
- options: `user_id` (the Threads user id, default `me`), `api` (default
  https://graph.threads.net/v1.0), `reply_control`, `thread`, and how to wait for
  a container: `poll_interval` / `poll_timeout` seconds.
- secret: a long-lived Threads user access token (60 days; refresh it with
  th_refresh_token before it expires) with threads_basic and
  threads_content_publish (threads_manage_replies for threads); or none, after
  `scheduler channels connect NAME`, which stores the long-lived token
  encrypted; accounts/ refreshes it well before its 60 days (`auth_base` moves
  the OAuth endpoints, for tests).

Length: 500 characters where an emoji costs its UTF-8 byte length, and at most
5 distinct links.

Before publishing, the 24-hour quotas (250 posts, 1000 replies) are read from
threads_publishing_limit; a spent quota is a retry an hour later, so a thread is
not cut off halfway.

Media: one image as an IMAGE container (`image_url`, `alt_text`), or one
video as a VIDEO container (`video_url`, `alt_text`); the container's status
is polled until FINISHED either way, which for a video is Meta's transcoding.
Threads takes no upload: Meta downloads the file from a public URL, so the channel
needs `media_base_url`, the public address where the media folder
(`SCHEDULER_MEDIA_DIR`) is served, e.g. synced to a bucket or served by nginx;
the file's URL is `{media_base_url}/{sha256[:2]}/{sha256}.{ext}`. Without it
a post with media is refused when it is planned or queued. Images are JPEG or
PNG up to 8 MB (Threads API docs, "Posts", media specifications); `alt_text`
applies to image and video containers only ("Accessibility"); neither that
page nor "Posts" states a length for it (looked up again for this adapter), so
1000 characters is kept as a cautious bound. Videos: MP4 or MOV, at most
1 GB, 300 s and 1920 px across [3P: Ayrshare's Threads media guidelines,
which match Meta's "video specifications"].

Threads has no idempotency key. Creating a container publishes nothing, so that
step is safe to repeat; only threads_publish is not. When its answer is lost, the
container's status says whether it went out (PUBLISHED) or may be published
again (FINISHED). After a crash `reconcile` looks among the account's recent
posts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, ClassVar, Literal
from urllib.parse import quote_plus

import httpx
import regex
from pydantic import ConfigDict

from scheduler.compose.length import threads_length, unique_urls
from scheduler.errors import (
    CredentialRejected,
    PermanentError,
    PublishError,
    RetryableError,
    UnknownOutcomeError,
)
from scheduler.publishers.base import (
    Measure,
    MediaItem,
    MediaOptions,
    MediaRules,
    OutgoingPost,
    PreparedRequest,
    Publisher,
    SendResult,
)
from scheduler.publishers.ratelimit import header_retry_after
from scheduler.publishers.sending import by_status, json_body

MAX_CHARS = 500
PLACEHOLDER = "<access token>"
MAX_LINKS = 5
_SPACE = regex.compile(r"\s+")
# Graph API error codes (developers.facebook.com/docs/graph-api/guides/error-handling).
_TEMPORARY = {1, 2}
_THROTTLED = {4, 17, 32, 341, 613}
_TOKEN = 190
_POLICY_BLOCK = 368


def classify(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    error = json_body(response).get("error") or {}
    code = error.get("code")
    message = error.get("error_user_msg") or error.get("message")
    if code is not None and message:
        message = f"{message} (code {code})"
    status = response.status_code
    if code in _TEMPORARY or code in _THROTTLED:
        raise RetryableError(
            f"HTTP {status}: {message}",
            status_code=status,
            retry_after=header_retry_after(response),
        )
    if code == _POLICY_BLOCK:
        raise RetryableError(f"HTTP {status}: {message}", status_code=status, retry_after=3600)
    if code == _TOKEN or status == 401:
        raise CredentialRejected(
            f"HTTP {status}: {message}; refresh or re-authorise the token", status_code=status
        )
    raise by_status(response, message, wait=header_retry_after(response))


class ThreadsPublisher(Publisher):
    platform: ClassVar[str] = "threads"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=1,
        image_types=frozenset({"image/jpeg", "image/png"}),
        max_image_bytes=8 * 1024 * 1024,
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_video_bytes=1024 * 1024 * 1024,
        max_video_seconds=300,
        max_video_side=1920,
        alt_limit=1000,
        needs_url=True,
    )
    display_name: ClassVar[str] = "Threads"
    secret_label: ClassVar[str] = "access token"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        user_id: str = "me"
        api: str = "https://graph.threads.net/v1.0"
        auth_base: str | None = None
        reply_control: (
            Literal[
                "everyone",
                "accounts_you_follow",
                "mentioned_only",
                "parent_post_author_only",
                "followers_only",
            ]
            | None
        ) = None
        thread: bool = False
        poll_interval: float = 5.0
        poll_timeout: float = 300.0

    def __init__(self, channel) -> None:
        super().__init__(channel)
        self._api = self.options.api.rstrip("/")

    def measure(self, text: str) -> list[Measure]:
        return [
            Measure("characters (emoji as UTF-8 bytes)", threads_length(text), MAX_CHARS),
            Measure("distinct links", unique_urls(text), MAX_LINKS),
        ]

    # -- requests -------------------------------------------------------------------
    def _form(self, method: str, path: str, params: dict[str, Any]) -> PreparedRequest:
        token = self.bearer() or PLACEHOLDER
        fields = {k: str(v) for k, v in params.items() if v is not None}
        fields["access_token"] = token
        secrets = (token,) if self.bearer() else ()
        return PreparedRequest(
            method,
            f"{self._api}{path}",
            {"Content-Type": "application/x-www-form-urlencoded"},
            content=str(httpx.QueryParams(fields)).encode(),
            secrets=secrets,
        )

    def _get_request(self, path: str, **params: Any) -> PreparedRequest:
        token = self.bearer() or PLACEHOLDER
        query = httpx.QueryParams({**params, "access_token": token})
        secrets = (token,) if self.bearer() else ()
        return PreparedRequest("GET", f"{self._api}{path}?{query}", secrets=secrets)

    def container_request(
        self, text: str, reply_to: str | None, image: MediaItem | None = None
    ) -> PreparedRequest:
        params = {
            "media_type": ("VIDEO" if image.kind == "video" else "IMAGE") if image else "TEXT",
            "text": text,
            "reply_to_id": reply_to,
            "reply_control": self.options.reply_control,
        }
        if image is not None:
            if not image.url:
                raise PermanentError(
                    "Threads fetches media from a public URL: set the channel option media_base_url"
                )
            params["video_url" if image.kind == "video" else "image_url"] = image.url
            if image.alt:
                params["alt_text"] = image.alt
        return self._form("POST", f"/{self.options.user_id}/threads", params)

    def publish_request(self, container_id: str) -> PreparedRequest:
        return self._form(
            "POST", f"/{self.options.user_id}/threads_publish", {"creation_id": container_id}
        )

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        requests = []
        for i, text in enumerate(post.texts):
            image = post.media[0] if post.media and i == 0 else None
            requests.append(self.container_request(text, f"<id of part {i}>" if i else None, image))
            requests.append(self.publish_request(f"<container of part {i + 1}>"))
        return requests

    def parse_response(self, response: httpx.Response) -> SendResult:
        data = json_body(response)
        return SendResult(remote_id=str(data["id"]) if data.get("id") else None)

    # -- network ------------------------------------------------------------------
    async def _send(self, client, request: PreparedRequest, *, idempotent: bool) -> dict:
        response = await self.send_authorised(
            client, lambda: self._retoken(request), idempotent=idempotent, classify=classify
        )
        return json_body(response)

    def _retoken(self, request: PreparedRequest) -> PreparedRequest:
        """`request` carrying the current token: the token travels in the URL or
        the form, and a connected channel's token may be refreshed meanwhile."""
        token = self.bearer()
        used = request.secrets[0] if request.secrets else PLACEHOLDER
        if not token or used == token:
            return request
        old, new = quote_plus(used), quote_plus(token)
        content = request.content.replace(old.encode(), new.encode()) if request.content else None
        return PreparedRequest(
            request.method,
            request.url.replace(old, new),
            dict(request.headers),
            content=content,
            secrets=(token,),
        )

    async def _status(self, client: httpx.AsyncClient, container_id: str) -> dict[str, Any]:
        return await self._send(
            client,
            self._get_request(f"/{container_id}", fields="status,error_message"),
            idempotent=True,
        )

    async def _wait_ready(self, client: httpx.AsyncClient, container_id: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.options.poll_timeout
        while True:
            data = await self._status(client, container_id)
            status = data.get("status")
            if status == "FINISHED":
                return
            if status in ("ERROR", "EXPIRED"):
                why = data.get("error_message") or status
                raise PermanentError(f"Threads container {container_id} failed: {why}")
            if status == "PUBLISHED":
                raise PermanentError(f"Threads container {container_id} is already published")
            if loop.time() >= deadline:
                raise RetryableError(f"Threads container {container_id} still {status}")
            await asyncio.sleep(self.options.poll_interval)

    async def _publish_part(
        self,
        client: httpx.AsyncClient,
        text: str,
        reply_to: str | None,
        due_at: dt.datetime,
        image: MediaItem | None = None,
    ) -> str:
        # Publishing nothing, a container may be created again safely.
        created = await self._send(
            client, self.container_request(text, reply_to, image), idempotent=True
        )
        container_id = str(created["id"])
        await self._wait_ready(client, container_id)
        try:
            published = await self._send(
                client, self.publish_request(container_id), idempotent=False
            )
        except (UnknownOutcomeError, RetryableError) as exc:
            try:
                status = (await self._status(client, container_id)).get("status")
            except PublishError:
                raise exc from None
            if status == "FINISHED":
                # It did not go out; publishing the same container again is safe.
                published = await self._send(
                    client, self.publish_request(container_id), idempotent=False
                )
            elif status == "PUBLISHED":
                found = await self._find(client, text, due_at)
                if found is None:
                    raise UnknownOutcomeError(
                        f"Threads container {container_id} was published but its post was not found"
                    ) from None
                return found["id"]
            else:
                raise
        return str(published["id"])

    async def _quota(self, client: httpx.AsyncClient) -> dict[str, Any]:
        data = await self._send(
            client,
            self._get_request(
                f"/{self.options.user_id}/threads_publishing_limit",
                fields="quota_usage,config,reply_quota_usage,reply_config",
            ),
            idempotent=True,
        )
        rows = data.get("data") or [{}]
        return rows[0] if isinstance(rows[0], dict) else {}

    async def _check_quota(self, client: httpx.AsyncClient, replies: int) -> None:
        """Meta asks schedulers to keep under the 24-hour publishing quota
        themselves; wait rather than have threads_publish refuse half a thread."""
        try:
            usage = await self._quota(client)
        except PublishError:
            return  # the quota is advisory here; threads_publish still enforces it
        checks = [
            (usage.get("quota_usage"), (usage.get("config") or {}), 1, "posts"),
            (usage.get("reply_quota_usage"), (usage.get("reply_config") or {}), replies, "replies"),
        ]
        for used, config, needed, what in checks:
            total = config.get("quota_total")
            if not needed or not isinstance(used, int) or not isinstance(total, int):
                continue
            if used + needed > total:
                window = config.get("quota_duration") or 86400
                raise RetryableError(
                    f"Threads quota reached: {used} of {total} {what} in the last "
                    f"{window // 3600} h",
                    retry_after=3600.0,
                )

    async def _permalink(self, client: httpx.AsyncClient, media_id: str) -> str | None:
        try:
            data = await self._send(
                client, self._get_request(f"/{media_id}", fields="permalink"), idempotent=True
            )
        except PublishError:
            return None  # the post is out; a missing link is not worth failing for
        return data.get("permalink")

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        await self._check_quota(client, replies=len(post.texts) - 1)
        ids: list[str] = []
        for index, text in enumerate(post.texts):
            image = post.media[0] if post.media and index == 0 else None
            ids.append(
                await self._publish_part(client, text, ids[-1] if ids else None, post.due_at, image)
            )
        url = await self._permalink(client, ids[0])
        return SendResult(remote_id=ids[0], remote_url=url, detail={"ids": ids})

    async def _recent(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        data = await self._send(
            client,
            self._get_request(
                f"/{self.options.user_id}/threads",
                fields="id,text,permalink,timestamp",
                limit=25,
            ),
            idempotent=True,
        )
        return list(data.get("data") or [])

    async def _find(
        self, client: httpx.AsyncClient, text: str, due_at: dt.datetime
    ) -> dict[str, Any] | None:
        since = due_at - dt.timedelta(minutes=10)
        want = _SPACE.sub(" ", text).strip()
        for item in await self._recent(client):
            if _SPACE.sub(" ", item.get("text") or "").strip() == want and _at(item) >= since:
                return {"id": str(item["id"]), "permalink": item.get("permalink")}
        return None

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        me = await self._send(
            client,
            self._get_request(f"/{self.options.user_id}", fields="id,username,name"),
            idempotent=True,
        )
        info: dict[str, Any] = {
            "id": me.get("id"),
            "username": me.get("username"),
            "name": me.get("name"),
        }
        try:
            usage = await self._quota(client)
            info["posts_last_24h"] = usage.get("quota_usage")
            info["quota"] = (usage.get("config") or {}).get("quota_total")
        except PublishError:
            pass
        return info

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """The first part among the account's recent posts (matched by text, no
        earlier than 10 minutes before it was due). Replies are not listed there,
        so for a thread only the first part can be confirmed."""
        found = await self._find(client, post.texts[0], post.due_at)
        if found is None:
            return None
        if len(post.texts) > 1:
            raise PermanentError(
                f"the first part of this thread is on Threads ({found['permalink'] or found['id']})"
                "; check the replies before retrying"
            )
        return SendResult(remote_id=found["id"], remote_url=found["permalink"])


def _at(item: dict[str, Any]) -> dt.datetime:
    raw = str(item.get("timestamp") or "")
    try:
        # Graph API timestamps look like 2026-11-25T15:00:00+0000.
        moment = dt.datetime.strptime(raw, "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            moment = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return dt.datetime.max.replace(tzinfo=dt.UTC)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
