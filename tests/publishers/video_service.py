"""A local Bluesky video service (the part of video.bsky.app the adapter
talks to) on 127.0.0.1, in front of the real reference PDS of the tests.

It checks requests the way the real service must: every call but
getJobStatus carries a service token (an ES256K JWT the account's PDS signed
with com.atproto.server.getServiceAuth), whose signature is verified against
the signing key in the account's DID document (read from the PDS), whose
`iss`, `aud`, `lxm` and `exp` must fit the call; uploads must be video/mp4,
whole (Content-Length), within the size and the day's allowance, and name the
uploading `did`. On an upload it stores the bytes into the real PDS with
com.atproto.repo.uploadBlob and the same token (as the real service stores
its processed file), so the blob a job hands back is a real blob of the
account. A file already processed for the account is answered 409
`already_exists` with its job, as the real service does. The service does
not transcode: the blob holds the bytes uploaded.

Knobs for tests: `fail_uploads` (statuses answered to the next uploads before
anything is stored), `polls` (getJobStatus answers before a job completes),
`videos_left` / `bytes_left` / `refusal` (what getUploadLimits says).
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

MAX_BYTES = 100_000_000
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#: The multicodec prefix of a compressed secp256k1 public key (varint 0xe7).
_SECP256K1_PUB = b"\xe7\x01"


class Refused(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def _b58decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _B58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Job:
    job_id: str
    did: str
    blob: dict[str, Any] | None = None
    error: str | None = None
    asked: int = 0


@dataclass
class VideoService:
    pds_url: str
    #: getJobStatus answers before a job completes.
    polls: int = 2
    fail_uploads: list[int] = field(default_factory=list)
    videos_left: int = 25
    bytes_left: int = 10 * 1024**3
    #: (error, message) getUploadLimits gives with canUpload false.
    refusal: tuple[str, str] | None = None
    #: (method, xrpc name, status) of every request, in order.
    log: list[tuple[str, str, int]] = field(default_factory=list)
    jobs: dict[str, Job] = field(default_factory=dict)
    #: (did, sha256 of the bytes) -> job id of a file already processed.
    done: dict[tuple[str, str], str] = field(default_factory=dict)
    #: Service tokens whose signature was checked and held.
    verified: int = 0

    def __post_init__(self) -> None:
        self._keys: dict[str, ec.EllipticCurvePublicKey] = {}
        self._lock = threading.Lock()
        self.pds_did = httpx.get(
            f"{self.pds_url}/xrpc/com.atproto.server.describeServer", timeout=10
        ).json()["did"]
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                name = parts.path.removeprefix("/xrpc/")
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    status, answer = service.route(
                        self.command, name, query, dict(self.headers.items()), body
                    )
                except Refused as exc:
                    status, answer = exc.status, {"error": exc.error, "message": exc.message}
                service.log.append((self.command, name, status))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.did = f"did:web:127.0.0.1%3A{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def calls(self) -> list[str]:
        return [name for _, name, _ in self.log]

    # -- service tokens ----------------------------------------------------------------

    def _key(self, did: str) -> ec.EllipticCurvePublicKey:
        """The #atproto signing key of `did`, from its DID document."""
        if did not in self._keys:
            answer = httpx.get(
                f"{self.pds_url}/xrpc/com.atproto.repo.describeRepo",
                params={"repo": did},
                timeout=10,
            )
            if answer.status_code != 200:
                raise Refused(401, "InvalidToken", f"cannot resolve {did}")
            methods = answer.json()["didDoc"].get("verificationMethod") or []
            (method,) = [m for m in methods if str(m.get("id", "")).endswith("#atproto")]
            raw = _b58decode(method["publicKeyMultibase"].removeprefix("z"))
            if method.get("type") == "Multikey":
                if not raw.startswith(_SECP256K1_PUB):
                    raise Refused(401, "InvalidToken", "signing key is not secp256k1")
                point = raw[len(_SECP256K1_PUB) :]
            elif method.get("type") == "EcdsaSecp256k1VerificationKey2019":
                point = raw  # the legacy form: the bare (uncompressed) point
            else:
                raise Refused(401, "InvalidToken", f"unknown key type {method.get('type')}")
            self._keys[did] = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256K1(), point)
        return self._keys[did]

    def token(self, headers: dict[str, str], aud: str, lxm: str) -> dict[str, Any]:
        """The claims of the request's service token, once it is verified."""
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not auth.startswith("Bearer "):
            raise Refused(401, "AuthMissing", "Authentication Required")
        try:
            head, payload, signature = auth.removeprefix("Bearer ").split(".")
            header, claims = json.loads(_b64url(head)), json.loads(_b64url(payload))
            raw = _b64url(signature)
        except ValueError:
            raise Refused(401, "BadJwt", "poorly formatted jwt") from None
        if header.get("alg") != "ES256K" or len(raw) != 64:
            raise Refused(401, "BadJwt", f"unexpected jwt algorithm {header.get('alg')}")
        if claims.get("exp", 0) < time.time():
            raise Refused(401, "JwtExpired", "jwt expired")
        if claims.get("aud") != aud:
            raise Refused(401, "BadJwtAudience", f"jwt audience does not match service did {aud}")
        if claims.get("lxm") != lxm:
            raise Refused(401, "BadJwtLexiconMethod", f"bad jwt lexicon method (want {lxm})")
        did = str(claims.get("iss") or "")
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            self._key(did).verify(der, f"{head}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise Refused(
                401, "BadJwtSignature", "jwt signature does not match jwt issuer"
            ) from None
        self.verified += 1
        return claims

    # -- the three methods ---------------------------------------------------------------

    def route(self, method: str, name: str, query, headers, body) -> tuple[int, dict]:
        if (method, name) == ("GET", "app.bsky.video.getUploadLimits"):
            self.token(headers, self.did, name)
            answer: dict[str, Any] = {
                "canUpload": self.refusal is None and self.videos_left > 0,
                "remainingDailyVideos": self.videos_left,
                "remainingDailyBytes": self.bytes_left,
            }
            if self.refusal is not None:
                answer["error"], answer["message"] = self.refusal
            return 200, answer
        if (method, name) == ("POST", "app.bsky.video.uploadVideo"):
            return self.upload(query, headers, body)
        if (method, name) == ("GET", "app.bsky.video.getJobStatus"):
            return 200, {"jobStatus": self.status(query)}
        raise Refused(404, "MethodNotImplemented", f"no method {name}")

    def upload(self, query, headers, body) -> tuple[int, dict]:
        claims = self.token(headers, self.pds_did, "com.atproto.repo.uploadBlob")
        did = query.get("did")
        if not did or not query.get("name"):
            raise Refused(400, "InvalidRequest", "did and name are required")
        if did != claims["iss"]:
            raise Refused(401, "InvalidToken", "the token was not issued by the uploading did")
        ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        if ctype != "video/mp4":
            raise Refused(400, "InvalidRequest", f"unsupported content type {ctype!r}")
        if not body or len(body) > MAX_BYTES:
            raise Refused(400, "InvalidRequest", f"video of {len(body)} bytes")
        if self.fail_uploads:
            status = self.fail_uploads.pop(0)
            raise Refused(status, "InternalServerError", "upload failed")
        digest = hashlib.sha256(body).hexdigest()
        with self._lock:
            known = self.done.get((did, digest))
            if known is not None:
                return 409, {
                    "did": did,
                    "jobId": known,
                    "state": "JOB_STATE_COMPLETED",
                    "error": "already_exists",
                    "message": "Video already processed",
                }
            if self.videos_left <= 0 or self.bytes_left < len(body):
                raise Refused(400, "InvalidRequest", "daily upload limit reached")
            job = Job(uuid.uuid4().hex[:20], did)
            self.jobs[job.job_id] = job
        if body[4:8] != b"ftyp":
            job.error = "video processing error: not an MP4 file"
        else:
            stored = httpx.post(
                f"{self.pds_url}/xrpc/com.atproto.repo.uploadBlob",
                content=body,
                headers={"Authorization": headers.get("Authorization", ""), "Content-Type": ctype},
                timeout=30,
            )
            if stored.status_code != 200:
                job.error = f"storing on the PDS failed: {stored.text[:200]}"
            else:
                job.blob = stored.json()["blob"]
                with self._lock:
                    self.done[(did, digest)] = job.job_id
                    self.videos_left -= 1
                    self.bytes_left -= len(body)
        # Like the real service: the job status at the top level, not under jobStatus.
        return 200, {"did": did, "jobId": job.job_id, "state": "JOB_STATE_CREATED"}

    def status(self, query) -> dict[str, Any]:
        job = self.jobs.get(query.get("jobId") or "")
        if job is None:
            raise Refused(404, "NotFound", "no such job")
        job.asked += 1
        answer: dict[str, Any] = {"jobId": job.job_id, "did": job.did}
        if job.asked <= self.polls:
            return answer | {"state": "JOB_STATE_ENCODING", "progress": 100 * job.asked // 3}
        if job.error:
            return answer | {"state": "JOB_STATE_FAILED", "error": job.error}
        return answer | {"state": "JOB_STATE_COMPLETED", "progress": 100, "blob": job.blob}
