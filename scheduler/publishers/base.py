"""The publisher contract every platform adapter implements.

An adapter turns one post into HTTP requests for one platform. It declares how
the platform counts length, builds the exact request (the same code serves the
dry run and the real send), sends it with a shared httpx client, and classifies
failures as retryable, permanent or unknown. Adapters are found through the
`scheduler.publishers` entry-point group (see `registry.py`).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel, ConfigDict

from scheduler import USER_AGENT
from scheduler.errors import (
    CredentialRejected,
    PermanentError,
    RetryableError,
    UnknownOutcomeError,
)

REDACTED = "***"


@dataclass(frozen=True)
class Measure:
    """One length rule applied to a text: `count` of `unit` against `limit`."""

    unit: str
    count: int
    limit: int

    @property
    def ok(self) -> bool:
        return self.count <= self.limit


class TokenSource(Protocol):
    """Access tokens of a connected channel (OAuth), kept fresh by accounts/."""

    async def access_token(self) -> str:
        """A token good for now (refreshed first when it is about to expire)."""
        ...

    async def refreshed(self, rejected: str) -> str:
        """A token to replace `rejected`, which the platform just refused."""
        ...


@dataclass(frozen=True)
class ChannelInfo:
    """What an adapter knows of its channel. `secret` is resolved from the
    environment at send time and is never stored or printed; `tokens`, for a
    connected channel, gives its OAuth access token instead."""

    name: str
    platform: str
    options: Mapping[str, Any]
    secret: str | None = None
    timezone: str = "UTC"
    tokens: TokenSource | None = None


@dataclass(frozen=True)
class MediaItem:
    """One attached file as an adapter gets it: what it is and where its
    bytes are. `read` checks the bytes still hash to `sha256`, so what is
    uploaded is exactly what was checked when the post was queued."""

    sha256: str
    mime: str
    size: int
    path: str
    alt: str = ""
    width: int | None = None
    height: int | None = None
    #: A video's length in seconds, read from its boxes when it was queued.
    seconds: float | None = None
    #: Where the platform can fetch it (channel option `media_base_url`), if anywhere.
    url: str | None = None

    @property
    def kind(self) -> str:
        return self.mime.partition("/")[0]

    @property
    def extension(self) -> str:
        return Path(self.path).suffix.lstrip(".")

    def read(self) -> bytes:
        try:
            data = Path(self.path).read_bytes()
        except OSError as exc:
            raise PermanentError(f"media file {self.path} cannot be read: {exc.strerror}") from None
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise PermanentError(f"media file {self.path} changed since it was queued")
        return data


@dataclass(frozen=True)
class LinkCard:
    """The link preview of a post, from the article as ingested (never fetched
    at send time)."""

    uri: str
    title: str
    description: str = ""
    thumb: MediaItem | None = None


@dataclass(frozen=True)
class MediaRules:
    """What media a platform takes on one post. The defaults take none."""

    #: Images (or videos) per post; 0: the adapter sends text only.
    max_items: int = 0
    image_types: frozenset[str] = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
    max_image_bytes: int = 0
    #: Longest side in pixels; None: no stated limit.
    max_side: int | None = None
    video_types: frozenset[str] = frozenset()
    max_video_bytes: int = 0
    #: Videos per post, and whether a video may go beside images in one post.
    max_videos: int = 1
    mix_video: bool = False
    #: Longest video in seconds and longest side in pixels; None: no stated limit.
    max_video_seconds: float | None = None
    max_video_side: int | None = None
    #: Shortest and smallest video the platform keeps (LinkedIn drops shorter ones).
    min_video_seconds: float | None = None
    min_video_bytes: int = 0
    #: Why this adapter sends no video (said when one is queued); empty: the generic reason.
    no_video: str = ""
    #: Alt text length in characters; None: the platform shows no alt text.
    alt_limit: int | None = None
    #: Alt text reaches the platform for videos too (else it is a warning there).
    video_alt: bool = True
    #: A video's alt text length where it differs from images' (None: `alt_limit`).
    video_alt_limit: int | None = None
    #: The platform fetches media from a public URL instead of taking an upload.
    needs_url: bool = False


class MediaOptions(BaseModel):
    """Channel options every built-in adapter takes for media."""

    model_config = ConfigDict(extra="forbid")
    #: Quote posts carry a rendered quote card.
    cards: bool = False
    #: Public base URL the media folder is served from (`{url}/{sha256[:2]}/{sha256}.{ext}`);
    #: platforms that fetch by URL (Threads, Slack webhooks) need it.
    media_base_url: str | None = None


@dataclass(frozen=True)
class OutgoingPost:
    """A post as handed to an adapter."""

    post_id: int
    idempotency_key: str
    text: str
    due_at: dt.datetime
    attempt: int = 1
    parts: tuple[str, ...] = ()
    link: str | None = None
    media: tuple[MediaItem, ...] = ()
    card: LinkCard | None = None

    @property
    def texts(self) -> tuple[str, ...]:
        """The text of each part: a thread has several, a plain post one."""
        return self.parts or (self.text,)


@dataclass
class PreparedRequest:
    """An HTTP request exactly as it will be sent; `secrets` are the values to hide."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    content: bytes | None = None
    secrets: tuple[str, ...] = ()
    #: Shown instead of a binary body (an upload) in previews.
    note: str | None = None

    def body_bytes(self) -> bytes | None:
        if self.content is not None:
            return self.content
        if self.json is not None:
            return json.dumps(self.json, ensure_ascii=False, separators=(",", ":")).encode()
        return None

    def sent_headers(self) -> dict[str, str]:
        """The headers as they go out (httpx adds Host and Content-Length).
        The User-Agent is set here because `client.send` sends a bare request
        as it is, without the client's own headers; only it, since building
        the request through `client.build_request` (its default Accept
        headers, its cookies) cost 8 % more instructions a send, the header
        alone 3 %."""
        headers = {"User-Agent": USER_AGENT, **self.headers}
        if self.json is not None and self.content is None:
            headers.setdefault("Content-Type", "application/json")
        return headers

    def to_httpx(self) -> httpx.Request:
        return httpx.Request(
            self.method,
            _parsed_url(self.url),
            headers=self.sent_headers(),
            content=self.body_bytes(),
        )

    def redacted(self) -> dict[str, Any]:
        """The request as a plain dict with every secret replaced by `***`."""
        body = self.body_bytes()
        shown: dict[str, Any] = {
            "method": self.method,
            "url": self.hide(self.url),
            "headers": {k: self.hide(v) for k, v in self.sent_headers().items()},
        }
        if body is not None and self.note is not None:
            shown["body"] = self.note
            shown["body_size"] = len(body)
        elif body is not None:
            text = self.hide(body.decode("utf-8", errors="replace"))
            try:
                # JSON bodies are shown parsed for reading; `body_size` is the
                # exact byte count that goes out.
                shown["json"] = json.loads(text)
            except ValueError:
                shown["body"] = text
            shown["body_size"] = len(body)
        return shown

    def hide(self, value: str) -> str:
        """`value` with every secret of this request replaced by `***`."""
        for secret in self.secrets:
            if secret:
                value = value.replace(secret, REDACTED)
        return value


