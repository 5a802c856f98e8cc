"""Finding adapters: every publisher, built-in or third-party, registers under
the `scheduler.publishers` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from scheduler.errors import ConfigError
from scheduler.publishers.base import Publisher

GROUP = "scheduler.publishers"


@cache
def available() -> dict[str, str]:
    """Platform name -> 'module:Class', without importing any adapter."""
    return {ep.name: ep.value for ep in entry_points(group=GROUP)}


@cache
def publisher_class(platform: str) -> type[Publisher]:
    """The adapter class for `platform`. Cached like `available`: reading the
    installed packages' entry points cost about 24 ms a call, and the daemon
    builds an adapter per channel, so 1,000 channels spent 24 s of CPU here
    (profiled with cProfile, benchmarks/channels.py). An unknown name raises
    and is not cached."""
    for ep in entry_points(group=GROUP):
        if ep.name == platform:
            cls = ep.load()
            if not (isinstance(cls, type) and issubclass(cls, Publisher)):
                raise ConfigError(f"entry point {ep.value} is not a Publisher")
            return cls
    known = ", ".join(sorted(available())) or "none installed"
    raise ConfigError(f"unknown platform {platform!r} (known: {known})")
