"""Printing: Rich for people, plain JSON for scripts (`--json` prints only JSON)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _default(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def error(message: str) -> None:
    """One line on stderr, nothing else."""
    first = " ".join(str(message).split()) or "unknown error"
    err_console.print(f"[bold red]error:[/] {first}", markup=True, soft_wrap=True)


STATUS_STYLE = {
    "queued": "cyan",
    "sending": "yellow",
    "sent": "green",
    "failed": "red",
    "unknown": "magenta",
    "missed": "red",
    "cancelled": "dim",
    "draft": "dim",
    "dry-run": "blue",
    "retry": "yellow",
}


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"
