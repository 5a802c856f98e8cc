"""Fetching an article over http(s) with httpx, within a size and a time budget,
from public addresses only unless the caller allows private ones.

A URL from an article list or a feed must not make ingest read the machine's own
services (a database admin page on localhost, a cloud metadata endpoint at
169.254.169.254) and store their answer as an article; redirects are the usual way
there, so every hop is checked, not only the first URL.
"""

from __future__ import annotations

import ipaddress
import socket
import time
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from scheduler.errors import IngestError

_ACCEPTED_TYPES = ("text/", "application/xhtml+xml", "application/xml")
MAX_REDIRECTS = 5

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


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


def is_public(address: IPAddress) -> bool:
    """False for loopback, private, link-local, multicast, reserved, unspecified
    and shared (carrier NAT) addresses, also when written as IPv6 around IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None and not is_public(embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_reserved
        or address.is_loopback
        or address.is_link_local
        or address.is_unspecified
        or address.is_private
    )


def _parse_address(text: str) -> IPAddress:
    # getaddrinfo keeps an IPv6 zone ("fe80::1%eth0"); ipaddress does not want it.
    return ipaddress.ip_address(text.split("%", 1)[0])


def check_public_host(url: str) -> None:
    """Refuse `url` when its host is, or resolves to, any non-public address. Every
    address the name has counts, since the connection may use any of them."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {_parse_address(host)}
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
        except (OSError, UnicodeError) as exc:
            raise IngestError(f"{url}: could not fetch (cannot resolve {host}: {exc})") from None
        addresses = {_parse_address(info[4][0]) for info in infos}
    private = sorted(str(a) for a in addresses if not is_public(a))
    if private:
        raise IngestError(
            f"{url}: refused, {host} is a non-public address ({', '.join(private)});"
            " allow private addresses to fetch it"
        )


def _check_peer(url: str, resp: httpx.Response) -> None:
    """The address actually connected to, after the name was checked: a name can
    resolve differently the second time (DNS rebinding). Behind a proxy the peer
    is the proxy, which the user chose, so only the name check applies."""
    if _proxied(url):
        return
    stream = resp.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    if not peer:
        return
    address = _parse_address(str(peer[0]))
    if not is_public(address):
        raise IngestError(
            f"{url}: refused, connected to non-public address {address};"
            " allow private addresses to fetch it"
        )


def _proxied(url: str) -> bool:
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    if not proxies or urllib.request.proxy_bypass_environment(parts.hostname or "", proxies):
        return False
    return parts.scheme in proxies or "all" in proxies


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    allow_private: bool = False,
    max_redirects: int = MAX_REDIRECTS,
    accept: tuple[str, ...] = _ACCEPTED_TYPES,
) -> Fetched:
    """Fetch `url`, following at most `max_redirects` redirects. Unless
    `allow_private`, the URL and every redirect must be on a public address."""
    check_url(url)
    # The timeout bounds each network wait; the deadline bounds the whole
    # download, redirects included, so a server trickling bytes cannot hold
    # ingest forever.
    deadline = time.monotonic() + timeout
    headers = {"User-Agent": "scheduler-ingest/0.1", "Accept": "text/html, text/plain;q=0.9"}
    current = url
    try:
        # Redirects are followed here, not by httpx, so each hop is checked first.
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            for _hop in range(max_redirects + 1):
                if not allow_private:
                    check_public_host(current)
                with client.stream("GET", current, headers=headers) as resp:
                    if not allow_private:
                        _check_peer(current, resp)
                    if resp.has_redirect_location:
                        current = _redirect_target(url, resp)
                        if time.monotonic() > deadline:
                            raise IngestError(f"{url}: timed out after {timeout:g}s")
                        continue
                    return _read(
                        url,
                        resp,
                        max_bytes=max_bytes,
                        timeout=timeout,
                        deadline=deadline,
                        accept=accept,
                    )
            raise IngestError(f"{url}: too many redirects (more than {max_redirects})")
    except httpx.TimeoutException:
        raise IngestError(f"{url}: timed out after {timeout:g}s") from None
    except httpx.HTTPError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise IngestError(f"{url}: could not fetch ({reason})") from None


def _redirect_target(url: str, resp: httpx.Response) -> str:
    try:
        target = str(resp.url.join(resp.headers["location"]))
    except (httpx.InvalidURL, ValueError) as exc:
        raise IngestError(f"{url}: redirected to an invalid URL ({exc})") from None
    if urlsplit(target).scheme.lower() not in ("http", "https"):
        raise IngestError(f"{url}: redirected to an unsupported URL scheme")
    check_url(target)
    return target


def _read(
    url: str,
    resp: httpx.Response,
    *,
    max_bytes: int,
    timeout: float,
    deadline: float,
    accept: tuple[str, ...] = _ACCEPTED_TYPES,
) -> Fetched:
    if resp.status_code >= 400:
        raise IngestError(f"{url}: the server answered HTTP {resp.status_code}")
    content_type = resp.headers.get("content-type", "text/html")
    mime = content_type.split(";")[0].strip().lower()
    if accept != _ACCEPTED_TYPES and not mime.startswith(accept):
        raise IngestError(f"{url}: {mime or 'no type'} is not an image")
    if mime and not mime.startswith(accept):
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


#: Bluesky's limit for a link card's thumbnail, the smallest of the platforms.
THUMBNAIL_BYTES = 1_000_000


def fetch_thumbnail(url: str, *, timeout: float, allow_private: bool = False) -> bytes:
    """The article's lead image for its link card, fetched at ingest (never
    at send time), under the same address rules as the article."""
    return fetch(
        url,
        max_bytes=THUMBNAIL_BYTES,
        timeout=timeout,
        allow_private=allow_private,
        accept=("image/",),
    ).body
