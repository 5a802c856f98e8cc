"""Loading an article from a file, a URL or stdin into clean, canonical text.

The result depends only on the input bytes (no clock, no randomness), so the
same article loaded twice gives the same text and the same storage hash.
"""

from __future__ import annotations

import sys
from pathlib import Path

import regex

from scheduler.errors import IngestError
from scheduler.ingest.decoding import decode_bytes, normalise_text
from scheduler.ingest.fetch import check_url, fetch
from scheduler.ingest.html import html_to_article, looks_like_html
from scheduler.ingest.types import LoadedArticle

MAX_BYTES = 5_000_000
TIMEOUT_S = 20.0
_SCHEME = regex.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def load_article(
    source: str,
    *,
    max_bytes: int = MAX_BYTES,
    timeout: float = TIMEOUT_S,
    allow_private: bool = False,
) -> LoadedArticle:
    """Load `source` (a path, an http(s) URL, or "-" for stdin). A URL, and every
    redirect, must be on a public address unless `allow_private`."""
    declared_type: str | None = None
    charset: str | None = None
    if source == "-":
        name = "<stdin>"
        raw = sys.stdin.buffer.read(max_bytes + 1)
        _check_size(name, len(raw), max_bytes)
    elif _SCHEME.match(source):
        check_url(source)
        fetched = fetch(source, max_bytes=max_bytes, timeout=timeout, allow_private=allow_private)
        name, raw = fetched.url, fetched.body
        declared_type, charset = fetched.content_type, fetched.charset
    else:
        path = Path(source)
        name = str(path)
        if path.is_dir():
            raise IngestError(f"{source} is a folder, not an article file")
        if not path.is_file():
            raise IngestError(f"no such file: {source}")
        _check_size(name, path.stat().st_size, max_bytes)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise IngestError(f"cannot read {source}: {exc.strerror}") from None
    return _to_article(raw, name, declared_type, charset)


def article_from_bytes(
    raw: bytes, name: str, content_type: str | None = None, charset: str | None = None
) -> LoadedArticle:
    """An article from bytes already fetched (a feed's entry, a page re-checked),
    cleaned exactly as `load_article` cleans it, so the texts compare."""
    return _to_article(raw, name, content_type, charset)


def _to_article(
    raw: bytes, name: str, declared_type: str | None, charset: str | None
) -> LoadedArticle:
    text = decode_bytes(raw, name, charset)
    is_html = declared_type in ("text/html", "application/xhtml+xml") or (
        declared_type in (None, "text/plain", "application/xml") and looks_like_html(text)
    )
    if is_html:
        page = html_to_article(text, name)
        body = normalise_text(page.text)
        title = page.title or _first_line(body)
        return LoadedArticle(
            text=body, source=name, title=title, content_type="text/html", published=page.published
        )
    body = normalise_text(text)
    if not body:
        raise IngestError(f"{name} is empty")
    return LoadedArticle(text=body, source=name, title=_first_line(body))


def _check_size(name: str, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise IngestError(f"{name} is too large ({size} bytes, limit {max_bytes})")


def _first_line(text: str) -> str | None:
    line = text.split("\n", 1)[0].strip()
    return line[:200] or None
