"""Finding adapters: every publisher, built-in or third-party, registers under
the `scheduler.publishers` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points

from scheduler.errors import ConfigError
from scheduler.publishers.base import Publisher

GROUP = "scheduler.publishers"


@cache
def _entry_points() -> dict[str, EntryPoint]:
    # Reading the installed packages' entry points costs about 11 ms a call
    # (every distribution's metadata is read): once a process.
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def available() -> dict[str, str]:
    """Platform name -> 'module:Class', without importing any adapter."""
    return {name: ep.value for name, ep in _entry_points().items()}


@cache
def publisher_class(platform: str) -> type[Publisher]:
    """The adapter class for `platform`, cached: the daemon builds an adapter
    per channel, and before the cache 1,000 channels spent 24 s of CPU reading
    entry points (profiled with cProfile, benchmarks/channels.py). An unknown
    name raises and is not cached."""
    ep = _entry_points().get(platform)
    if ep is None:
        known = ", ".join(sorted(available())) or "none installed"
        raise ConfigError(f"unknown platform {platform!r} (known: {known})")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Publisher)):
        raise ConfigError(f"entry point {ep.value} is not a Publisher")
    return cls
