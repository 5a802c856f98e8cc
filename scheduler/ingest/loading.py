"""Loading articles from a file, a URL or stdin into clean text.

First version: plain UTF-8 text files and stdin. The extraction issue adds HTML
(trafilatura), URLs (httpx) and encoding repair.
"""

from __future__ import annotations

import sys
from pathlib import Path

from scheduler.errors import IngestError
from scheduler.ingest.types import LoadedArticle


def load_article(source: str) -> LoadedArticle:
    if source == "-":
        raw = sys.stdin.buffer.read()
        name = "<stdin>"
    else:
        path = Path(source)
        if not path.is_file():
            raise IngestError(f"no such file: {source}")
        raw = path.read_bytes()
        name = str(path)
    if b"\x00" in raw:
        raise IngestError(f"{name} looks like a binary file, not an article")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IngestError(f"{name} is not UTF-8 text ({exc.reason})") from None
    text = text.replace("\r\n", "\n").strip()
    if not text:
        raise IngestError(f"{name} is empty")
    title = text.splitlines()[0][:200]
    return LoadedArticle(text=text, source=name, title=title)