@dataclass(frozen=True)
class SendResult:
    """What the platform answered to a successful publish."""

    remote_id: str | None = None
    remote_url: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def thread(cls, results: list[SendResult], **extra: Any) -> SendResult:
        """A thread's result: the first part's id and URL; every part's in `detail`."""
        return cls(
            remote_id=results[0].remote_id,
            remote_url=results[0].remote_url,
            detail={
                "ids": [r.remote_id for r in results],
                "urls": [r.remote_url for r in results],
                **extra,
            },
        )


class Publisher:
    """Base class for adapters. Subclasses set `platform`, `Options`, and implement
    `measure`, `build_requests` and `parse_response`; multi-step platforms
    override `publish` too."""

    platform: ClassVar[str] = ""
    #: What media a post may carry on this platform (none unless declared).
    media_rules: ClassVar[MediaRules] = MediaRules()
    #: True when the platform itself dedupes a resend carrying the same key, so a
    #: retry after an ambiguous failure is safe.
    idempotent: ClassVar[bool] = False
    #: The environment variable holding the credential is required to send.
    needs_secret: ClassVar[bool] = True

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")

    def __init__(self, channel: ChannelInfo) -> None:
        self.channel = channel
        self.options = self.Options.model_validate(dict(channel.options))

    #: How error messages name the platform and its credential.
    display_name: ClassVar[str] = ""
    secret_label: ClassVar[str] = "credentials"

    # -- text ---------------------------------------------------------------
    def measure(self, text: str) -> list[Measure]:
        raise NotImplementedError

    def fits(self, text: str) -> bool:
        return all(m.ok for m in self.measure(text))

    def require_fits(self, post: OutgoingPost) -> None:
        """Refuse, before anything leaves, a post with a part over the limit."""
        for text in post.texts:
            for m in self.measure(text):
                if not m.ok:
                    raise PermanentError(
                        f"too long for {self.display_name or self.platform}: "
                        f"{m.count} {m.unit} > {m.limit}"
                    )

    #: The access token last had from `channel.tokens` (connected channels).
    _live_token: str | None = None

    def bearer(self) -> str | None:
        """The access token requests carry: the connected channel's fresh one,
        else the secret from the environment (or its preview placeholder)."""
        return self._live_token or self.channel.secret

    async def fresh_token(self) -> None:
        """Ask accounts/ for a fresh access token, for a connected channel."""
        if self.channel.tokens is not None:
            self._live_token = await self.channel.tokens.access_token()

    async def send_authorised(
        self,
        client: httpx.AsyncClient,
        build: Callable[[], PreparedRequest],
        *,
        idempotent: bool,
        classify: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """`send_classified` with a fresh token; on a refused token (401) of a
        connected channel, refresh once and send again (a refused request
        published nothing, so the resend cannot post twice)."""
        await self.fresh_token()
        try:
            return await send_classified(client, build(), idempotent=idempotent, classify=classify)
        except CredentialRejected:
            tokens = self.channel.tokens
            if tokens is None or self._live_token is None:
                raise
            self._live_token = await tokens.refreshed(self._live_token)
        return await send_classified(client, build(), idempotent=idempotent, classify=classify)

    def require_secret(self) -> str:
        """The channel's credential, or a permanent error naming what is missing."""
        if self.channel.tokens is not None:
            return self.bearer() or ""
        if not self.channel.secret:
            raise PermanentError(
                f"{self.display_name or self.platform} channel has no {self.secret_label} "
                "(secret not set)"
            )
        return self.channel.secret

    async def prepare(self, client: httpx.AsyncClient, post: OutgoingPost | None = None) -> None:
        """Fetch what building a request needs from the platform (an instance's
        limits, a mention's DID). Called before previews and sends; no-op here."""

    # -- requests -------------------------------------------------------------
    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        """The requests a publish makes, in order, exactly as sent."""
        raise NotImplementedError

    def parse_response(self, response: httpx.Response) -> SendResult:
        raise NotImplementedError

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        """Send the post. The default sends the single request from `build_requests`."""
        (request,) = self.build_requests(post)
        response = await send_classified(client, request, idempotent=self.idempotent)
        return self.parse_response(response)

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        """Check the credentials and return what identifies the account."""
        raise PermanentError(f"{self.platform} has no credential check")

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """After an unknown outcome: the post's remote result if it landed, None if
        it did not. Raise PermanentError when the platform cannot tell."""
        raise PermanentError(f"{self.platform} cannot look up whether a post landed")


def whole_thread(found: int, post: OutgoingPost, where: str) -> bool:
    """For `reconcile`, after looking for a post's parts in order: False when
    none landed, True when all did. A thread that landed in part cannot be
    settled by itself (resending would repeat parts, `failed` would hide them)."""
    if found and found < len(post.texts):
        raise PermanentError(
            f"only {found} of {len(post.texts)} thread parts are on {where}; "
            "check the thread before retrying"
        )
    return found > 0


async def send_classified(
    client: httpx.AsyncClient,
    request: PreparedRequest,
    *,
    idempotent: bool,
    classify: Callable[[httpx.Response], None] | None = None,
) -> httpx.Response:
    """Send one request and turn every failure into a typed publish error.

    `classify` reads a response the platform's way (Telegram and Slack put the
    reason in the body, Bluesky reports an expired token as a 400); the default
    is the usual reading of status codes. Transport failures are judged the same
    everywhere: nothing sent is retryable, a request that may have arrived is
    retryable only where the platform dedupes it.
    """
    try:
        response = await client.send(request.to_httpx())
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise RetryableError(
            f"cannot connect to {_host(request.url)}: {_why(exc, request)}"
        ) from None
    except (httpx.TimeoutException, httpx.RemoteProtocolError, httpx.ReadError) as exc:
        message = f"no answer from {_host(request.url)}: {_why(exc, request)}"
        if idempotent:
            raise RetryableError(message, maybe_delivered=True) from None
        raise UnknownOutcomeError(message) from None
    except httpx.HTTPError as exc:
        raise RetryableError(
            f"request to {_host(request.url)} failed: {_why(exc, request)}"
        ) from None
    (classify or raise_for_status)(response)
    return response


def raise_for_status(response: httpx.Response) -> None:
    """Classify an HTTP error status the way most platforms mean it."""
    status = response.status_code
    if status < 300:
        return
    message = f"HTTP {status}: {error_message(response)}"
    if status == 429 or status >= 500:
        raise RetryableError(message, status_code=status, retry_after=retry_after(response))
    if status == 401:
        raise CredentialRejected(message, status_code=status)
    raise PermanentError(message, status_code=status)


def error_message(response: httpx.Response, limit: int = 300) -> str:
    """The platform's own words for an error, on one line."""
    text = response.text.strip()
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("error_description", "message", "detail", "error", "title", "description"):
            value = data.get(key)
            if isinstance(value, str) and value:
                text = value
                break
    text = " ".join(text.split()) or response.reason_phrase or "no message"
    return text[:limit]


def retry_after(response: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a standard Retry-After header (seconds or HTTP date)."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = now or dt.datetime.now(dt.UTC)
    return max(0.0, (when - now).total_seconds())


@functools.lru_cache(maxsize=256)
def _parsed_url(url: str) -> httpx.URL:
    # A channel sends to the same few URLs again and again; httpx.URL is
    # immutable, so each is parsed once.
    return httpx.URL(url)


def _host(url: str) -> str:
    return httpx.URL(url).host or url


def _why(exc: Exception, request: PreparedRequest) -> str:
    # httpx messages can quote the URL, which carries the token on some platforms.
    return request.hide(str(exc) or type(exc).__name__)
