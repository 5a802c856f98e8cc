"""Commands that show what will happen, changing nothing: `preview` (each post
as it will be sent), `simulate` (the daemon's timeline on a virtual clock) and
`explain` (why a post goes out when it does)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, complete_channel, state
from scheduler.output import console, lit, print_json, progress, styled_status


def preview(
    ctx: typer.Context,
    post_ids: Annotated[
        list[int] | None, typer.Argument(help="Posts to preview (default: queued).")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, help="At most this many when no ids are given.")
    ] = 50,
    channel: Annotated[
        str | None,
        typer.Option("--channel", "-c", help="Only this channel.", autocompletion=complete_channel),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(help="Only posts due by then: ISO 8601 (the channel's zone) or '+7d'."),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option("--html", metavar="FILE", help="Also write a self-contained HTML page."),
    ] = None,
    requests: Annotated[
        bool, typer.Option("--requests/--no-requests", help="Show the exact requests.")
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """Dry run: each post as it will appear (text, thread parts, counted length, link,
    hashtags), its local send time, its source, and the exact request."""
    from sqlmodel import Session

    from scheduler.previews.preview import preview_queue
    from scheduler.previews.terminal import print_previews

    with Session(state(ctx).engine()) as session:
        items = preview_queue(session, post_ids or [], limit=limit, channel=channel, until=until)
    written = None
    if html is not None:
        from scheduler.previews.html import write_page

        written = write_page(items, html)
    if json_out:
        print_json([i.as_dict() for i in items])
        return
    print_previews(items, show_requests=requests)
    if written is not None:
        console.print(f"wrote {written} ({len(items)} posts)", highlight=False)


def simulate(
    ctx: typer.Context,
    until: Annotated[str, typer.Option(help="Simulate up to this time: ISO 8601 or '+7d'.")],
    start: Annotated[
        str | None, typer.Option(help="Start the virtual clock here (default: now).")
    ] = None,
    recurring: Annotated[
        bool,
        typer.Option(
            "--recurring/--queued-only",
            help="Include evergreen and calendar posts not planned yet (default) or not.",
        ),
    ] = True,
    json_out: JsonOpt = False,
) -> None:
    """The timeline the daemon would follow from now, on a virtual clock; nothing is sent
    and nothing is written (recurring posts are planned in a transaction rolled back)."""
    from scheduler.previews.simulation import simulate as run_simulation
    from scheduler.previews.terminal import print_timeline
    from scheduler.when import parse_when

    current = state(ctx)
    first = parse_when(start) if start else None
    steps = run_simulation(
        current.engine(),
        current.settings,
        parse_when(until, now=first),
        start=first,
        env=current.template_env() if recurring else None,
        track=lambda moments: progress(moments, "simulating", enabled=not json_out),
    )
    if json_out:
        print_json([s.as_dict() for s in steps])
        return
    if not steps:
        console.print("nothing would go out in that time")
        return
    print_timeline(steps)
    counts: dict[str, int] = {}
    for step in steps:
        counts[step.outcome] = counts.get(step.outcome, 0) + 1
    new = sum(1 for s in steps if s.planned)
    console.print(
        f"{counts.get('dry-run', 0)} posts would go out"
        + "".join(f", {n} {k}" for k, n in sorted(counts.items()) if k != "dry-run")
        + (f" ({new} recurring, not queued yet: `scheduler plan --recurring`)" if new else "")
    )


def explain(
    ctx: typer.Context,
    post_id: Annotated[int, typer.Argument(help="Post id.")],
    json_out: JsonOpt = False,
) -> None:
    """Why a post goes out when it does (or why it will not)."""
    from sqlmodel import Session

    from scheduler.previews.explain import explain as explain_post

    current = state(ctx)
    with Session(current.engine()) as session:
        data = explain_post(session, post_id, current.settings)
    if json_out:
        print_json(data)
        return
    from rich.text import Text

    console.print(
        f"[bold]post {data['id']}[/] on {lit(data['channel'])}: {styled_status(data['status'])}, "
        f"due {data['due_local']}"
    )
    for line in data["explanation"]:
        console.print(Text("• " + line))
