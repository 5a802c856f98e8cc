"""Ingest: load an article (file, URL, stdin) and extract quotes and milestones.

Public API: `load_article(source)` and `extract(text)`.
"""

from scheduler.ingest.extraction import extract
from scheduler.ingest.loading import load_article
from scheduler.ingest.types import (
    ExtractedMilestone,
    ExtractedQuote,
    Extraction,
    LoadedArticle,
)

__all__ = [
    "ExtractedMilestone",
    "ExtractedQuote",
    "Extraction",
    "LoadedArticle",
    "extract",
    "load_article",
]
