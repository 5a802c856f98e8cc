"""A local LinkedIn for video posts on 127.0.0.1: the Videos API's
initializeUpload, the pre-signed part uploads, finalizeUpload and the video's
status, and the Posts API, each checking what LinkedIn checks and in order.

- Every /rest call carries the member token, a LinkedIn-Version (YYYYMM) and
  X-Restli-Protocol-Version 2.0.0; the part uploads carry none of them.
- initializeUpload names the owner and the file's size; the answer splits the
  size into parts of `part_size` bytes, each with its own upload URL, and an
  upload token (empty for a one-part upload, as LinkedIn answers).
- A part must be uploaded after its initialize, to its own URL, with exactly
  its bytes; the answer carries an ETag.
- finalizeUpload must name the video, its token and every part's ETag in
  order; the parts put together must be the declared size. The video is then
  PROCESSING for `polls` status reads, and AVAILABLE (or PROCESSING_FAILED
  when the bytes are not an MP4).
- A post may only name a video that is AVAILABLE, and gets its URN in
  x-restli-id; a post with the same commentary as one before is the 422
  DUPLICATE_POST naming it, as LinkedIn answers.

Knobs: `fail_parts` (statuses answered to the next part uploads),
`fail_posts` (statuses answered to the next posts, after the post was taken
when `taken` is set: a post that landed while its answer says otherwise).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit


class Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass
class Video:
    urn: str
    owner: str
    size: int
    token: str
    #: part index -> (first byte, last byte, upload path)
    parts: dict[int, tuple[int, int, str]]
    uploaded: dict[int, tuple[bytes, str]] = field(default_factory=dict)
    status: str = "WAITING_UPLOAD"
    reads: int = 0
    #: Its bytes are no MP4: processing fails.
    failed: bool = False


@dataclass
class LinkedInVideos:
    token: str
    author: str
    part_size: int = 4 * 1024 * 1024
    polls: int = 1
    fail_parts: list[int] = field(default_factory=list)
    fail_posts: list[int] = field(default_factory=list)
    taken: bool = False
    videos: dict[str, Video] = field(default_factory=dict)
    posts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: (method, path, status) of every request, in order.
    log: list[tuple[str, str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._ids = itertools.count(7100)
        self._lock = threading.Lock()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                extra: dict[str, str] = {}
                try:
                    with service._lock:
                        status, answer, extra = service.route(
                            self.command, parts.path, query, headers, body
                        )
                except Refused as exc:
                    status, answer = exc.status, {"status": exc.status, "message": exc.message}
                service.log.append((self.command, parts.path, status))
                data = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self) -> list[str]:
        return [f"{method} {path}" for method, path, _ in self.log]

    # -- routes --------------------------------------------------------------------------

    def route(self, method, path, query, headers, body) -> tuple[int, Any, dict[str, str]]:
        if path.startswith("/upload/"):
            if method != "PUT":
                raise Refused(405, "uploads are PUT")
            return self.part(path, headers, body)
        self.rest_headers(headers)
        if (method, path) == ("POST", "/rest/videos") and query.get("action") == "initializeUpload":
            return self.initialize(self.json(body, headers))
        if (method, path) == ("POST", "/rest/videos") and query.get("action") == "finalizeUpload":
            return self.finalize(self.json(body, headers))
        if method == "GET" and path.startswith("/rest/videos/"):
            return self.video(unquote(path.removeprefix("/rest/videos/")))
        if (method, path) == ("POST", "/rest/posts"):
            return self.post(self.json(body, headers))
        raise Refused(404, f"no resource {method} {path}")

    def rest_headers(self, headers: dict[str, str]) -> None:
        if headers.get("authorization") != f"Bearer {self.token}":
            raise Refused(401, "Invalid access token")
        if not re.fullmatch(r"20\d{2}(0[1-9]|1[0-2])", headers.get("linkedin-version", "")):
            raise Refused(426, "A valid LinkedIn-Version header is required")
        if headers.get("x-restli-protocol-version") != "2.0.0":
            raise Refused(400, "X-Restli-Protocol-Version 2.0.0 is required")

    @staticmethod
    def json(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        if not headers.get("content-type", "").startswith("application/json"):
            raise Refused(415, "the body must be application/json")
        try:
            data = json.loads(body)
        except ValueError:
            raise Refused(400, "the body is not JSON") from None
        if not isinstance(data, dict):
            raise Refused(400, "the body is not an object")
        return data

    def initialize(self, data: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        request = data.get("initializeUploadRequest") or {}
        owner, size = request.get("owner"), request.get("fileSizeBytes")
        if owner != self.author:
            raise Refused(403, "Accessing this video resource is forbidden")
        if not isinstance(size, int) or size <= 0:
            raise Refused(422, "fileSizeBytes must be a positive number")
        for flag in ("uploadCaptions", "uploadThumbnail"):
            if not isinstance(request.get(flag, False), bool):
                raise Refused(422, f"{flag} must be a boolean")
        urn = f"urn:li:video:{uuid.uuid4().hex[:12]}"
        count = -(-size // self.part_size)
        parts = {
            n: (n * self.part_size, min(size, (n + 1) * self.part_size) - 1, f"/upload/{urn}/{n}")
            for n in range(count)
        }
        token = uuid.uuid4().hex if count > 1 else ""
        self.videos[urn] = Video(urn, owner, size, token, parts)
        instructions = [
            {"uploadUrl": f"{self.url}{p}", "firstByte": a, "lastByte": b}
            for a, b, p in parts.values()
        ]
        value = {
            "video": urn,
            "uploadToken": token,
            "uploadUrlsExpireAt": 1_900_000_000_000,
            "uploadInstructions": instructions,
        }
        return 200, {"value": value}, {}

    def part(self, path, headers, body) -> tuple[int, Any, dict[str, str]]:
        _, _, urn, index = path.split("/")
        video = self.videos.get(urn)
        if video is None or not index.isdigit() or int(index) not in video.parts:
            raise Refused(404, "no such upload")
        if video.status != "WAITING_UPLOAD":
            raise Refused(409, "the upload was finalized already")
        if "authorization" in headers:
            raise Refused(400, "a pre-signed upload takes no Authorization header")
        first, last, _ = video.parts[int(index)]
        if len(body) != last - first + 1:
            raise Refused(400, f"part {index} takes {last - first + 1} bytes, not {len(body)}")
        if self.fail_parts:
            raise Refused(self.fail_parts.pop(0), "upload failed")
        etag = f"/ambry-video/part-{index}-{hashlib.sha256(body).hexdigest()[:16]}"
        video.uploaded[int(index)] = (body, etag)
        return 201, None, {"ETag": etag}

    def finalize(self, data: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        request = data.get("finalizeUploadRequest") or {}
        video = self.videos.get(request.get("video") or "")
        if video is None:
            raise Refused(404, "no such video")
        if request.get("uploadToken") != video.token:
            raise Refused(400, "uploadToken does not match the upload")
        want = [video.uploaded[n][1] for n in sorted(video.uploaded)]
        if len(video.uploaded) != len(video.parts) or request.get("uploadedPartIds") != want:
            raise Refused(400, "uploadedPartIds must name every part's ETag in order")
        whole = b"".join(video.uploaded[n][0] for n in sorted(video.uploaded))
        if len(whole) != video.size:
            raise Refused(400, "the parts do not add up to fileSizeBytes")
        video.status = "PROCESSING"
        video.failed = whole[4:8] != b"ftyp"
        return 200, None, {}

    def video(self, urn: str) -> tuple[int, Any, dict[str, str]]:
        video = self.videos.get(urn)
        if video is None:
            raise Refused(404, "no such video")
        if video.status == "PROCESSING":
            video.reads += 1
            if video.reads > self.polls:
                video.status = "PROCESSING_FAILED" if video.failed else "AVAILABLE"
        answer = {"id": urn, "owner": video.owner, "status": video.status}
        if video.status == "PROCESSING_FAILED":
            answer["processingFailureReason"] = "the file is not a playable MP4"
        return 200, answer, {}

    def post(self, data: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        for key in ("author", "commentary", "visibility", "distribution", "lifecycleState"):
            if key not in data:
                raise Refused(422, f"/{key} is required")
        if data["author"] != self.author:
            raise Refused(403, "not allowed to post as this author")
        media = (data.get("content") or {}).get("media") or {}
        video = self.videos.get(media.get("id") or "")
        if media and (video is None or video.status != "AVAILABLE"):
            raise Refused(422, f"media {media.get('id')} is not AVAILABLE")
        for urn, earlier in self.posts.items():
            if earlier["commentary"] == data["commentary"]:
                raise Refused(422, f"Content is a duplicate of {urn} (DUPLICATE_POST)")
        urn = f"urn:li:share:{next(self._ids)}"
        if self.fail_posts:
            status = self.fail_posts.pop(0)
            if self.taken:
                self.posts[urn] = data
            raise Refused(status, "Internal Server Error")
        self.posts[urn] = data
        return 201, None, {"x-restli-id": urn}
