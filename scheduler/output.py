"""Printing: Rich for people, plain JSON for scripts (`--json` prints only JSON)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape as lit

__all__ = [
    "console",
    "err_console",
    "error",
    "lit",
    "print_json",
    "progress",
    "styled_status",
    "warn",
]

T = TypeVar("T")

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
    # The message is printed literally: file names and channel names may hold
    # square brackets ("notes[final].txt"), which must not be read as markup.
    err_console.print(f"[bold red]error:[/] {lit(first)}", markup=True, soft_wrap=True)


def warn(message: str) -> None:
    """One warning line on stderr (printed literally); the command goes on."""
    first = " ".join(str(message).split())
    err_console.print(f"[yellow]warning:[/] {lit(first)}", markup=True, soft_wrap=True)


STATUS_STYLE = {
    "queued": "cyan",
    "sending": "yellow",
    "sent": "green",
    "failed": "red",
    "unknown": "magenta",
    "missed": "red",
    "cancelled": "dim",
    "draft": "dim",
    "rejected": "dim",
    "dry-run": "blue",
    "retry": "yellow",
    "held": "yellow",
}


def styled_status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


_QUOTE_OPENERS = ("“", '"', "«", "„")


def gist(text: str | None) -> str:
    """The line a list shows for a post: its quote's first line when the post
    leads with the headline (every quote post of an article has the same
    first line), else its first line."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    for line in lines[:3]:
        if line.lstrip().startswith(_QUOTE_OPENERS):
            return line.strip()
    return lines[0].strip() if lines else ""


def progress(items: Sequence[T], label: str, *, enabled: bool = True) -> Iterator[T]:
    """Iterate with a progress bar for long work (more than one item, a terminal, not
    --json); otherwise iterate silently, so pipes and JSON stay clean. The bar lives
    on stdout when that is the terminal (lines printed meanwhile appear above it),
    else on stderr (stdout is then a pipe or file and gets only the lines)."""
    target = console if console.is_terminal else err_console
    if not enabled or len(items) < 2 or not target.is_terminal:
        yield from items
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=target,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=len(items))
        for item in items:
            yield item
            bar.advance(task)


@contextmanager
def counting(total: int, label: str, *, enabled: bool = True) -> Iterator[Callable[[], None]]:
    """A progress bar for work counted as it happens (a daemon catching up on
    due posts); yields the function that advances it. Silent where `progress`
    is silent."""
    target = console if console.is_terminal else err_console
    if not enabled or total < 2 or not target.is_terminal:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=target,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


class _JsonLines:
    """A logging formatter writing one JSON object a line, for supervisors."""

    def format(self, record: Any) -> str:
        data = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            import traceback

            data["exception"] = "".join(traceback.format_exception(*record.exc_info)).strip()
        return json.dumps(data, ensure_ascii=False)


LOG_LEVELS = ("debug", "info", "warning", "error")


def configure_logging(level: str = "info", fmt: str = "text") -> Any:
    """The daemon's logging on stderr; returns the scheduler's logger. Chatter
    from libraries is kept at warnings: httpx's line per request repeats each
    send's own line (with URLs that may carry tokens), APScheduler's says every
    30 s that a job ran."""
    import logging

    from scheduler.errors import ConfigError

    if level.lower() not in LOG_LEVELS:
        raise ConfigError(f"bad --log-level {level!r}: use one of {', '.join(LOG_LEVELS)}")
    if fmt not in ("text", "json"):
        raise ConfigError(f"bad --log-format {fmt!r}: use text or json")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonLines())  # type: ignore[arg-type]
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    return logging.getLogger("scheduler")
