"""Counting text the ways platforms count it. Never plain len() for a limit:
a family emoji is one grapheme, several code points and many UTF-8 bytes."""

from __future__ import annotations

import regex

_GRAPHEME = regex.compile(r"\X")
_URL = regex.compile(r"https?://[^\s<>\"]+", regex.IGNORECASE)


def graphemes(text: str) -> int:
    """Extended grapheme clusters: what a reader sees as one character."""
    return len(_GRAPHEME.findall(text))


def code_points(text: str) -> int:
    return len(text)


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


def split_graphemes(text: str) -> list[str]:
    return _GRAPHEME.findall(text)


def truncate_graphemes(text: str, limit: int, ellipsis: str = "…") -> str:
    """Cut to at most `limit` graphemes, on a word boundary when one is near."""
    clusters = split_graphemes(text)
    if len(clusters) <= limit:
        return text
    keep = "".join(clusters[: max(0, limit - len(ellipsis))])
    cut = keep.rstrip()
    space = cut.rfind(" ")
    if space > len(cut) * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + ellipsis


def urls(text: str) -> list[str]:
    return [m.group(0).rstrip(".,;:!?)") for m in _URL.finditer(text)]


# -- per-platform counting ----------------------------------------------------------

# Trailing punctuation that ends a sentence rather than belonging to a URL.
_URL_TRAILING = ".,;:!?)'\""
# `@user@remote.domain`: Mastodon counts only the `@user` part.
_REMOTE_MENTION = regex.compile(
    r"(?<![\w@/])(@[a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?)@[a-z0-9.-]+\.[a-z]{2,}",
    regex.IGNORECASE,
)
_EMOJI_CLUSTER = regex.compile(r"[\p{Extended_Pictographic}\p{Regional_Indicator}\u20e3]")


def url_spans(text: str) -> list[tuple[int, int]]:
    """Code-point (start, end) of each http(s) URL, without trailing punctuation."""
    spans = []
    for match in _URL.finditer(text):
        start, end = match.span()
        while end > start and text[end - 1] in _URL_TRAILING:
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


def replace_urls(text: str, replacement: str) -> str:
    out, last = [], 0
    for start, end in url_spans(text):
        out.append(text[last:start])
        out.append(replacement)
        last = end
    out.append(text[last:])
    return "".join(out)


def mastodon_length(text: str, *, spoiler_text: str = "", url_length: int = 23) -> int:
    """Mastodon's count: graphemes of content warning + text, every http(s) URL
    as `url_length`, and a remote mention `@user@domain` as `@user`."""
    body = replace_urls(text, "x" * url_length)
    body = _REMOTE_MENTION.sub(lambda m: m.group(1), body)
    return graphemes(spoiler_text) + graphemes(body)


def x_weighted_length(text: str) -> int:
    """X's weighted length (twitter-text v3: CJK 2, emoji sequence 2, URL 23, NFC)."""
    from twitter_text import parse_tweet

    return parse_tweet(text).weightedLength


def threads_length(text: str) -> int:
    """Threads' count: one per character, but an emoji costs its UTF-8 byte length."""
    total = 0
    for cluster in split_graphemes(text):
        total += utf8_bytes(cluster) if _EMOJI_CLUSTER.search(cluster) else 1
    return total


def unique_urls(text: str) -> int:
    return len({text[s:e] for s, e in url_spans(text)})


def utf16_units(text: str) -> int:
    """UTF-16 code units: the unit of Telegram entity offsets."""
    return len(text.encode("utf-16-le")) // 2
