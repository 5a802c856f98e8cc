"""Fetching an article over http(s) with httpx, within a size and a time budget."""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from scheduler.errors import IngestError

_ACCEPTED_TYPES = ("text/", "application/xhtml+xml", "application/xml")


@dataclass(frozen=True)
class Fetched:
    url: str
    body: bytes
    content_type: str
    charset: str | None


def check_url(source: str) -> None:
    try:
        parts = urlsplit(source)
        host = parts.hostname
    except ValueError as exc:
        raise IngestError(f"{source}: not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise IngestError(f"unsupported URL scheme {scheme!r}: only http and https can be fetched")
    if not host:
        raise IngestError(f"{source}: the URL has no host")


def fetch(url: str, *, max_bytes: int, timeout: float) -> Fetched:
    check_url(url)
    # The timeout bounds each network wait; the deadline bounds the whole
    # download, so a server trickling bytes cannot hold ingest forever.
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": "scheduler-ingest/0.1", "Accept": "text/html, text/plain;q=0.9"}
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=5) as client,
            client.stream("GET", url, headers=headers) as resp,
        ):
            if resp.status_code >= 400:
                raise IngestError(f"{url}: the server answered HTTP {resp.status_code}")
            content_type = resp.headers.get("content-type", "text/html")
            mime = content_type.split(";")[0].strip().lower()
            if mime and not mime.startswith(_ACCEPTED_TYPES):
                raise IngestError(f"{url}: {mime} is not an article (expected HTML or text)")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise IngestError(f"{url} is too large ({int(declared)} bytes, limit {max_bytes})")
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise IngestError(f"{url} is too large (over the {max_bytes} byte limit)")
                if time.monotonic() > deadline:
                    raise IngestError(f"{url}: timed out after {timeout:g}s")
                chunks.append(chunk)
            return Fetched(str(resp.url), b"".join(chunks), mime, resp.charset_encoding)
    except httpx.TimeoutException:
        raise IngestError(f"{url}: timed out after {timeout:g}s") from None
    except httpx.TooManyRedirects:
        raise IngestError(f"{url}: too many redirects") from None
    except httpx.UnsupportedProtocol:
        raise IngestError(f"{url}: redirected to an unsupported URL scheme") from None
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IngestError(f"{url}: could not fetch ({reason})") from None
