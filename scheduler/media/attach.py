"""Attaching media to posts: files a person gives (`queue add --media`, the
`media` column of `queue import`) and the quote card of a quote post on a
channel with `-o cards=true`. Each attachment is stored by content hash and
checked against the channel's platform before the post is queued."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlmodel import Session

from scheduler.errors import MediaError
from scheduler.media.cards import CardText, alt_text, outlet_of, render_card
from scheduler.media.checks import check_media
from scheduler.media.layout import find_layout, load_layout
from scheduler.media.store import attachment, read_file, store_bytes, video_facts
from scheduler.publishers.base import Publisher
from scheduler.storage.models import Article, Quote


def attach_files(
    session: Session,
    publisher: Publisher,
    files: list[str],
    alts: list[str],
    root: Path | None = None,
    *,
    store: bool = True,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Check `files` with their alt texts (by position) for the channel, then
    (unless `store` is false) store them. Returns the post's `media` list and
    warnings. A file that fails a check leaves nothing behind."""
    if len(alts) > len(files):
        raise MediaError(f"{len(alts)} --alt for {len(files)} --media; one alt text per file")
    read = [read_file(path) for path in files]
    texts = [(alts[i] if i < len(alts) else "").strip() for i in range(len(files))]
    seconds = [
        video_facts(data).seconds if row.mime.startswith("video/") else None for data, row in read
    ]
    media = [
        attachment(row, alt, length)
        for (_, row), alt, length in zip(read, texts, seconds, strict=True)
    ]
    warnings = check_media(publisher, media, [Path(f).name for f in files])
    if store:
        media = [
            attachment(store_bytes(session, data, root), alt, length)
            for (data, _), alt, length in zip(read, texts, seconds, strict=True)
        ]
    return media, warnings


def cards_on(publisher: Publisher) -> bool:
    return bool(getattr(publisher.options, "cards", False))


def quote_card(
    session: Session,
    publisher: Publisher,
    folders: list[Path],
    article: Article,
    quote: Quote,
    root: Path | None = None,
    text: str | None = None,
    speaker: str | None = None,
) -> dict[str, Any]:
    """Render, store and check the card of `quote` for the publisher's
    platform (`text`: its words as posted, when a whole quote joins parts or
    an editor changed them; `speaker`: the name an editor gave); its alt text
    is the quote and attribution within the platform's limit."""
    layout = load_layout(find_layout(folders))
    card = CardText(
        quote=text or quote.text,
        speaker=speaker if speaker is not None else (quote.speaker or ""),
        outlet=outlet_of(article.url, layout.text.outlet),
        date=article.published,
    )
    try:
        png = render_card(card, layout, publisher.platform)
    except MediaError as exc:
        raise MediaError(f"quote {quote.id}: {exc}") from None
    item = attachment(
        store_bytes(session, png, root), alt_text(card, publisher.media_rules.alt_limit or 2000)
    )
    check_media(publisher, [item], [f"card of quote {quote.id}"])
    return item
