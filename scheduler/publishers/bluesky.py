"""Bluesky (AT Protocol) adapter: app-password sessions, facets, threads, and
deterministic record keys so a resend can never create a second post.

Channel setup:
- options: `service` (the PDS or entryway URL, default https://bsky.social),
  `handle` (the account's handle or DID), `langs`, `thread`.
- secret: the account's **app password**. Alternatively, when `handle` is not
  set, the secret may be `identifier:app-password` (split at the last colon, so
  a DID identifier works).

Length: 300 graphemes and 3000 UTF-8 bytes, both enforced. Links, #tags and
@mentions become facets at UTF-8 byte offsets; a mention whose handle does not
resolve (com.atproto.identity.resolveHandle) stays plain text.

Media: up to four images on the first part (`app.bsky.embed.images`, each
blob at most 2,000,000 bytes, alt text and aspect ratio), else a link card
(`app.bsky.embed.external`: title, description and thumbnail blob from the
article as ingested). Blobs are uploaded with com.atproto.repo.uploadBlob only
when the part's record is not there yet; an upload repeated by a retry is
harmless (a blob no record names is deleted by the PDS).

Video (one per post, never beside images) goes through Bluesky's video
service, channel option `video_service` (default https://video.bsky.app), the
way Bluesky's own video tutorial and lexicons describe it:
1. app.bsky.video.getUploadLimits on the video service, with a service token
   (com.atproto.server.getServiceAuth on the PDS, `aud` the video service's
   did:web, `lxm` app.bsky.video.getUploadLimits): `canUpload`,
   `remainingDailyVideos`, `remainingDailyBytes` (25 videos or 10 GB a day at
   launch); over the day's allowance is retried later, any other refusal
   (an unconfirmed email, say) fails the post.
2. app.bsky.video.uploadVideo?did=…&name=… on the video service, the raw
   bytes as video/mp4, with a second service token: `aud` the did:web of the
   account's own PDS (from the session's DID document), `lxm`
   com.atproto.repo.uploadBlob, 30 minutes long, since the service stores the
   processed file on the PDS with it. It answers a job status (at the top
   level, though the lexicon puts it under `jobStatus`; both are read); a file
   it already processed for the account is HTTP 409 `already_exists` with the
   job's id, read like any other job.
3. app.bsky.video.getJobStatus?jobId=… until the status carries a blob (a
   BlobRef already on the PDS; JOB_STATE_COMPLETED, or even a failed
   `already_exists`); JOB_STATE_FAILED without one is retried (a processing
   failure is often passing; every try fails the same way a bad file ends
   `failed` after the last attempt).
4. The record's embed is `app.bsky.embed.video`: `video` (that blob,
   video/mp4, at most 100,000,000 bytes), `alt` (at most 1,000 graphemes),
   `aspectRatio` from the sides read when queued. Videos are limited to 3
   minutes (raised from 60 s in 2025). Only MP4 is taken here: the upload's
   and the embed's lexicons name video/mp4 alone.
The upload is repeated by a retry only when the record is not there yet, like
the image blobs; the post itself is still written once, at its record key.

Exactly once: each part's record key is a TID derived from the post's due time
and idempotency key (the part number in the clock-id bits), so every attempt of
the same post writes to the same keys. Before creating a part the adapter reads
it back with getRecord; after an error or timeout it reads again. A part already
there is reused, never rewritten.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
from typing import Any, ClassVar

import httpx
import regex
from pydantic import ConfigDict, Field, field_validator

from scheduler.compose.length import graphemes, url_spans, utf8_bytes
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
    send_classified,
)
from scheduler.publishers.bluesky_session import SESSIONS, ExpiredTokenError, Session, classify
from scheduler.publishers.sending import json_body

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
VIDEO_SERVICE = "https://video.bsky.app"
#: The embed's lexicon: video/mp4 blobs up to 100,000,000 bytes, alt up to 1,000 graphemes.
MAX_VIDEO_BYTES = 100_000_000
MAX_VIDEO_SECONDS = 180.0
MAX_VIDEO_ALT = 1000
#: Service tokens for the upload live 30 minutes (the tutorial's advice; the
#: PDS refuses more than an hour); the limits call needs a minute at most.
UPLOAD_TOKEN_SECONDS = 30 * 60
LIMITS_TOKEN_SECONDS = 60
#: How often, and how far apart, a processing job is asked after.
VIDEO_POLLS = 120
VIDEO_POLL_SECONDS = 1.0
#: Service URL -> the DID it says it has (describeServer), once per process.
_SERVER_DIDS: dict[str, str] = {}

# A handle is a domain name: dot-separated labels, the last one starting with a letter.
_MENTION = regex.compile(
    r"(?<=^|[\s(\[])@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
    r"[a-z](?:[a-z0-9-]{0,61}[a-z0-9])?)",
    regex.IGNORECASE,
)
# A tag: after a space or the start, letters/digits/_ but not only digits.
_TAG = regex.compile(r"(?<=^|\s)#([\p{L}\p{M}\p{N}_]*[\p{L}\p{M}_][\p{L}\p{M}\p{N}_]*)")


def tid(micros: int, clock_id: int) -> str:
    """A TID: 53 bits of microseconds since 1970 then 10 bits of clock id, as 13
    characters of sortable base32 (top bit always 0)."""
    if not 0 <= micros < 2**53 or not 0 <= clock_id < 2**10:
        raise ValueError("TID out of range")
    value = (micros << 10) | clock_id
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in range(12, -1, -1))


def record_key(post: OutgoingPost, part: int) -> str:
    """The stable record key of part `part` (0-based) of `post`: its due second,
    a sub-second offset from the idempotency key, the part in the clock id."""
    seconds = int(post.due_at.timestamp())
    digest = hashlib.sha256(post.idempotency_key.encode()).digest()
    offset = int.from_bytes(digest[:4], "big") % 1_000_000
    return tid(seconds * 1_000_000 + offset, part)


def byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def mention_handles(text: str) -> list[str]:
    return [m.group(1).lower() for m in _MENTION.finditer(text)]


def facets(text: str, dids: dict[str, str]) -> list[dict[str, Any]]:
    """Link, tag and mention facets at UTF-8 byte offsets. `dids` maps resolved
    handles to DIDs; other mentions are left as plain text. Facets never overlap:
    links win, then mentions, then tags."""
    found: list[tuple[int, int, dict[str, Any]]] = []
    for start, end in url_spans(text):
        found.append((start, end, {"$type": f"{FACET}#link", "uri": text[start:end]}))
    for match in _MENTION.finditer(text):
        did = dids.get(match.group(1).lower())
        if did:
            found.append((match.start(), match.end(), {"$type": f"{FACET}#mention", "did": did}))
    for match in _TAG.finditer(text):
        tag = match.group(1)
        if graphemes(tag) <= 64 and utf8_bytes(tag) <= 640:
            found.append((match.start(), match.end(), {"$type": f"{FACET}#tag", "tag": tag}))
    kept: list[tuple[int, int, dict[str, Any]]] = []
    for start, end, feature in found:
        if all(end <= s or start >= e for s, e, _ in kept):
            kept.append((start, end, feature))
    kept.sort(key=lambda item: item[0])
    return [
        {
            "index": {"byteStart": byte_offset(text, s), "byteEnd": byte_offset(text, e)},
            "features": [feature],
        }
        for s, e, feature in kept
    ]


FACET = "app.bsky.richtext.facet"


def classify_video(response: httpx.Response) -> None:
    """The video service's errors read as Bluesky's, except that a refused
    service token fails the post instead of pausing the channel: the
    account's own credentials were accepted when the token was made."""
    try:
        classify(response)
    except (CredentialRejected, ExpiredTokenError) as exc:
        raise PermanentError(
            f"Bluesky's video service refused the service token: {exc}",
            status_code=response.status_code,
        ) from None


