"""The `feeds` group: add, list, remove and poll RSS/Atom feeds whose new
articles are ingested and planned for channels."""

from __future__ import annotations

from typing import Annotated

import typer

from scheduler.cli.common import JsonOpt, state
from scheduler.output import console, lit, print_json

app = typer.Typer(
    help="Feeds in: new articles of RSS/Atom feeds ingested and planned.", no_args_is_help=True
)

FeedArg = Annotated[str, typer.Argument(metavar="ID|URL", help="The feed's id or URL.")]


@app.command("add")
def feeds_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The feed's URL (RSS or Atom).")],
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="Plan new articles for this channel (repeat)."),
    ] = None,
    every: Annotated[str, typer.Option(help="Poll interval: 30s, 15m, 1h...")] = "15m",
    allow_private: Annotated[
        bool,
        typer.Option(
            "--allow-private", help="Let the feed and its articles be on non-public addresses."
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Add a feed; the daemon polls it and plans its new articles for the channels."""
    from scheduler.feeds import service
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        data = service.add_feed(
            session, url, channel or [], every=every, allow_private=allow_private
        )
    if json_out:
        print_json(data)
    else:
        console.print(
            f"feed {data['id']} added: {lit(data['url'])} for {lit(', '.join(data['channels']))},"
            f" every {_every(data['every_seconds'])}"
        )


@app.command("list")
def feeds_list(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """The feeds, with their last poll, last error, next poll and entries seen."""
    from sqlmodel import Session

    from scheduler.feeds import service

    with Session(state(ctx).engine()) as session:
        rows = service.list_feeds(session)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("no feeds (add one with `scheduler feeds add URL --channel NAME`)")
        return
    from rich.table import Table

    table = Table(
        "id", "url", "channels", "every", "last poll", "next poll", "entries", "last error"
    )
    for r in rows:
        last = _short(r["last_polled_at"]) or "never"
        if r["last_status"]:
            last += f" ({r['last_status']})"
        entries = str(r["entries_seen"])
        if r["entries_failed"]:
            entries += f" ({r['entries_failed']} failed)"
        table.add_row(
            str(r["id"]),
            lit(r["url"]),
            lit(", ".join(r["channels"])),
            _every(r["every_seconds"]),
            last,
            _short(r["next_poll_at"]),
            entries,
            lit(r["last_error"] or ""),
        )
    console.print(table)


def _short(iso: str | None) -> str:
    """An ISO time in UTC as "12-02 04:59" (the listing is narrow)."""
    return f"{iso[5:10]} {iso[11:16]}" if iso else ""


def _every(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s"


@app.command("remove")
def feeds_remove(ctx: typer.Context, feed: FeedArg, json_out: JsonOpt = False) -> None:
    """Stop polling a feed (its articles and posts stay)."""
    from scheduler.feeds import service
    from scheduler.storage import database

    with database.session_scope(state(ctx).engine()) as session:
        data = service.remove_feed(session, feed)
    if json_out:
        print_json(data)
    else:
        console.print(f"feed {data['id']} removed ({lit(data['url'])})")


@app.command("poll")
def feeds_poll(
    ctx: typer.Context,
    feed: Annotated[
        str | None, typer.Argument(metavar="[ID|URL]", help="One feed (default: all).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Poll now, once: one feed or all, due or not."""
    from scheduler.feeds import service

    current = state(ctx)
    rows = service.poll_now(current.engine(), current.settings, current.template_env, feed)
    if json_out:
        print_json(rows)
        return
    for r in rows:
        if r["error"]:
            console.print(f"feed {r['feed_id']} {lit(r['url'])}: [red]error[/] {lit(r['error'])}")
        elif r["status"] == 304:
            console.print(f"feed {r['feed_id']} {lit(r['url'])}: unchanged (304)")
        else:
            console.print(
                f"feed {r['feed_id']} {lit(r['url'])}: {r['new_entries']} new entries,"
                f" {r['articles']} articles ingested, {r['posts']} posts planned"
            )
        for err in r["entry_errors"]:
            console.print(f"  [yellow]entry not ingested:[/] {lit(err)}")
