"""The `daemon` command: publish posts as they fall due, or (--once) what is due
now; --dry-run builds every request and sends nothing. `status` is the health
check a supervisor or a container HEALTHCHECK calls."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from scheduler.cli.common import JsonOpt, state
from scheduler.output import console, print_json

LogLevel = Annotated[
    str,
    typer.Option("--log-level", help="debug, info, warning or error.", case_sensitive=False),
]
LogFormat = Annotated[
    str,
    typer.Option("--log-format", help="text, or json: one JSON object a line (for a supervisor)."),
]


def daemon(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build every request, send nothing.")
    ] = False,
    once: Annotated[
        bool, typer.Option("--once", help="Publish what is due now, then exit.")
    ] = False,
    log_level: LogLevel = "info",
    log_format: LogFormat = "text",
    json_out: JsonOpt = False,
) -> None:
    """Publish posts as they fall due (stop with Ctrl-C or SIGTERM)."""
    import asyncio
    import gc

    from scheduler.delivery.daemon import Daemon, wait_for_database
    from scheduler.output import configure_logging
    from scheduler.previews.terminal import print_event

    log = configure_logging(log_level, log_format)
    current = state(ctx)
    engine = current.engine(require_schema=False)
    # A daemon started before its database (PostgreSQL still starting, a full
    # disk) waits for it, saying so, instead of exiting.
    wait_for_database(engine, say=log.warning)
    # Only --once --json prints the events at the end; a long-running daemon
    # keeps nothing per post once it is printed.
    events: list[Any] | None = [] if once and json_out else None
    advance: Any = None

    def on_event(event: Any) -> None:
        if events is not None:
            events.append(event)
        if not json_out:
            print_event(event)
        if advance is not None:
            advance()

    runner = Daemon(engine, current.settings, dry_run=dry_run, on_event=on_event)
    # What start-up made (modules, classes, the engine, the adapters) lives as
    # long as the process: out of the collector's reach, a full collection
    # walks the objects the sends make, not the 100,000 start-up ones again.
    gc.freeze()
    if once:
        import datetime as dt

        from sqlmodel import Session

        from scheduler.delivery import claims
        from scheduler.output import counting

        with Session(engine) as session:
            due = claims.count_due(session, dt.datetime.now(dt.UTC))
        with counting(due, "catching up", enabled=not json_out) as advance:
            shown = asyncio.run(runner.run_once())
        if events is not None:
            print_json([e.as_dict() for e in events])
        elif not shown:
            console.print("nothing due")
        return
    console.print(f"daemon running{' (dry run)' if dry_run else ''}; Ctrl-C to stop", style="dim")
    asyncio.run(runner.run_forever())


def status(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Exit 0 when the database answers with the current schema (a health check);
    prints the queue's counts by status and the next post due."""
    from scheduler.storage import database

    data = database.status(state(ctx).engine())
    if json_out:
        print_json(data)
        return
    counts = ", ".join(f"{n} {s}" for s, n in sorted(data["posts"].items())) or "no posts"
    console.print(f"database {data['database']} ok (revision {data['revision']}): {counts}")
    if data["next_due"]:
        console.print(f"next post due {data['next_due']}")
