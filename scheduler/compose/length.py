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
