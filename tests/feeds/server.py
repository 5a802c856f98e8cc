"""A small HTTP server on 127.0.0.1 for the feed, watch and notification tests:
pages that a test changes between requests, answered with ETag and
Last-Modified (and 304 when the client's validators match), and a receiver
that keeps every POST it gets."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Page:
    body: str
    content_type: str = "text/plain; charset=utf-8"
    status: int = 200
    #: "etag", "modified", "both" or "none": which validators the page gets.
    validators: str = "etag"
    version: int = 1
    #: An event the server waits for before answering: a feed that stays
    #: unanswered until the test has seen what it waits for (bounded at 60 s).
    hold: threading.Event | None = None


@dataclass
class Site:
    pages: dict[str, Page] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    #: (path, status answered, request headers) for every GET.
    log: list[tuple[str, int, dict[str, str]]] = field(default_factory=list)
    posts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    #: Status a POST path answers (default 200).
    post_status: dict[str, int] = field(default_factory=dict)
    #: POST paths left unanswered until their event is set (bounded at 60 s):
    #: a platform that hangs. `arrived` counts the POSTs each path has received.
    post_hold: dict[str, threading.Event] = field(default_factory=dict)
    arrived: Counter[str] = field(default_factory=Counter)
    base: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def put(self, path: str, body: str, **kw: Any) -> None:
        with self.lock:
            old = self.pages.get(path)
            version = old.version + 1 if old else 1
            self.pages[path] = Page(body, version=version, **kw)

    def requests_to(self, path: str) -> list[tuple[int, dict[str, str]]]:
        return [(s, h) for p, s, h in self.log if p == path]


def _etag(page: Page) -> str:
    return '"' + hashlib.sha1(page.body.encode()).hexdigest()[:12] + '"'


def _modified(page: Page) -> str:
    # A fixed date per version: the page "changed" when its version did.
    return f"Tue, {page.version:02d} Dec 2026 10:00:00 GMT"


def make_handler(site: Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            with site.lock:
                site.hits[path] += 1
                page = site.pages.get(path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            if page is not None and page.hold is not None:
                page.hold.wait(60)
            if page is None:
                return self._send(path, 404, b"not here", "text/plain", {}, headers)
            extra = {}
            if page.validators in ("etag", "both"):
                extra["ETag"] = _etag(page)
            if page.validators in ("modified", "both"):
                extra["Last-Modified"] = _modified(page)
            if page.status == 200:
                if "ETag" in extra and headers.get("if-none-match") == extra["ETag"]:
                    return self._send(path, 304, b"", None, extra, headers)
                if (
                    "ETag" not in extra
                    and "Last-Modified" in extra
                    and headers.get("if-modified-since") == extra["Last-Modified"]
                ):
                    return self._send(path, 304, b"", None, extra, headers)
            self._send(path, page.status, page.body.encode(), page.content_type, extra, headers)

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                data = json.loads(raw or b"{}")
            except ValueError:
                data = {"raw": raw.decode(errors="replace")}
            path = self.path.split("?", 1)[0]
            with site.lock:
                site.arrived[path] += 1
                hold = site.post_hold.get(path)
            if hold is not None:
                hold.wait(60)
            with site.lock:
                status = site.post_status.get(path, 200)
                if status < 400:
                    site.posts.append((path, data))
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def _send(self, path, status, body, ctype, extra, headers) -> None:  # type: ignore[no-untyped-def]
            with site.lock:
                site.log.append((path, status, headers))
            self.send_response(status)
            for k, v in extra.items():
                self.send_header(k, v)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if body:
                self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


class _Server(ThreadingHTTPServer):
    # socketserver's backlog is 5: 16 sends connecting at once on a busy
    # machine could overflow it, and a dropped connect waits out a SYN resend.
    request_queue_size = 64


class Served:
    def __init__(self) -> None:
        self.site = Site()
        self.httpd = _Server(("127.0.0.1", 0), make_handler(self.site))
        self.httpd.daemon_threads = True
        self.site.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def rss(items: list[tuple[str, str, str]], title: str = "Club news") -> str:
    """An RSS 2.0 document: items are (guid, link, title)."""
    body = "".join(
        f"<item><guid>{g}</guid><link>{link}</link><title>{t}</title></item>"
        for g, link, t in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title}</title><link>http://example.invalid/</link>"
        f"<description>ours</description>{body}</channel></rss>"
    )
