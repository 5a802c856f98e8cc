"""The `daemon` command: publish posts as they fall due, or (--once) what is due
now; --dry-run builds every request and sends nothing."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from scheduler.cli.common import JsonOpt, state
from scheduler.output import console, print_json


def daemon(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every request, send nothing.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Publish what is due now, then exit.")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Publish posts as they fall due (stop with Ctrl-C or SIGTERM)."""
    import asyncio
    import logging

    from scheduler.delivery.daemon import Daemon
    from scheduler.previews.terminal import print_event

    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # Each send already prints its own line; httpx's INFO line per request
    # repeats it with the URL (where some platforms carry a token).
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    current = state(ctx)
    events: list[Any] = []

    advance: Any = None

    def on_event(event: Any) -> None:
        events.append(event)
        if not json_out:
            print_event(event)
        if advance is not None:
            advance()

    runner = Daemon(current.engine(), current.settings, dry_run=dry_run, on_event=on_event)
    if once:
        import datetime as dt

        from sqlmodel import Session

        from scheduler.delivery import claims
        from scheduler.output import counting

        with Session(current.engine()) as session:
            due = claims.count_due(session, dt.datetime.now(dt.UTC))
        with counting(due, "catching up", enabled=not json_out) as advance:
            asyncio.run(runner.run_once())
        if json_out:
            print_json([e.as_dict() for e in events])
        elif not events:
            console.print("nothing due")
        return
    console.print(f"daemon running{' (dry run)' if dry_run else ''}; Ctrl-C to stop", style="dim")
    asyncio.run(runner.run_forever())
