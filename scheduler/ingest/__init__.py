"""Ingest: load an article (file, URL, stdin) and extract quotes and milestones.

Public API: `load_article(source)` and `extract(text)`.

The names are loaded on first use (PEP 562): other rooms import small parts of
this one (`ingest.text`'s sentence splitter, for shortening posts), and a
daemon that only sends must not pay for trafilatura and the quote rules at
start-up.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scheduler.ingest.extraction import extract
    from scheduler.ingest.loading import load_article
    from scheduler.ingest.types import (
        ExtractedMilestone,
        ExtractedQuote,
        Extraction,
        LoadedArticle,
    )

_WHERE = {
    "extract": "scheduler.ingest.extraction",
    "load_article": "scheduler.ingest.loading",
    "ExtractedMilestone": "scheduler.ingest.types",
    "ExtractedQuote": "scheduler.ingest.types",
    "Extraction": "scheduler.ingest.types",
    "LoadedArticle": "scheduler.ingest.types",
}

__all__ = [
    "ExtractedMilestone",
    "ExtractedQuote",
    "Extraction",
    "LoadedArticle",
    "extract",
    "load_article",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scheduler.ingest' has no attribute {name!r}")
