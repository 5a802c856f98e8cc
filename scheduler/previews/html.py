"""`scheduler preview --html FILE`: one self-contained page (no scripts, no
external files) with a card per post styled after its platform, grouped into a
day-by-day timeline in each channel's local time.

The page is built from the same `PostPreview` objects as the terminal and JSON
previews, so it shows the same texts, lengths and requests.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import regex
from markupsafe import Markup, escape

from scheduler.previews.preview import HASHTAG, PostPreview

_TOKEN = regex.compile(rf"https?://[^\s<>\"]+|{HASHTAG.pattern}", regex.IGNORECASE)
TEMPLATE = "page.html.j2"


def rich_text(text: str) -> Markup:
    """Escaped text with links and hashtags marked up, line breaks kept by CSS."""
    out: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        out.append(str(escape(text[pos : m.start()])))
        token = m.group(0)
        if token.startswith("#"):
            out.append(f'<span class="tag">{escape(token)}</span>')
        else:
            url = token.rstrip(".,;:!?)")
            out.append(f'<a href="{escape(url)}">{escape(url)}</a>{escape(token[len(url) :])}')
        pos = m.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))


def marked_sentence(source: dict[str, Any]) -> Markup:
    """The source sentence with the quoted words highlighted."""
    sentence, words = source.get("sentence") or "", source.get("words") or ""
    at = sentence.find(words) if words else -1
    if at < 0:
        return Markup(escape(sentence))
    return Markup(
        f"{escape(sentence[:at])}<mark>{escape(words)}</mark>{escape(sentence[at + len(words) :])}"
    )


#: Larger files are named on the page, not embedded in it.
EMBED_LIMIT = 4 * 1024 * 1024


def data_uri(media: dict[str, Any]) -> str | None:
    """The file as a data: URI, so the page stays one self-contained file."""
    if media["size"] > EMBED_LIMIT or not media["mime"].startswith("image/"):
        return None
    try:
        data = Path(media["path"]).read_bytes()
    except OSError:
        return None
    return f"data:{media['mime']};base64,{base64.b64encode(data).decode()}"


def _day_label(day: str) -> str:
    d = dt.date.fromisoformat(day)
    return f"{d:%A} {d.day} {d:%B %Y}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        rich_text=rich_text,
        marked_sentence=marked_sentence,
        day_label=_day_label,
        data_uri=data_uri,
        host=lambda url: urlsplit(url).netloc or url,
        pretty_json=lambda data: json.dumps(data, ensure_ascii=False, indent=2),
    )
    return env


def render_page(items: list[PostPreview], *, generated: dt.datetime | None = None) -> str:
    generated = generated or dt.datetime.now(dt.UTC)
    days: dict[str, list[PostPreview]] = {}
    for item in sorted(items, key=lambda i: (i.due_utc, i.id)):
        days.setdefault(item.day_local, []).append(item)
    platforms = Counter(i.platform for i in items)
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            items=items,
            days=days,
            platforms=sorted(platforms.items()),
            channels=sorted({i.channel for i in items}),
            over_limit=sum(1 for i in items if i.over_limit),
            expired=sum(1 for i in items if i.expired),
            generated=generated.strftime("%Y-%m-%d %H:%M UTC"),
        )
    )


def write_page(items: list[PostPreview], path: Path) -> Path:
    path = path.expanduser()
    if not path.parent.is_dir():
        from scheduler.errors import SchedulerError

        raise SchedulerError(f"folder {path.parent} does not exist")
    path.write_text(render_page(items), encoding="utf-8")
    return path
