"""HTML pages to article text, with trafilatura doing the main-content extraction."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import regex
import trafilatura

from scheduler.errors import IngestError

_HTML_SNIFF = regex.compile(
    r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|article|meta|p|div)\b",
    regex.IGNORECASE | regex.DOTALL,
)


@dataclass(frozen=True)
class HtmlArticle:
    text: str
    title: str | None
    published: dt.date | None


def looks_like_html(text: str) -> bool:
    return bool(_HTML_SNIFF.match(text[:4096]))


def html_to_article(html: str, name: str) -> HtmlArticle:
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
    )
    # trafilatura 1.x returns a dict, 2.x a Document: read either.
    if isinstance(doc, dict) or doc is None:
        fields = doc or {}
    else:
        fields = {key: getattr(doc, key, None) for key in ("text", "title", "date")}
    text = fields.get("text") or ""
    if not text.strip():
        raise IngestError(f"{name}: no article text found in the HTML page")
    # trafilatura keeps one paragraph per line; a blank line between them is the
    # paragraph mark the extractor relies on (quotes continue across paragraphs).
    text = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    return HtmlArticle(
        text=text, title=fields.get("title") or None, published=_date(fields.get("date"))
    )


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
