"""X (Twitter) API v2 adapter: POST /2/tweets, threads as replies.

Channel setup:
- options: `api` (default https://api.x.com), `max_length` (280; longer for
  accounts X allows more), `thread`, `reply_settings`.
- secret, one of:
  - OAuth 1.0a user context (recommended for a scheduler: these keys do not
    expire): JSON `{"consumer_key": "...", "consumer_secret": "...",
    "access_token": "...", "access_token_secret": "..."}`;
  - an OAuth 2.0 user access token (with tweet.write, tweet.read, users.read) as
    the bare string. Such tokens last 2 hours and are not refreshed, so they
    suit tests and short runs only;
  - or none: `scheduler channels connect NAME` (OAuth 2.0 with PKCE) stores the
    tokens encrypted and accounts/ refreshes them (a 401 is refreshed once).
    Option `auth_base` points the authorisation endpoints elsewhere (tests).

Length is X's weighted count (twitter-text v3 via `twitter-text-parser`).

Media: up to four images, or one video, on the first part. An image up to
5 MB goes up with the simple upload, POST /2/media/upload (base64 `media` in
JSON, `media_category` tweet_image), its alt text with POST /2/media/metadata
(`alt_text`, at most 1000 characters; X takes alt text on images and GIFs,
not videos, so a video's alt text is a warning when queued). A video (MP4 or
MOV, at most 512 MB; 140 s and 1280 px per side [3P: Ayrshare's X media
guidelines, after X's media best practices]) goes up in chunks: POST
/2/media/upload/initialize (`media_type`, `total_bytes`, `media_category`
tweet_video) answers the media id; POST /2/media/upload/{id}/append once per
chunk of 4 MiB in order (multipart `media` and `segment_index` from 0); POST
/2/media/upload/{id}/finalize; and while its answer carries
`processing_info`, GET /2/media/upload?command=STATUS&media_id={id} after
`check_after_secs` until the state is `succeeded` (`failed` is permanent;
x-api/media/quickstart/media-upload-chunked). The post names the ids in
`media.media_ids`. The token needs `media.write`. Every upload step goes
through `send_authorised`, so a connected channel's refused token is
refreshed once there too. Uploads repeat on a retry (a new media id each
time, the old one expires unused); only the post itself must not.

X has no idempotency key. A timeout after the request left is an unknown
outcome, never resent blindly; `reconcile` (and a duplicate-content 403 on a
resend) looks for the text among the account's own recent posts.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import html
import json
from collections.abc import Callable
from typing import Any, ClassVar, Literal

import httpx
import regex
from pydantic import ConfigDict

from scheduler.compose.length import replace_urls, x_weighted_length
from scheduler.errors import PermanentError, RetryableError
from scheduler.publishers import oauth1
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
    whole_thread,
)
from scheduler.publishers.ratelimit import first, header_retry_after, seconds, until_epoch
from scheduler.publishers.sending import by_status, json_body, multipart

_SPACE = regex.compile(r"\s+")
# The simple upload takes images up to 5 MB; anything larger, and every video,
# goes up in chunks. X takes chunks of up to 5 MB; 4 MiB leaves room for the form.
SIMPLE_UPLOAD_BYTES = 5 * 1024 * 1024
CHUNK_BYTES = 4 * 1024 * 1024
# STATUS polls while X processes an upload, and the longest wait between two
# whatever `check_after_secs` says (scaled down in tests).
STATUS_POLLS = 60
STATUS_WAIT_CAP = 30.0
STATUS_WAIT_SCALE = 1.0
OAUTH1_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


def classify(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    body = json_body(response)
    message = body.get("detail") or body.get("title")
    errors = body.get("errors")
    if not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
        message = errors[0].get("message") or errors[0].get("detail")
    headers = response.headers
    wait = None
    if response.status_code == 429:
        # When the 24-hour allowance is spent, its reset is the one that matters.
        daily = [
            headers.get(f"x-{who}-limit-24hour-reset")
            for who in ("user", "app")
            if headers.get(f"x-{who}-limit-24hour-remaining") == "0"
        ]
        wait = first(
            *(until_epoch(v) for v in daily),
            until_epoch(headers.get("x-rate-limit-reset")),
            header_retry_after(response),
        )
    raise by_status(response, str(message) if message else None, wait=wait)


def is_duplicate(error: Exception) -> bool:
    return getattr(error, "status_code", None) == 403 and "duplicate" in str(error).lower()


def comparable(text: str) -> str:
    """What survives X's rendering: URLs become t.co links, & comes back as &amp;."""
    return _SPACE.sub(" ", replace_urls(html.unescape(text), "<url>")).strip()


