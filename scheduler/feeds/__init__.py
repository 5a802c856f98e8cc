"""Feeds in: RSS and Atom feeds polled with conditional requests (`poller`),
each new entry's article ingested once and planned for the feed's channels
(`entries`), and what the `feeds` commands do (`service`)."""
