"""Terminal rendering of previews and daemon events (Rich)."""

from __future__ import annotations

import json
from typing import Any

from rich.panel import Panel
from rich.syntax import Syntax
from rich.text import Text

from scheduler.dispatch import SendEvent
from scheduler.output import console, styled_status
from scheduler.preview import PostPreview


def length_line(item: PostPreview) -> str:
    parts = []
    for m in item.lengths:
        colour = "green" if m["ok"] else "bold red"
        parts.append(f"[{colour}]{m['count']}/{m['limit']} {m['unit']}[/]")
    line = ", ".join(parts)
    if item.over_limit:
        line += "  [bold red]OVER THE LIMIT[/]"
    return line


def print_previews(items: list[PostPreview]) -> None:
    if not items:
        console.print("nothing queued to preview")
        return
    for item in items:
        body = Text(item.text)
        title = (
            f"post {item.id} · {item.channel} ({item.platform}) · {item.due_local} · "
            f"{styled_status(item.status)}"
        )
        console.print(Panel(body, title=title, title_align="left", expand=False))
        if item.lengths:
            console.print(f"  length: {length_line(item)}")
        if item.source:
            src = item.source
            tick = "verbatim" if src.get("verbatim") else "[red]NOT verbatim[/]"
            console.print(
                f"  source: article {src['article_id']} chars {src['start']}-{src['end']} ({tick})",
            )
        if item.error:
            console.print(f"  [red]error:[/] {item.error}")
        for request in item.requests:
            console.print(
                Syntax(json.dumps(request, ensure_ascii=False, indent=2), "json", word_wrap=True)
            )


def event_dict(event: SendEvent) -> dict[str, Any]:
    return {
        "post_id": event.post_id,
        "channel": event.channel,
        "status": event.status,
        "due_at": event.due_at.isoformat(),
        "at": event.at.isoformat(),
        "lateness_s": round(event.lateness, 3),
        "text": event.text,
        "error": event.error,
        "remote_id": event.remote_id,
        "requests": event.requests,
    }


def print_event(event: SendEvent, show_request: bool = True) -> None:
    first = event.text.splitlines()[0][:60] if event.text else ""
    when = event.due_at.strftime("%Y-%m-%d %H:%M UTC")
    line = f"{when}  post {event.post_id:<5} {event.channel:<12} {styled_status(event.status)}  {first}"
    console.print(line, markup=True, highlight=False)
    if event.error:
        console.print(f"    [red]{event.error}[/]")
    if show_request:
        for request in event.requests:
            target = f"{request['method']} {request['url']}"
            console.print(f"    [dim]{target}[/]", highlight=False)
