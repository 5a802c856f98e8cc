"""HTML pages to article text, with trafilatura doing the main-content extraction.

The page's date is its publication date, read from what the page says outright
(meta tags, JSON-LD, a `<time>` in the article) before trafilatura's guess:
that guess may be the modified date or a teaser's date in a sidebar.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import regex
import trafilatura
from trafilatura.utils import load_html

from scheduler.errors import IngestError
from scheduler.ingest.milestones import article_date, written_dates
from scheduler.ingest.text import word_set

_HTML_SNIFF = regex.compile(
    r"\A\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body|article|meta|p|div)\b",
    regex.IGNORECASE | regex.DOTALL,
)


@dataclass(frozen=True)
class HtmlArticle:
    text: str
    title: str | None
    published: dt.date | None
    #: The page's summary and lead image URL (OpenGraph/meta), for link cards.
    description: str | None = None
    image: str | None = None


def looks_like_html(text: str) -> bool:
    return bool(_HTML_SNIFF.match(text[:4096]))


# Meta tags that hold the publication date (lower-cased name, property or itemprop).
_PUBLISHED_META = word_set(
    """article:published_time og:article:published_time article.published datepublished
    pubdate publishdate publish-date publish_date publication_date date.issued dc.date.issued
    dcterms.issued dc.date dcterms.date sailthru.date parsely-pub-date
    originalpublicationdate article_date_original date"""
)
_ARTICLE_TYPES = regex.compile(r"(?i)article|posting|report|blog")
# Where a `<time>` belongs to another article, not this one.
_ELSEWHERE = regex.compile(r"(?i)related|teaser|more|aside|sidebar|recommend|promo|footer|nav")


def html_to_article(html: str, name: str) -> HtmlArticle:
    doc = trafilatura.bare_extraction(
        html,
        with_metadata=True,
        include_comments=False,
        include_tables=False,
        favor_precision=True,
        deduplicate=False,
        # Without the search through the page's text, which picks up teasers' dates.
        date_extraction_params={
            "original_date": True,
            "extensive_search": False,
            "max_date": dt.date.today().isoformat(),
        },
    )
    # trafilatura 1.x returns a dict, 2.x a Document: read either.
    if isinstance(doc, dict) or doc is None:
        fields = doc or {}
    else:
        fields = {
            key: getattr(doc, key, None)
            for key in ("text", "title", "date", "description", "image")
        }
    text = fields.get("text") or ""
    if not text.strip():
        raise IngestError(f"{name}: no article text found in the HTML page")
    # trafilatura keeps one paragraph per line; a blank line between them is the
    # paragraph mark the extractor relies on (quotes continue across paragraphs).
    text = "\n\n".join(line.strip() for line in text.splitlines() if line.strip())
    tree = load_html(html)
    published = (_stated_date(tree) if tree is not None else None) or article_date(text)
    if published is None:
        guess = _date(fields.get("date"))
        # trafilatura's guess, unless it is the date of a teaser beside the article.
        if tree is None or guess not in _dates_elsewhere(tree):
            published = guess
    return HtmlArticle(
        text=text,
        title=fields.get("title") or None,
        published=published,
        description=fields.get("description") or None,
        image=fields.get("image") or None,
    )


def _stated_date(tree: Any) -> dt.date | None:
    """The publication date the page states: meta tags, JSON-LD, then a `<time>`."""
    for meta in tree.iter("meta"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _PUBLISHED_META and (found := _date(meta.get("content"))):
            return found
    for script in tree.iter("script"):
        if (script.get("type") or "").lower() != "application/ld+json":
            continue
        try:
            data = json.loads(script.text or "")
        except ValueError:
            continue
        dates = sorted(_json_ld_dates(data), key=lambda pair: not pair[0])
        for _, value in dates:
            if found := _date(value):
                return found
    times = [t for t in tree.iter("time") if not _elsewhere(t)]
    for t in times:
        stated = (t.get("itemprop") or "").lower() == "datepublished" or t.get(
            "pubdate"
        ) is not None
        if stated and (found := _date(t.get("datetime") or t.text_content())):
            return found
    for t in times:
        in_article = any(a.tag in ("article", "main") for a in t.iterancestors())
        if in_article and (found := _date(t.get("datetime"))):
            return found
    return None


def _json_ld_dates(data: Any) -> Iterator[tuple[bool, str]]:
    """(is an article, datePublished) for every object in a JSON-LD block."""
    if isinstance(data, list):
        for item in data:
            yield from _json_ld_dates(item)
    elif isinstance(data, dict):
        value = data.get("datePublished")
        if isinstance(value, str):
            kind = data.get("@type")
            kinds = kind if isinstance(kind, list) else [kind]
            yield any(isinstance(k, str) and _ARTICLE_TYPES.search(k) for k in kinds), value
        for key, item in data.items():
            if key != "datePublished" and isinstance(item, (dict, list)):
                yield from _json_ld_dates(item)


def _dates_elsewhere(tree: Any) -> set[dt.date | None]:
    """Dates in sidebars, teasers and footers (not around the article itself)."""
    out: set[dt.date | None] = set()
    for node in tree.iter():
        if not isinstance(node.tag, str) or not _foreign(node):
            continue
        if any(inner.tag in ("article", "main") for inner in node.iter()):
            continue
        out.update(_date(t.get("datetime")) for t in node.iter("time"))
        out.update(written_dates(node.text_content()))
    out.discard(None)
    return out


def _foreign(node: Any) -> bool:
    if node.tag in ("aside", "nav", "footer"):
        return True
    return bool(_ELSEWHERE.search(f"{node.get('class') or ''} {node.get('id') or ''}"))


def _elsewhere(element: Any) -> bool:
    return any(_foreign(node) for node in (element, *element.iterancestors()))


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None
