"""LinkedIn adapter: the Posts API (POST /rest/posts), follow-ups as comments.

Channel setup:
- options: `author` (`urn:li:person:...` or `urn:li:organization:...`),
  `version` (the `LinkedIn-Version` header, YYYYMM; LinkedIn retires versions
  after about a year, so keep it current), `visibility`, `thread`, `api`.
- secret: an OAuth 2.0 member access token (60 days) with `w_member_social`
  (or `w_organization_social` for a page); or none, after `scheduler channels
  connect NAME`, which stores the tokens encrypted; accounts/ refreshes them
  where LinkedIn granted the app refresh tokens and warns a week before the
  60 days run out where it did not. `auth_base` moves the OAuth endpoints (tests).

The commentary uses LinkedIn's "little" text format: every reserved character
(`\\ | { } @ [ ] ( ) < > # * _ ~`) is backslash-escaped so it shows as written,
except the `#` of a hashtag and anything inside a URL, which LinkedIn must still
see to link them. Unescaped, LinkedIn may silently cut a post at the first
reserved character. Length is counted on the text as the reader sees it: 3000,
or 1250 (a comment's limit) when `thread` is on, so every split part fits.

Media: one image, in three steps (Images API): POST
/rest/images?action=initializeUpload names the owner and answers an upload
URL and an image URN; the bytes are PUT to that URL; the post names the URN
in `content.media` with the alt text as `altText`. The steps before the post
publish nothing, so a retry may repeat them safely.

Video: one MP4 per post (LinkedIn's Videos API, looked up in LinkedIn's
Videos API documentation and clients that use it; the limits from a third
party's media guide [3P]: 75 KB to 500 MB, 3 seconds to 30 minutes):
1. POST /rest/videos?action=initializeUpload with `owner`, `fileSizeBytes`,
   and no captions or thumbnail: it answers the video URN, an `uploadToken`
   (empty for a one-part upload) and `uploadInstructions`, each an
   `uploadUrl` with the `firstByte` and `lastByte` it takes (parts of about
   4 MB). The instructions must cover the file exactly, else nothing is sent.
2. PUT each part's bytes to its URL (pre-signed: no token goes there), in
   order, keeping each answer's ETag.
3. POST /rest/videos?action=finalizeUpload with the video, the upload token
   and the ETags in order as `uploadedPartIds`.
4. GET /rest/videos/{urn} until its status is AVAILABLE (PROCESSING before;
   PROCESSING_FAILED is retried, then `failed`), since a post naming a video
   still processing may be dropped by LinkedIn afterwards.
5. The post names the video URN in `content.media`. LinkedIn shows no alt
   text on a video, so one given is a warning when queued.

LinkedIn has no thread: with `thread` on, later parts are comments on the post.
It has no idempotency either, but it refuses a duplicate with a 422 naming the
existing post, which this adapter takes as success; after a lost answer
`reconcile` looks among the author's recent posts.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any, ClassVar, Literal
from urllib.parse import quote

import httpx
import regex
from pydantic import ConfigDict, field_validator

from scheduler.compose.length import code_points, url_spans
from scheduler.errors import CredentialRejected, PermanentError, RetryableError
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
from scheduler.publishers.ratelimit import first, header_retry_after, until_next_utc_day
from scheduler.publishers.sending import by_status, json_body

MAX_COMMENTARY = 3000
MAX_COMMENT = 1250
DEFAULT_VERSION = "202610"
_RESERVED = set("\\|{}@[]()<>#*_~")
_HASHTAG = regex.compile(r"(?<=^|\s)#(?=[\p{L}\p{N}_]*[\p{L}_])")
_URN = regex.compile(r"urn:li:(?:share|ugcPost|activity):\d+")
_SPACE = regex.compile(r"\s+")
#: [3P] limits of a LinkedIn video, and how long to wait for its processing.
MAX_VIDEO_BYTES = 500_000_000
MIN_VIDEO_BYTES = 75 * 1024
MAX_VIDEO_SECONDS = 30 * 60.0
MIN_VIDEO_SECONDS = 3.0
VIDEO_POLLS = 120
VIDEO_POLL_SECONDS = 2.0


def escape(text: str) -> str:
    """Escape little-format reserved characters, keeping URLs and hashtags live."""
    keep = set()
    for start, end in url_spans(text):
        keep.update(range(start, end))
    keep.update(m.start() for m in _HASHTAG.finditer(text))
    return "".join(
        "\\" + ch if ch in _RESERVED and i not in keep else ch for i, ch in enumerate(text)
    )


def unescape(text: str) -> str:
    return regex.sub(r"\\(.)", r"\1", text)


class DuplicatePost(Exception):
    def __init__(self, urn: str) -> None:
        super().__init__(urn)
        self.urn = urn


def classify(response: httpx.Response) -> None:
    if response.status_code < 300:
        return
    body = json_body(response)
    message = body.get("message")
    if response.status_code == 422 and "DUPLICATE_POST" in response.text:
        urn = _URN.search(message or response.text)
        if urn:
            raise DuplicatePost(urn.group(0))
    if response.status_code == 401:
        raise CredentialRejected(
            f"HTTP 401: {message or 'unauthorised'}; the 60-day token must be re-authorised",
            status_code=401,
        )
    if response.status_code == 429:
        # No headers: LinkedIn's daily quotas reset at midnight UTC.
        wait = first(header_retry_after(response), until_next_utc_day())
        raise RetryableError(
            f"HTTP 429: {message or 'daily limit reached'}", status_code=429, retry_after=wait
        )
    raise by_status(response, message)


class LinkedInPublisher(Publisher):
    platform: ClassVar[str] = "linkedin"
    # The sheet states no byte limit for images; LinkedIn caps alt text at 4086.
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=1,
        image_types=frozenset({"image/jpeg", "image/png", "image/gif"}),
        alt_limit=4086,
        video_types=frozenset({"video/mp4"}),
        max_video_bytes=MAX_VIDEO_BYTES,
        min_video_bytes=MIN_VIDEO_BYTES,
        max_video_seconds=MAX_VIDEO_SECONDS,
        min_video_seconds=MIN_VIDEO_SECONDS,
        video_alt=False,
    )
    display_name: ClassVar[str] = "LinkedIn"
    secret_label: ClassVar[str] = "access token"
    idempotent: ClassVar[bool] = False
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        author: str
        version: str = DEFAULT_VERSION
        visibility: Literal["PUBLIC", "CONNECTIONS", "LOGGED_IN"] = "PUBLIC"
        thread: bool = False
        api: str = "https://api.linkedin.com"
        auth_base: str | None = None

        @field_validator("author")
        @classmethod
        def _urn(cls, value: str) -> str:
            if not value.startswith(("urn:li:person:", "urn:li:organization:")):
                raise ValueError("must be urn:li:person:... or urn:li:organization:...")
            return value

        @field_validator("version")
        @classmethod
        def _yyyymm(cls, value: str) -> str:
            if not regex.fullmatch(r"20\d{2}(0[1-9]|1[0-2])(\.\d{2})?", value):
                raise ValueError("must be a LinkedIn API version such as 202610")
            return value

    def measure(self, text: str) -> list[Measure]:
        # With threads on, any part may become a comment, whose limit is lower.
        limit = MAX_COMMENT if self.options.thread else MAX_COMMENTARY
        return [Measure("characters", code_points(text), limit)]

    def _headers(self) -> tuple[dict[str, str], tuple[str, ...]]:
        token = self.bearer() or "<access token>"
        return (
            {
                "Authorization": f"Bearer {token}",
                "LinkedIn-Version": self.options.version,
                "X-Restli-Protocol-Version": "2.0.0",
            },
            (token,) if self.bearer() else (),
        )

    def initialize_request(self) -> PreparedRequest:
        headers, secrets = self._headers()
        body = {"initializeUploadRequest": {"owner": self.options.author}}
        url = f"{self.options.api}/rest/images?action=initializeUpload"
        return PreparedRequest("POST", url, headers, json=body, secrets=secrets)

    def put_request(self, upload_url: str, item: MediaItem) -> PreparedRequest:
        headers, secrets = self._headers()
        data = item.read()
        return PreparedRequest(
            "PUT",
            upload_url,
            {"Authorization": headers["Authorization"], "Content-Type": item.mime},
            content=data,
            secrets=secrets,
            note=f"{item.mime}, {len(data)} bytes, sha256 {item.sha256[:12]}",
        )

    async def upload(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        # Both steps publish nothing, so a refused token is refreshed and they go again.
        response = await self.send_authorised(
            client, self.initialize_request, idempotent=True, classify=classify
        )
        value = json_body(response).get("value") or {}
        upload_url, urn = value.get("uploadUrl"), value.get("image")
        if not upload_url or not urn:
            raise PermanentError("LinkedIn initializeUpload answered without uploadUrl and image")
        await self.send_authorised(
            client,
            lambda: self.put_request(str(upload_url), item),
            idempotent=True,
            classify=classify,
        )
        return str(urn)

    # -- video ----------------------------------------------------------------------
    def video_initialize_request(self, item: MediaItem) -> PreparedRequest:
        headers, secrets = self._headers()
        body = {
            "initializeUploadRequest": {
                "owner": self.options.author,
                "fileSizeBytes": item.size,
                "uploadCaptions": False,
                "uploadThumbnail": False,
            }
        }
        url = f"{self.options.api}/rest/videos?action=initializeUpload"
        return PreparedRequest("POST", url, headers, json=body, secrets=secrets)

    @staticmethod
    def part_request(upload_url: str, part: bytes, index: int, item: MediaItem) -> PreparedRequest:
        # A pre-signed URL: the access token does not go there.
        return PreparedRequest(
            "PUT",
            upload_url,
            {"Content-Type": "application/octet-stream"},
            content=part,
            note=f"part {index + 1} of {item.mime}, {len(part)} bytes, sha256 {item.sha256[:12]}",
        )

    def finalize_request(self, urn: str, token: str, etags: list[str]) -> PreparedRequest:
        headers, secrets = self._headers()
        body = {
            "finalizeUploadRequest": {"video": urn, "uploadToken": token, "uploadedPartIds": etags}
        }
        url = f"{self.options.api}/rest/videos?action=finalizeUpload"
        return PreparedRequest("POST", url, headers, json=body, secrets=secrets)

    def video_status_request(self, urn: str) -> PreparedRequest:
        headers, secrets = self._headers()
        url = f"{self.options.api}/rest/videos/{quote(urn, safe='')}"
        return PreparedRequest("GET", url, headers, secrets=secrets)

    @staticmethod
    def parts(instructions: Any, size: int) -> list[tuple[str, int, int]]:
        """(URL, first byte, last byte) of each part, checked to cover the
        file's `size` bytes exactly and in order."""
        if not isinstance(instructions, list) or not instructions:
            raise PermanentError("LinkedIn initializeUpload answered no uploadInstructions")
        parts, expected = [], 0
        for step in instructions:
            url = step.get("uploadUrl") if isinstance(step, dict) else None
            start, last = (step.get("firstByte"), step.get("lastByte")) if url else (None, None)
            if not (isinstance(start, int) and isinstance(last, int)) or start != expected:
                raise PermanentError(
                    "LinkedIn's upload instructions do not cover the video in order"
                )
            if last < start or last >= size:
                raise PermanentError(
                    "LinkedIn's upload instructions do not cover the video in order"
                )
            parts.append((str(url), start, last))
            expected = last + 1
        if expected != size:
            raise PermanentError(
                f"LinkedIn's upload instructions cover {expected} of the video's {size} bytes"
            )
        return parts

    async def upload_video(self, client: httpx.AsyncClient, item: MediaItem) -> str:
        """Steps 1 to 4 of the module's docstring; the video's URN, AVAILABLE."""
        data = item.read()
        response = await self.send_authorised(
            client, lambda: self.video_initialize_request(item), idempotent=True, classify=classify
        )
        value = json_body(response).get("value") or {}
        urn, token = value.get("video"), value.get("uploadToken") or ""
        if not isinstance(urn, str) or not urn.startswith("urn:li:video:"):
            raise PermanentError("LinkedIn initializeUpload answered without a video URN")
        etags = []
        for index, (url, start, last) in enumerate(
            self.parts(value.get("uploadInstructions"), len(data))
        ):
            answer = await send_classified(
                client,
                self.part_request(url, data[start : last + 1], index, item),
                idempotent=True,
                classify=classify,
            )
            etag = answer.headers.get("etag")
            if not etag:
                raise RetryableError(
                    f"LinkedIn answered part {index + 1} of the video without an ETag"
                )
            etags.append(etag)
        await self.send_authorised(
            client,
            lambda: self.finalize_request(urn, str(token), etags),
            idempotent=True,
            classify=classify,
        )
        for polls in range(VIDEO_POLLS + 1):
            answer = await self.send_authorised(
                client, lambda: self.video_status_request(urn), idempotent=True, classify=classify
            )
            status = json_body(answer).get("status")
            if status == "AVAILABLE":
                return urn
            if status == "PROCESSING_FAILED":
                reason = json_body(answer).get("processingFailureReason") or "no reason given"
                raise RetryableError(f"LinkedIn could not process video {urn}: {reason}")
            if polls < VIDEO_POLLS:
                await asyncio.sleep(VIDEO_POLL_SECONDS)
        raise RetryableError(f"LinkedIn is still processing video {urn}")

    def post_request(
        self, text: str, image: tuple[str, MediaItem] | None = None
    ) -> PreparedRequest:
        headers, secrets = self._headers()
        body = {
            "author": self.options.author,
            "commentary": escape(text),
            "visibility": self.options.visibility,
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if image is not None:
            urn, item = image
            media = {"id": urn}
            if item.kind != "video":  # LinkedIn shows alt text on images only
                media["altText"] = item.alt
            body["content"] = {"media": media}
        return PreparedRequest(
            "POST", f"{self.options.api}/rest/posts", headers, json=body, secrets=secrets
        )

    def comment_request(self, post_urn: str, text: str) -> PreparedRequest:
        headers, secrets = self._headers()
        body = {"actor": self.options.author, "object": post_urn, "message": {"text": escape(text)}}
        url = f"{self.options.api}/rest/socialActions/{quote(post_urn, safe='')}/comments"
        return PreparedRequest("POST", url, headers, json=body, secrets=secrets)

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        first_part, *rest = post.texts
        if post.media and post.media[0].kind == "video":
            item = post.media[0]
            data = item.read()
            uploads = [
                self.video_initialize_request(item),
                self.part_request("<uploadUrl of each part>", data, 0, item),
                self.finalize_request("<video urn>", "<uploadToken>", ["<ETag of each part>"]),
            ]
            return [*uploads, self.post_request(first_part, ("<video urn>", item))] + [
                self.comment_request("<urn of the post>", text) for text in rest
            ]
        if post.media:
            item = post.media[0]
            uploads = [self.initialize_request(), self.put_request("<uploadUrl>", item)]
            return [*uploads, self.post_request(first_part, ("<image urn>", item))] + [
                self.comment_request("<urn of the post>", text) for text in rest
            ]
        return [self.post_request(first_part)] + [
            self.comment_request("<urn of the post>", text) for text in rest
        ]

    def parse_response(self, response: httpx.Response) -> SendResult:
        urn = response.headers.get("x-restli-id") or json_body(response).get("id")
        return SendResult(remote_id=urn, remote_url=self.web_url(urn))

    @staticmethod
    def web_url(urn: str | None) -> str | None:
        return f"https://www.linkedin.com/feed/update/{urn}/" if urn else None

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_secret()
        first_part, *rest = post.texts
        (m,) = self.measure(first_part)
        if not m.ok:
            raise PermanentError(f"too long for LinkedIn: {m.count} {m.unit} > {m.limit}")
        for text in rest:
            if code_points(text) > MAX_COMMENT:
                raise PermanentError(
                    f"a follow-up comment is too long for LinkedIn: "
                    f"{code_points(text)} characters > {MAX_COMMENT}"
                )
        if post.media:
            await self.fresh_token()  # uploads carry the token too: a connected channel's, fresh
        image = None
        if post.media:
            item = post.media[0]
            upload = self.upload_video if item.kind == "video" else self.upload
            image = (await upload(client, item), item)
        try:
            response = await self.send_authorised(
                client,
                lambda: self.post_request(first_part, image),
                idempotent=False,
                classify=classify,
            )
            result = self.parse_response(response)
            duplicate = False
        except DuplicatePost as dup:
            result = SendResult(remote_id=dup.urn, remote_url=self.web_url(dup.urn))
            duplicate = True
        if not result.remote_id:
            raise PermanentError("LinkedIn accepted the post but returned no x-restli-id")
        comments = []
        for text in rest:
            try:
                urn = result.remote_id
                response = await self.send_authorised(
                    client,
                    lambda: self.comment_request(urn, text),  # noqa: B023 - called at once
                    idempotent=False,
                    classify=classify,
                )
            except DuplicatePost as dup:
                comments.append(dup.urn)
                continue
            data = json_body(response)
            comments.append(response.headers.get("x-restli-id") or data.get("id"))
        return SendResult(
            remote_id=result.remote_id,
            remote_url=result.remote_url,
            detail={"comments": comments, "duplicate": duplicate},
        )

    async def _get(self, client: httpx.AsyncClient, url: str) -> dict[str, Any]:
        def request() -> PreparedRequest:
            headers, secrets = self._headers()
            return PreparedRequest("GET", url, headers, secrets=secrets)

        try:
            response = await self.send_authorised(
                client, request, idempotent=True, classify=classify
            )
        except DuplicatePost:  # pragma: no cover - only answers to a POST
            raise PermanentError("unexpected duplicate answer to a read") from None
        return json_body(response)

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        info = await self._get(client, f"{self.options.api}/v2/userinfo")
        return {
            "member": f"urn:li:person:{info['sub']}" if info.get("sub") else None,
            "name": info.get("name"),
            "email": info.get("email"),
            "author": self.options.author,
        }

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """Look for the commentary among the author's latest posts (the Posts API
        author finder; it needs read permission on the author's posts)."""
        params = httpx.QueryParams(
            {"author": self.options.author, "q": "author", "count": 20, "sortBy": "LAST_MODIFIED"}
        )
        data = await self._get(client, f"{self.options.api}/rest/posts?{params}")
        want = _SPACE.sub(" ", post.texts[0]).strip()
        since = post.due_at - dt.timedelta(minutes=10)
        for element in data.get("elements") or []:
            text = _SPACE.sub(" ", unescape(element.get("commentary") or "")).strip()
            created = element.get("createdAt") or element.get("publishedAt") or 0
            when = dt.datetime.fromtimestamp(created / 1000, dt.UTC)
            if text == want and when >= since:
                urn = element.get("id")
                return SendResult(remote_id=urn, remote_url=self.web_url(urn))
        return None
