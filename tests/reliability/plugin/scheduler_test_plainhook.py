"""A webhook adapter for a platform that does NOT dedupe resends (the test
suite's stand-in for platforms without idempotency keys). Registered through
the real `scheduler.publishers` entry-point group by the dist-info folder next
to it, when this folder is on the daemon's PYTHONPATH."""

from __future__ import annotations

from typing import ClassVar

from scheduler.publishers.webhook import WebhookPublisher


class PlainHookPublisher(WebhookPublisher):
    platform: ClassVar[str] = "plainhook"
    idempotent: ClassVar[bool] = False