def classify_upload(response: httpx.Response) -> None:
    """An upload of a file the service already processed for this account is
    answered 409 `already_exists` with that job: not an error here."""
    if response.status_code == 409 and json_body(response).get("error") == "already_exists":
        return
    classify_video(response)


def _job(data: dict[str, Any]) -> dict[str, Any]:
    """A job status, wherever the answer put it (`jobStatus`, or the top level)."""
    inner = data.get("jobStatus")
    return inner if isinstance(inner, dict) else data


class BlueskyPublisher(Publisher):
    platform: ClassVar[str] = "bluesky"
    media_rules: ClassVar[MediaRules] = MediaRules(
        max_items=4,
        max_image_bytes=2_000_000,
        alt_limit=2000,
        video_types=frozenset({"video/mp4"}),
        max_video_bytes=MAX_VIDEO_BYTES,
        max_videos=1,
        mix_video=False,
        max_video_seconds=MAX_VIDEO_SECONDS,
        video_alt_limit=MAX_VIDEO_ALT,
    )
    display_name: ClassVar[str] = "Bluesky"
    secret_label: ClassVar[str] = "app password"
    # A resend reuses the same record key and is preceded by getRecord, so it can
    # never create a second post.
    idempotent: ClassVar[bool] = True
    needs_secret: ClassVar[bool] = True

    class Options(MediaOptions):
        model_config = ConfigDict(extra="forbid")
        service: str = "https://bsky.social"
        handle: str | None = None
        langs: list[str] = Field(default_factory=list, max_length=3)
        thread: bool = False
        #: Where videos are uploaded and processed (app.bsky.video.*).
        video_service: str = VIDEO_SERVICE

        @field_validator("video_service")
        @classmethod
        def _http_only(cls, value: str) -> str:
            try:
                url = httpx.URL(value)
            except httpx.InvalidURL as exc:
                raise ValueError(f"not a usable URL ({exc})") from None
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("must be the video service's https:// URL")
            return value.rstrip("/")

    def __init__(self, channel) -> None:
        super().__init__(channel)
        self._service = self.options.service.rstrip("/")
        #: handle -> DID for mentions resolved so far (None: does not resolve).
        self._dids: dict[str, str | None] = {}

    # -- credentials ----------------------------------------------------------------
    def _credentials(self) -> tuple[str, str]:
        secret = self.require_secret()
        if self.options.handle:
            return self.options.handle, secret
        identifier, sep, password = secret.rpartition(":")
        if not sep or not identifier:
            raise PermanentError(
                "Bluesky channel needs the `handle` option, or a secret `handle:app-password`"
            )
        return identifier, password

    def _identifier(self) -> str:
        if self.options.handle:
            return self.options.handle
        try:
            return self._credentials()[0]
        except PermanentError:
            return "<handle>"

    async def session(self, client: httpx.AsyncClient) -> Session:
        identifier, password = self._credentials()
        return await SESSIONS.get(client, self._service, identifier, password)

    # -- text ---------------------------------------------------------------------
    def measure(self, text: str) -> list[Measure]:
        return [
            Measure("graphemes", graphemes(text), MAX_GRAPHEMES),
            Measure("UTF-8 bytes", utf8_bytes(text), MAX_BYTES),
        ]

    def record(
        self,
        text: str,
        created_at: dt.datetime,
        reply: dict[str, Any] | None = None,
        embed: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        known = {h: d for h, d in self._dids.items() if d}
        record: dict[str, Any] = {
            "$type": POST,
            "text": text,
            "createdAt": created_at.astimezone(dt.UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
        }
        rich = facets(text, known)
        if rich:
            record["facets"] = rich
        if self.options.langs:
            record["langs"] = list(self.options.langs)
        if reply:
            record["reply"] = reply
        if embed:
            record["embed"] = embed
        return record

    # -- media ----------------------------------------------------------------------
    def upload_request(self, item: MediaItem, session: Session | None = None) -> PreparedRequest:
        headers, secrets, _ = self._auth(session)
        data = item.read()
        return PreparedRequest(
            "POST",
            f"{self._service}/xrpc/com.atproto.repo.uploadBlob",
            headers={**headers, "Content-Type": item.mime},
            content=data,
            secrets=secrets,
            note=f"{item.mime}, {len(data)} bytes, sha256 {item.sha256[:12]}",
        )

    def uploads(self, post: OutgoingPost) -> list[MediaItem]:
        """What the first part uploads: its images or its video, else the link
        card's thumbnail."""
        if post.media:
            return [m for m in post.media if m.kind in ("image", "video")]
        if post.card and post.card.thumb:
            return [post.card.thumb]
        return []

    def embed(self, post: OutgoingPost, blobs: list[dict[str, Any]]) -> dict[str, Any] | None:
        """The first part's embed, given the uploaded blobs in `uploads` order."""
        if post.media and post.media[0].kind == "video":
            (item,), (blob,) = self.uploads(post), blobs
            video: dict[str, Any] = {"$type": "app.bsky.embed.video", "video": blob}
            if item.alt:
                video["alt"] = item.alt
            if item.width and item.height:
                video["aspectRatio"] = {"width": item.width, "height": item.height}
            return video
        if post.media:
            images = []
            for item, blob in zip(self.uploads(post), blobs, strict=True):
                image: dict[str, Any] = {"image": blob, "alt": item.alt}
                if item.width and item.height:
                    image["aspectRatio"] = {"width": item.width, "height": item.height}
                images.append(image)
            return {"$type": "app.bsky.embed.images", "images": images}
        if post.card:
            external: dict[str, Any] = {
                "uri": post.card.uri,
                "title": post.card.title,
                "description": post.card.description,
            }
            if blobs:
                external["thumb"] = blobs[0]
            return {"$type": "app.bsky.embed.external", "external": external}
        return None

    async def upload(self, client: httpx.AsyncClient, item: MediaItem) -> dict[str, Any]:
        if item.kind == "video":
            return await self.upload_video(client, item)
        response = await self._call(client, lambda s: self.upload_request(item, s))
        blob = json_body(response).get("blob")
        if not isinstance(blob, dict):
            raise PermanentError("Bluesky uploadBlob answered without a blob")
        return blob

    # -- video --------------------------------------------------------------------
    def _video_service(self) -> str:
        return self.options.video_service

    def video_service_did(self) -> str:
        """The video service's did:web (a port is written %3A, as did:web does)."""
        url = httpx.URL(self._video_service())
        return f"did:web:{url.host}" + (f"%3A{url.port}" if url.port else "")

    async def pds_audience(self, client: httpx.AsyncClient, session: Session) -> str:
        """The service DID of the account's own PDS: the did:web of its host
        when the session's DID document names it (an entryway such as
        bsky.social is not the PDS), else what the configured service says it
        is (com.atproto.server.describeServer `did`: a PDS started under a
        name other than its address knows its DID, its URL does not)."""
        if session.pds:
            return f"did:web:{httpx.URL(session.pds).host}"
        if self._service not in _SERVER_DIDS:
            request = PreparedRequest(
                "GET", f"{self._service}/xrpc/com.atproto.server.describeServer"
            )
            answer = await send_classified(client, request, idempotent=True, classify=classify)
            did = json_body(answer).get("did")
            if not isinstance(did, str) or not did.startswith("did:"):
                raise PermanentError(f"{self._service} did not say its DID (describeServer)")
            _SERVER_DIDS[self._service] = did
        return _SERVER_DIDS[self._service]

    async def service_token(
        self, client: httpx.AsyncClient, aud: str, lxm: str, seconds: int
    ) -> str:
        """A service token from com.atproto.server.getServiceAuth, signed by the
        account for `aud`, good for the one method `lxm`."""

        def build(session: Session) -> PreparedRequest:
            params = httpx.QueryParams(
                {"aud": aud, "lxm": lxm, "exp": str(int(time.time()) + seconds)}
            )
            return PreparedRequest(
                "GET",
                f"{self._service}/xrpc/com.atproto.server.getServiceAuth?{params}",
                headers={"Authorization": f"Bearer {session.access_jwt}"},
                secrets=(session.access_jwt,),
            )

        token = json_body(await self._call(client, build)).get("token")
        if not isinstance(token, str) or not token:
            raise PermanentError("Bluesky getServiceAuth answered without a token")
        return token

    async def check_video_limits(self, client: httpx.AsyncClient, item: MediaItem) -> None:
        """Ask the video service whether the account may upload this file today."""
        lxm = "app.bsky.video.getUploadLimits"
        token = await self.service_token(
            client, self.video_service_did(), lxm, LIMITS_TOKEN_SECONDS
        )
        request = PreparedRequest(
            "GET",
            f"{self._video_service()}/xrpc/{lxm}",
            headers={"Authorization": f"Bearer {token}"},
            secrets=(token,),
        )
        limits = json_body(
            await send_classified(client, request, idempotent=True, classify=classify_video)
        )
        videos, left = limits.get("remainingDailyVideos"), limits.get("remainingDailyBytes")
        why = str(limits.get("message") or limits.get("error") or "")
        out_of_day = (isinstance(videos, int) and videos <= 0) or (
            isinstance(left, int) and left < item.size
        )
        if out_of_day:
            raise RetryableError(
                "Bluesky's daily video allowance is used up "
                f"({videos} videos, {left} bytes left; this one is {item.size} bytes)"
                + (f": {why}" if why else "")
            )
        if limits.get("canUpload") is not True:
            raise PermanentError(f"Bluesky's video service refuses uploads: {why or 'no reason'}")

    def video_upload_request(
        self, item: MediaItem, token: str | None, did: str, data: bytes | None = None
    ) -> PreparedRequest:
        data = item.read() if data is None else data
        params = httpx.QueryParams({"did": did, "name": f"{item.sha256[:16]}.mp4"})
        return PreparedRequest(
            "POST",
            f"{self._video_service()}/xrpc/app.bsky.video.uploadVideo?{params}",
            headers={
                "Authorization": f"Bearer {token or '<service token>'}",
                "Content-Type": item.mime,
            },
            content=data,
            secrets=(token,) if token else (),
            note=f"{item.mime}, {len(data)} bytes, sha256 {item.sha256[:12]}",
        )

    def job_request(self, job_id: str) -> PreparedRequest:
        params = httpx.QueryParams({"jobId": job_id})
        return PreparedRequest(
            "GET", f"{self._video_service()}/xrpc/app.bsky.video.getJobStatus?{params}"
        )

    async def upload_video(self, client: httpx.AsyncClient, item: MediaItem) -> dict[str, Any]:
        """The video's blob on the PDS, after the video service processed it
        (steps 1 to 3 of the module's docstring)."""
        await self.check_video_limits(client, item)
        session = await self.session(client)
        token = await self.service_token(
            client,
            await self.pds_audience(client, session),
            "com.atproto.repo.uploadBlob",
            UPLOAD_TOKEN_SECONDS,
        )
        data = item.read()
        response = await send_classified(
            client,
            self.video_upload_request(item, token, session.did, data),
            idempotent=True,  # an upload posts nothing; a repeat is `already_exists`
            classify=classify_upload,
        )
        job = _job(json_body(response))
        polls = 0
        while not isinstance(job.get("blob"), dict):
            state = job.get("state")
            if state == "JOB_STATE_FAILED":
                raise RetryableError(
                    "Bluesky's video service could not process the video: "
                    f"{job.get('message') or job.get('error') or 'failed'}"
                )
            job_id = job.get("jobId")
            if not isinstance(job_id, str) or not job_id:
                raise PermanentError("Bluesky's video service answered without a job id")
            polls += 1
            if polls > VIDEO_POLLS:
                raise RetryableError(f"Bluesky's video service is still processing job {job_id}")
            if polls > 1 or state not in (None, ""):
                await asyncio.sleep(VIDEO_POLL_SECONDS)
            answer = await send_classified(
                client, self.job_request(job_id), idempotent=True, classify=classify_video
            )
            job = {"jobId": job_id, **_job(json_body(answer))}
        return job["blob"]

    # -- requests -------------------------------------------------------------------
    def _auth(self, session: Session | None = None) -> tuple[dict[str, str], tuple[str, ...], str]:
        session = session or SESSIONS.cached(self._service, self._identifier())
        if session is None:
            return {"Authorization": "Bearer <access token>"}, (), self._identifier()
        return {"Authorization": f"Bearer {session.access_jwt}"}, (session.access_jwt,), session.did

    def create_request(
        self, rkey: str, record: dict[str, Any], session: Session | None = None
    ) -> PreparedRequest:
        headers, secrets, repo = self._auth(session)
        return PreparedRequest(
            "POST",
            f"{self._service}/xrpc/com.atproto.repo.createRecord",
            headers=headers,
            json={"repo": repo, "collection": POST, "rkey": rkey, "record": record},
            secrets=secrets,
        )

    def build_requests(self, post: OutgoingPost) -> list[PreparedRequest]:
        """The createRecord calls of a post. Reply refs of later parts name their
        parents' record keys exactly; their CIDs are only known once sent."""
        _, _, repo = self._auth()
        now = dt.datetime.now(dt.UTC)
        requests = []
        root: dict[str, str] | None = None
        parent: dict[str, str] | None = None
        uploads = self.uploads(post)
        requests.extend(
            self.video_upload_request(item, None, repo)
            if item.kind == "video"
            else self.upload_request(item)
            for item in uploads
        )
        placeholders = [
            {
                "$type": "blob",
                "ref": {"$link": f"<cid of upload {i + 1}>"},
                "mimeType": item.mime,
                "size": item.size,
            }
            for i, item in enumerate(uploads)
        ]
        for index, text in enumerate(post.texts):
            rkey = record_key(post, index)
            reply = {"root": root, "parent": parent} if root and parent else None
            embed = self.embed(post, placeholders) if index == 0 else None
            requests.append(self.create_request(rkey, self.record(text, now, reply, embed)))
            ref = {"uri": f"at://{repo}/{POST}/{rkey}", "cid": f"<cid of part {index + 1}>"}
            root = root or ref
            parent = ref
        return requests

    def parse_response(self, response: httpx.Response) -> SendResult:
        data = json_body(response)
        return SendResult(remote_id=data.get("uri"), remote_url=self.web_url(data.get("uri")))

    def web_url(self, uri: str | None) -> str | None:
        if not uri or not uri.startswith("at://"):
            return None
        repo, _, rkey = uri.removeprefix("at://").partition(f"/{POST}/")
        return f"https://bsky.app/profile/{repo}/post/{rkey}"

    # -- network ------------------------------------------------------------------
    async def _call(
        self, client: httpx.AsyncClient, build, *, idempotent: bool = True
    ) -> httpx.Response:
        """Send `build(session)` with the cached session; on ExpiredToken refresh
        it (or log in again if the refresh token is gone too) and send once more."""
        session = await self.session(client)
        try:
            return await send_classified(
                client, build(session), idempotent=idempotent, classify=classify
            )
        except ExpiredTokenError:
            identifier, password = self._credentials()
            session = await SESSIONS.refresh(client, self._service, identifier, password, session)
        try:
            return await send_classified(
                client, build(session), idempotent=idempotent, classify=classify
            )
        except ExpiredTokenError as exc:
            raise PermanentError(f"Bluesky token rejected after refresh: {exc}") from None

    async def resolve_mentions(self, client: httpx.AsyncClient, texts) -> None:
        """Resolve every @handle in `texts` to a DID (cached); failures stay plain."""
        for text in texts:
            for handle in mention_handles(text):
                if handle in self._dids:
                    continue
                request = PreparedRequest(
                    "GET",
                    f"{self._service}/xrpc/com.atproto.identity.resolveHandle?"
                    + str(httpx.QueryParams({"handle": handle})),
                )
                try:
                    response = await send_classified(
                        client, request, idempotent=True, classify=classify
                    )
                    did = json_body(response).get("did")
                except PermanentError:
                    did = None  # unknown handle: leave the text plain
                self._dids[handle] = did if isinstance(did, str) else None

    async def prepare(self, client: httpx.AsyncClient, post: OutgoingPost | None = None) -> None:
        """Network reads a preview may make so `build_requests` shows exactly what
        will be sent: the session (for the repo DID) and mention DIDs."""
        await self.session(client)
        if post is not None:
            await self.resolve_mentions(client, post.texts)

    async def get_record(self, client: httpx.AsyncClient, rkey: str) -> dict[str, Any] | None:
        """The record at `rkey` in our repo ({uri, cid, value}), or None."""

        def build(session: Session) -> PreparedRequest:
            params = httpx.QueryParams({"repo": session.did, "collection": POST, "rkey": rkey})
            return PreparedRequest(
                "GET",
                f"{self._service}/xrpc/com.atproto.repo.getRecord?{params}",
                headers={"Authorization": f"Bearer {session.access_jwt}"},
                secrets=(session.access_jwt,),
            )

        try:
            response = await self._call(client, build)
        except PermanentError as exc:
            if exc.status_code in (400, 404) and "RecordNotFound" in str(exc):
                return None
            raise
        return json_body(response)

    async def _create_part(
        self,
        client: httpx.AsyncClient,
        rkey: str,
        text: str,
        reply: dict[str, Any] | None,
        post: OutgoingPost | None = None,
    ) -> dict[str, str]:
        existing = await self.get_record(client, rkey)
        if existing is not None:
            return self._landed(existing, text, rkey)
        embed = None
        if post is not None:
            # Uploaded only now that the record is known not to exist.
            blobs = [await self.upload(client, item) for item in self.uploads(post)]
            embed = self.embed(post, blobs)
        record = self.record(text, dt.datetime.now(dt.UTC), reply, embed)

        def build(session: Session) -> PreparedRequest:
            return self.create_request(rkey, record, session)

        try:
            response = await self._call(client, build)
        except (RetryableError, UnknownOutcomeError) as exc:
            # A timeout, a 5xx, or the 500 a duplicate record key gets: look.
            try:
                existing = await self.get_record(client, rkey)
            except PublishError:
                existing = None
            if existing is not None:
                return self._landed(existing, text, rkey)
            if isinstance(exc, UnknownOutcomeError):
                # Not there (yet); a resend reuses the key, so retrying is safe.
                raise RetryableError(str(exc), status_code=exc.status_code) from None
            raise
        data = json_body(response)
        return {"uri": str(data["uri"]), "cid": str(data["cid"])}

    def _landed(self, existing: dict[str, Any], text: str, rkey: str) -> dict[str, str]:
        value = existing.get("value") or {}
        if value.get("text") != text:
            raise PermanentError(
                f"record key {rkey} already holds a different post; not overwriting it"
            )
        return {"uri": str(existing["uri"]), "cid": str(existing["cid"])}

    async def publish(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult:
        self.require_fits(post)
        await self.session(client)
        await self.resolve_mentions(client, post.texts)
        refs: list[dict[str, str]] = []
        for index, text in enumerate(post.texts):
            reply = {"root": refs[0], "parent": refs[-1]} if refs else None
            first = post if index == 0 else None
            refs.append(
                await self._create_part(client, record_key(post, index), text, reply, first)
            )
        return self._result(refs)

    def _result(self, refs: list[dict[str, str]]) -> SendResult:
        return SendResult(
            remote_id=refs[0]["uri"],
            remote_url=self.web_url(refs[0]["uri"]),
            detail={
                "uris": [r["uri"] for r in refs],
                "cids": [r["cid"] for r in refs],
                "urls": [self.web_url(r["uri"]) for r in refs],
            },
        )

    async def check(self, client: httpx.AsyncClient) -> dict[str, Any]:
        def build(session: Session) -> PreparedRequest:
            return PreparedRequest(
                "GET",
                f"{self._service}/xrpc/com.atproto.server.getSession",
                headers={"Authorization": f"Bearer {session.access_jwt}"},
                secrets=(session.access_jwt,),
            )

        data = json_body(await self._call(client, build))
        return {
            "service": self._service,
            "handle": data.get("handle"),
            "did": data.get("did"),
            "active": data.get("active", True),
        }

    async def reconcile(self, client: httpx.AsyncClient, post: OutgoingPost) -> SendResult | None:
        """Landed only when every part is there. When some are missing this says
        None: a resend re-reads each key first, so it completes the thread without
        repeating the parts already posted."""
        refs = []
        for index, text in enumerate(post.texts):
            rkey = record_key(post, index)
            existing = await self.get_record(client, rkey)
            if existing is None:
                return None
            refs.append(self._landed(existing, text, rkey))
        return self._result(refs)
