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
publish nothing, so a retry may repeat them safely. Video is refused when
queued: the sheet names a Videos API but gives only the Images API's steps,
so it is not built.

LinkedIn has no thread: with `thread` on, later parts are comments on the post.
It has no idempotency either, but it refuses a duplicate with a 422 naming the
existing post, which this adapter takes as success; after a lost answer
`reconcile` looks among the author's recent posts.
"""

from __future__ import annotations

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
        no_video=(
            "LinkedIn video needs its Videos API (multi-part upload and finalize), which "
            "this adapter does not use; it sends images only"
        ),
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
            body["content"] = {"media": {"id": urn, "altText": item.alt}}
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
        image = (await self.upload(client, post.media[0]), post.media[0]) if post.media else None
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