class XPublisher(Publisher):
    platform: ClassVar[str] = "x"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=4,
        max_image_bytes=5 * 1024 * 1024,
        video_types=frozenset({"video/mp4", "video/quicktime"}),
        max_video_bytes=512 * 1024 * 1024,
        max_video_seconds=140,
        max_video_side=1280,
        alt_limit=1000,
        video_alt=False,
    )
    display_name: ClassVar[str] = "X"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        api: str = "https://api.x.com"
        auth_base: str | None = None
        max_length: int = 280
        thread: bool = False
        reply_settings: Literal["following", "mentionedUsers", "subscribers", "verified"] | None = (
            None
        )

    def __init__(self, channel) -> None:
        super().__init__(channel)
        self._api = self.options.api.rstrip("/")
        self._me: dict[str, Any] | None = None

    # -- text ---------------------------------------------------------------------
    def measure(self, text: str) -> list[Measure]:
        return [Measure("weighted characters", x_weighted_length(text), self.options.max_length)]

    # -- auth -----------------------------------------------------------------------
    def _oauth1_keys(self) -> dict[str, str] | None:
        secret = (self.channel.secret or "").strip()
        if not secret.startswith("{"):
            return None
        try:
            keys = json.loads(secret)
            return {
                name: str(keys[name])
                for name in (
                    "consumer_key",
                    "consumer_secret",
                    "access_token",
                    "access_token_secret",
                )
            }
        except (ValueError, KeyError, TypeError):
            raise PermanentError(
                "X secret looks like JSON but is not the four OAuth 1.0a keys "
                "(consumer_key, consumer_secret, access_token, access_token_secret)"
            ) from None

    def _request(self, method: str, url: str, body: Any = None) -> PreparedRequest:
        keys = self._oauth1_keys()
        if keys and set(keys.values()) == {REDACTED}:
            # A preview: the keys are placeholders, so is the signature.
            return PreparedRequest(method, url, {"Authorization": f"OAuth {REDACTED}"}, json=body)
        if keys:
            header = oauth1.authorization(
                method,
                url,
                consumer_key=keys["consumer_key"],
                consumer_secret=keys["consumer_secret"],
                token=keys["access_token"],
                token_secret=keys["access_token_secret"],
            )
            secrets = (header, *keys.values())
        else:
            token = self.bearer() or ""
            header = f"Bearer {token}"
            secrets = (token,) if token else ()
        return PreparedRequest(method, url, {"Authorization": header}, json=body, secrets=secrets)

    # -- requests -------------------------------------------------------------------
    def upload_request(self, item: MediaItem) -> PreparedRequest:
        body = {
            "media": base64.b64encode(item.read()).decode(),
            "media_category": "tweet_image",
            "media_type": item.mime,
        }
        request = self._request("POST", f"{self._api}/2/media/upload", body)
        request.note = f"media upload: {item.mime}, {item.size} bytes, sha256 {item.sha256[:12]}"
        return request

    @staticmethod
    def chunked(item: MediaItem) -> bool:
        """Video always goes up in chunks (its processing is asynchronous);
        an image only when it is larger than the simple upload takes."""
        return item.kind == "video" or item.size > SIMPLE_UPLOAD_BYTES

    @staticmethod
    def category(item: MediaItem) -> str:
        if item.kind == "video":
            return "tweet_video"
        return "tweet_gif" if item.mime == "image/gif" else "tweet_image"

    def initialize_request(self, item: MediaItem) -> PreparedRequest:
        body = {
            "media_type": item.mime,
            "total_bytes": item.size,
            "media_category": self.category(item),
        }
        return self._request("POST", f"{self._api}/2/media/upload/initialize", body)

    def append_request(self, media_id: str, index: int, chunk: bytes) -> PreparedRequest:
        signed = self._request("POST", f"{self._api}/2/media/upload/{media_id}/append")
        return multipart(
            signed.url,
            fields={"segment_index": str(index)},
            files=[("media", f"segment-{index}", chunk, "application/octet-stream")],
            headers=signed.headers,
            secrets=signed.secrets,
        )

    def finalize_request(self, media_id: str) -> PreparedRequest:
        return self._request("POST", f"{self._api}/2/media/upload/{media_id}/finalize")

    def status_request(self, media_id: str) -> PreparedRequest:
        query = httpx.QueryParams({"command": "STATUS", "media_id": media_id})
        return self._request("GET", f"{self._api}/2/media/upload?{query}")

    def chunked_requests(self, item: MediaItem, media_id: str) -> list[PreparedRequest]:
        """INIT, one APPEND per chunk, FINALIZE: what a chunked upload sends
        (STATUS polls follow when X is still processing)."""
        data = item.read()
        return [
            self.initialize_request(item),
            *(
                self.append_request(media_id, n, data[at : at + CHUNK_BYTES])
                for n, at in enumerate(range(0, len(data), CHUNK_BYTES))
            ),
            self.finalize_request(media_id),
        ]

    def alt_request(self, media_id: str, alt: str) -> PreparedRequest:
        body = {"id": media_id, "metadata": {"alt_text": {"text": alt}}}
        return self._request("POST", f"{self._api}/2/media/metadata", body)

    async def _upload_step(
        self, client: httpx.AsyncClient, build: Callable[[], PreparedRequest]
    ) -> dict[str, Any]:
        # Uploads publish nothing: safe to repeat, and a refused token is refreshed once.
        response = await self.send_authorised(client, build, idempotent=True, classify=classify)
        return json_body(response)

    async def upload(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        if self.chunked(item):
            media_id = await self.upload_chunked(client, item)
        else:
            answer = await self._upload_step(client, lambda: self.upload_request(item))
            media_id = (answer.get("data") or {}).get("id")
            if not media_id:
                raise PermanentError("X media upload answered without a media id")
        if item.alt and item.kind == "image":
            await self._upload_step(client, lambda: self.alt_request(str(media_id), item.alt))
        return str(media_id)

    async def upload_chunked(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        """INIT, APPEND each chunk in order, FINALIZE, then poll STATUS while
        X processes the file (`processing_info`), as long as it asks
        (`check_after_secs`), until `succeeded`; `failed` is permanent."""
        data = item.read()
        answer = await self._upload_step(client, lambda: self.initialize_request(item))
        media_id = str((answer.get("data") or {}).get("id") or "")
        if not media_id:
            raise PermanentError("X media upload INIT answered without a media id")
        for index, at in enumerate(range(0, len(data), CHUNK_BYTES)):
            chunk = data[at : at + CHUNK_BYTES]
            await self._upload_step(
                client,
                lambda: self.append_request(media_id, index, chunk),  # noqa: B023 - called at once
            )
        answer = await self._upload_step(client, lambda: self.finalize_request(media_id))
        info = (answer.get("data") or {}).get("processing_info")
        polls = 0
        while info and info.get("state") != "succeeded":
            if info.get("state") == "failed":
                error = info.get("error") or {}
                raise PermanentError(
                    f"X could not process media {media_id}: "
                    f"{error.get('message') or error.get('name') or 'failed'}"
                )
            polls += 1
            if polls > STATUS_POLLS:
                raise RetryableError(f"X is still processing media {media_id}")
            wait = seconds(info.get("check_after_secs")) or 1.0
            await asyncio.sleep(min(wait, STATUS_WAIT_CAP) * STATUS_WAIT_SCALE)
            answer = await self._upload_step(client, lambda: self.status_request(media_id))
            info = (answer.get("data") or {}).get("processing_info")
        return media_id

    def tweet_request(
        self, text: str, reply_to: str | None, media_ids: list[str] | None = None
    ) -> PreparedRequest:
        body: dict[str, Any] = {"text": text}
        if media_ids:
            body["media"] = {"media_ids": media_ids}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        if self.options.reply_settings:
            body["reply_settings"] = self.options.reply_settings
        return self._request("POST", f"{self._api}/2/tweets", body)

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        requests: list[PreparedRequest] = []
        ids = []
        for n, item in enumerate(post.media, 1):
            ids.append(f"<id of upload {n}>")
            if self.chunked(item):
                requests.extend(self.chunked_requests(item, ids[-1]))
            else:
                requests.append(self.upload_request(item))
            if item.alt and item.kind == "image":
                requests.append(self.alt_request(ids[-1], item.alt))
        return requests + [
            self.tweet_request(text, f"<id of part {i}>" if i else None, ids if i == 0 else None)
            for i, text in enumerate(post.texts)
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        data = json_body(response).get("data") or {}
        post_id = str(data["id"]) if data.get("id") is not None else None
        return SendResult(remote_id=post_id, remote_url=self.web_url(post_id))

    @staticmethod
    def web_url(post_id: str | None) -> str | None:
        return f"https://x.com/i/web/status/{post_id}" if post_id else None

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        self.require_fits(post)
        media_ids = [await self.upload(client, item) for item in post.media]
        ids: list[str] = []
        for index, text in enumerate(post.texts):
            reply_to = ids[-1] if ids else None
            first_media = media_ids if index == 0 else None
            try:
                response = await self.send_authorised(
                    client,
                    lambda: self.tweet_request(text, reply_to, first_media),  # noqa: B023 - called at once
                    idempotent=False,
                    classify=classify,
                )
                result = self.parse_response(response)
            except PermanentError as exc:
                if not is_duplicate(exc):
                    raise
                # X refused identical text: an earlier attempt probably landed.
                found = await self._find(client, text, post.due_at, ids[-1] if ids else None)
                if found is None:
                    raise
                result = SendResult(remote_id=found, remote_url=self.web_url(found))
            if result.remote_id is None:
                raise PermanentError(f"X answered part {index + 1} without a post id")
            ids.append(result.remote_id)
        return SendResult(
            remote_id=ids[0],
            remote_url=self.web_url(ids[0]),
            detail={"ids": ids, "urls": [self.web_url(i) for i in ids]},
        )

    async def _get(self, client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
        query = f"?{httpx.QueryParams(params)}" if params else ""
        response = await self.send_authorised(
            client,
            lambda: self._request("GET", f"{self._api}{path}{query}"),
            idempotent=True,
            classify=classify,
        )
        return json_body(response)

    async def me(self, client: httpx.AsyncClient) -> dict[str, Any]:
        if self._me is None:
            self._me = (await self._get(client, "/2/users/me")).get("data") or {}
        return self._me

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        me = await self.me(client)
        return {"id": me.get("id"), "username": me.get("username"), "name": me.get("name")}

    async def _recent(self, client: httpx.AsyncClient, since: dt.datetime) -> list[dict[str, Any]]:
        me = await self.me(client)
        data = await self._get(
            client,
            f"/2/users/{me['id']}/tweets",
            max_results=20,
            start_time=since.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            **{"tweet.fields": "created_at,referenced_tweets"},
        )
        return list(data.get("data") or [])

    async def _find(
        self, client: httpx.AsyncClient, text: str, due_at: dt.datetime, reply_to: str | None
    ) -> str | None:
        for tweet in await self._recent(client, due_at - dt.timedelta(minutes=10)):
            if comparable(tweet.get("text", "")) == comparable(text) and _replies_to(
                tweet, reply_to
            ):
                return str(tweet["id"])
        return None

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """Match the post's parts among the account's posts since shortly before
        it was due (an owned read), each part replying to the one before."""
        ids: list[str] = []
        for text in post.texts:
            found = await self._find(client, text, post.due_at, ids[-1] if ids else None)
            if found is None:
                break
            ids.append(found)
        if not whole_thread(len(ids), post, "X"):
            return None
        return SendResult(
            remote_id=ids[0],
            remote_url=self.web_url(ids[0]),
            detail={"ids": ids, "urls": [self.web_url(i) for i in ids]},
        )


def _replies_to(tweet: dict[str, Any], parent: str | None) -> bool:
    refs = [r for r in tweet.get("referenced_tweets") or [] if r.get("type") == "replied_to"]
    if parent is None:
        return not refs
    return any(str(r.get("id")) == parent for r in refs)
