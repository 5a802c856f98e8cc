"""What happened to one post in a pass: the event the terminal, `--json`
output, `simulate` and tests read. Nothing here touches the database."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SendEvent:
    """One post's fate in a pass."""

    post_id: int
    channel: str
    status: str  # sent | retry | failed | unknown | missed | dry-run
    due_at: dt.datetime
    at: dt.datetime
    text: str = ""
    error: str | None = None
    remote_id: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lateness(self) -> float:
        return (self.at - self.due_at).total_seconds()

    def as_dict(self) -> dict[str, Any]:
        """The event as `--json` prints it."""
        return {
            "post_id": self.post_id,
            "channel": self.channel,
            "status": self.status,
            "due_at": self.due_at.isoformat(),
            "at": self.at.isoformat(),
            "lateness_s": round(self.lateness, 3),
            "text": self.text,
            "error": self.error,
            "remote_id": self.remote_id,
            "requests": self.requests,
        }
