"""Terminal rendering of previews, daemon events and the simulated timeline (Rich).

Colour is never the only signal: every warning also has a word (OVER THE LIMIT,
EXPIRED), so output read with NO_COLOR (which Rich honours) or piped into a file
says the same thing.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from rich.text import Text

from scheduler.delivery.events import SendEvent
from scheduler.output import console, gist, lit, styled_status

if TYPE_CHECKING:
    # Annotations only: importing preview pulls in ingest (trafilatura, lxml),
    # about 0.4 s that `scheduler daemon` would pay at every start.
    from scheduler.previews.preview import PostPreview
    from scheduler.previews.simulation import Step


def length_line(item: PostPreview) -> str:
    parts = []
    for m in item.lengths:
        colour = "green" if m["ok"] else "bold red"
        parts.append(f"[{colour}]{m['count']}/{m['limit']} {m['unit']}[/]")
    line = ", ".join(parts)
    if item.over_limit:
        over = max(m["count"] - m["limit"] for m in item.lengths)
        line += f"  [bold red]OVER THE LIMIT by {over}[/]"
    return line


def print_previews(items: list[PostPreview], *, show_requests: bool = True) -> None:
    if not items:
        console.print("nothing queued to preview")
        return
    # Here, not at the top: the daemon imports this module for its line per
    # post, and Rich's syntax pulls in Pygments (about 10 ms at every start).
    from rich.panel import Panel
    from rich.syntax import Syntax

    for item in items:
        if len(item.parts) > 1:
            body = Text()
            for i, part in enumerate(item.parts, 1):
                body.append(f"[{i}/{len(item.parts)}] ", style="dim")
                body.append(part + ("\n" if i < len(item.parts) else ""))
        else:
            body = Text(item.text)
        title = (
            f"post {item.id} · {lit(item.channel)} ({item.platform}) · {item.due_local} · "
            f"{styled_status(item.status)}"
        )
        console.print(Panel(body, title=title, title_align="left", expand=False))
        if item.lengths:
            console.print(f"  length: {length_line(item)}")
        if len(item.parts) > 1:
            console.print(f"  thread: {len(item.parts)} parts")
        if item.hashtags:
            console.print(f"  hashtags: {' '.join(item.hashtags)}", markup=False)
        for m in item.media:
            shape = f"{m['width']}x{m['height']}, " if m["width"] else ""
            console.print(
                f"  media: {m['path']} ({m['mime']}, {shape}{m['size']} bytes)", markup=False
            )
            console.print(Text(f"    alt: {m['alt'] or '(none)'}", style="dim"))
        if item.link:
            console.print(f"  link card: {item.link}", markup=False)
        if item.expires_local:
            flag = "  [bold red]EXPIRED: will not be sent[/]" if item.expired else ""
            console.print(f"  expires: {item.expires_local}{flag}")
        if item.source:
            src = item.source
            tick = "verbatim" if src.get("verbatim") else "[red]NOT verbatim[/]"
            who = f" ({lit(src['speaker'])})" if src.get("speaker") else ""
            console.print(
                f"  source: article {src['article_id']} {lit(src.get('article') or '')}, "
                f"chars {src['start']}-{src['end']}{who}, {tick}",
            )
            console.print(Text(f"    “{src['sentence']}”", style="dim"))
        if item.reason:
            console.print(Text(f"  why: {item.reason}", style="dim"))
        if item.error:
            console.print(f"  [red]error:[/] {lit(item.error)}")
        if show_requests:
            for request in item.requests:
                console.print(
                    Syntax(
                        json.dumps(request, ensure_ascii=False, indent=2),
                        "json",
                        word_wrap=True,
                        theme="ansi_dark",
                    )
                )


#: (stdout, whether it is a terminal) as last looked at: Rich works the answer
#: out again (isatty, several environment variables) at every call, a fifth of
#: a daemon's line per post. The file is held, so `is` cannot match a new one.
_last_file: tuple[object, bool] = (None, False)


def _to_terminal() -> bool:
    global _last_file
    out = console.file
    if _last_file[0] is not out:
        _last_file = (out, console.is_terminal)
    return _last_file[1]


def print_event(event: SendEvent, show_request: bool = True) -> None:
    first = gist(event.text)[:60]
    d = event.due_at
    # As strftime("%Y-%m-%d %H:%M UTC"), at a fifth of its cost.
    when = f"{d.year:04d}-{d.month:02d}-{d.day:02d} {d.hour:02d}:{d.minute:02d} UTC"
    if not _to_terminal():
        # A daemon's output is mostly a log file or a journal: plain lines, one
        # write per post, unwrapped, without Rich's layout work (which cost more
        # CPU than the send itself at thousands of posts).
        lines = [f"{when}  post {event.post_id:<5} {event.channel:<12} {event.status}  {first}"]
        if event.error:
            lines.append(f"    {event.error}")
        if show_request:
            lines.extend(f"    {r['method']} {r['url']}" for r in event.requests)
        out = console.file
        out.write("\n".join(lines) + "\n")
        out.flush()  # as Rich does: a daemon's log keeps up even under kill -9
        return
    line = Text.from_markup(
        f"{when}  post {event.post_id:<5} {lit(f'{event.channel:<12}')} {styled_status(event.status)}  "
    )
    line.append(first)
    console.print(line, highlight=False)
    if event.error:
        console.print(Text(f"    {event.error}", style="red"))
    if show_request:
        for request in event.requests:
            target = f"{request['method']} {request['url']}"
            console.print(Text(f"    {target}", style="dim"), highlight=False)


def print_timeline(steps: list[Step]) -> None:
    """The simulated timeline as a table, one row per post, grouped by local day."""
    if not console.is_terminal:
        # Piped or to a file: plain lines, one a post under a line a day, in one
        # write. Rich's table lays out every cell of every row (its widths, the
        # ellipsis), which cost more than the simulation itself at 10,000 posts.
        lines = []
        day = None
        for step in steps:
            if step.day_local != day:
                day = step.day_local
                lines.append(f"-- {day}")
            outcome = "EXPIRED (not sent)" if step.outcome == "expired" else step.outcome
            first = gist(step.event.text)
            lines.append(
                f"{step.when_local}  post {step.post_id}{' (new)' if step.planned else ''}"
                f"  {step.channel}  {step.what}  {outcome}  {first}"
            )
        console.file.write("\n".join(lines) + "\n")
        console.file.flush()
        return
    from rich.table import Table

    table = Table(expand=True)
    table.add_column("when (channel time)", no_wrap=True)
    for name in ("post", "channel", "what", "outcome"):
        table.add_column(name)
    # One line per post: the timeline is for scanning; `preview ID` shows it all.
    table.add_column("text", ratio=1, no_wrap=True, overflow="ellipsis")
    day = None
    for step in steps:
        if step.day_local != day:
            if day is not None:
                table.add_section()
            day = step.day_local
        outcome = styled_status(step.outcome)
        if step.outcome == "expired":
            outcome = "[bold red]EXPIRED[/] (not sent)"
        table.add_row(
            step.when_local,
            f"{step.post_id}{' (new)' if step.planned else ''}",
            Text(step.channel),
            step.what,
            outcome,
            Text(gist(step.event.text)),
        )
    console.print(table)
